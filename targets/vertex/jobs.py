"""Per-pipeline job runtime config and Vertex `Schedule` request bodies.

`jobs/<pipeline>.runtime-config.json` holds what `aiplatform.PipelineJob(...)` takes besides the
template: `pipeline_root` (`targets.vertex.pipeline_root`), `parameter_values` (the parameters'
defaults; `mlopsc submit` passes them as they are), `labels` (the spec's labels plus mlopsc's, in
GCP label form), `enable_caching` (`null`: every task keeps the caching compiled into it, so
register, deploy and monitor steps are never served from cache; `true`/`false` would override all
tasks), `failure_policy` and the service account from `targets.vertex.service_account`.

`schedules/<pipeline>.schedule.json` is the body of `POST .../locations/<region>/schedules`
(`aiplatform.PipelineJobSchedule.create` sends the same): the cron, at most one run at a time,
and a `createPipelineJobRequest` with the pipeline inlined, as the SDK inlines it.
"""

from __future__ import annotations

import re

from mlopsc import ir
from mlopsc.cron import fields as cron_fields
from mlopsc.targets.kfp_ir import Compiled

from .settings import settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

_LABEL = re.compile(r"[^a-z0-9_-]")


def _label(text: str) -> str:
    return _LABEL.sub("-", str(text).lower())[:63]


def gcp_labels(project: ir.Project, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The spec's labels plus mlopsc's, as GCP labels (lowercase, [a-z0-9_-], at most 63 chars)."""
    found = {_label(k): _label(v) for k, v in project.labels}
    found.update({"mlopsc-project": _label(project.name), **{_label(k): _label(v) for k, v in (extra or {}).items()}})
    return dict(sorted(found.items()))


def runtime_config(project: ir.Project, pipeline: ir.Pipeline, compiled: Compiled) -> dict[str, Any]:
    s = settings(project)
    config: dict[str, Any] = {
        "display_name": compiled.name,
        "enable_caching": None,
        "failure_policy": "fast",
        "labels": gcp_labels(project, {"mlopsc-pipeline": pipeline.name}),
        "location": s.region,
        "parameter_values": {p.name: p.default for p in pipeline.params},
        "pipeline_root": s.pipeline_root,
        "project": s.project,
        "template_path": f"pipelines/{pipeline.name}.yaml",
    }
    if s.service_account:
        config["service_account"] = s.service_account
    return config


def schedule_body(project: ir.Project, pipeline: ir.Pipeline, compiled: Compiled) -> dict[str, Any]:
    config = runtime_config(project, pipeline, compiled)
    job: dict[str, Any] = {
        "displayName": compiled.name,
        "labels": config["labels"],
        "pipelineSpec": compiled.spec,
        "runtimeConfig": {"failurePolicy": "PIPELINE_FAILURE_POLICY_FAIL_FAST",
                          "gcsOutputDirectory": config["pipeline_root"],
                          "parameterValues": config["parameter_values"]},
    }
    if config.get("service_account"):
        job["serviceAccount"] = config["service_account"]
    parent = f"projects/{config['project']}/locations/{config['location']}"
    return {
        "createPipelineJobRequest": {"parent": parent, "pipelineJob": job},
        "cron": " ".join(cron_fields(pipeline.schedule or "")),
        "displayName": f"{compiled.name}-schedule",
        "maxConcurrentRunCount": "1",
    }
