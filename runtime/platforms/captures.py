"""Where each platform's serving path stores captured traffic (the table in `runtime/captures.py`):
the location a target compiles its capture to, so the monitor reads what serving wrote."""

from __future__ import annotations

import os
from pathlib import Path

from mlopsc import ir


def location(project: ir.Project, target: str, environment: str, root: Path) -> str:
    """Where `target` stores the captured traffic of `environment`; `MLOPSC_CAPTURE_URI`
    overrides the cloud locations."""
    if target == "local":
        return str(Path(root) / ".mlopsc" / "captures" / environment)
    if os.environ.get("MLOPSC_CAPTURE_URI"):
        return os.environ["MLOPSC_CAPTURE_URI"].rstrip("/")
    if target == "sagemaker":  # the endpoint's DataCaptureConfig DestinationS3Uri
        from mlopsc.targets.sagemaker.settings import settings

        return settings(project).s3(project.name, "data-capture", environment)
    if target == "vertex":  # where the request-response logging table is exported
        from mlopsc.targets.vertex.settings import settings

        return "/".join([settings(project).pipeline_root.rstrip("/"), "captures", project.name, environment])
    from mlopsc.targets.kubeflow.collector import capture_uri  # the logger collector's --out

    return capture_uri(project, environment)


__all__ = ["location"]
