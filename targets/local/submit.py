"""`mlopsc submit --target local`: there is no platform to submit to; `mlopsc run` runs the plan."""

from __future__ import annotations

from typing import Any

from mlopsc import ir
from mlopsc.targets.base import SubmitNotSupported


def submit(project: ir.Project, compiled_files: dict[str, str], **options: Any) -> list[dict[str, str]]:
    raise SubmitNotSupported(f"target `local` has nothing to submit to: run the pipelines on this machine "
                             f"with `mlopsc run {project.spec_path}`")
