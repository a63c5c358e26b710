"""What the local target handles differently from the spec (W702 notes, at the spec line)."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.targets import llm_serving
from mlopsc.targets.base import note

NAME = "local"


def unsupported(project: ir.Project) -> list[Diagnostic]:
    found = []
    if project.training and (project.training.resources.gpu_count or project.training.spot):
        found.append(note(NAME, project.training.resources.span,
                          "GPU and spot settings are ignored; training runs on this machine's CPU"))
    ft = project.llm.fine_tune if project.llm else None
    if ft and ft.method == "qlora":
        found += llm_serving.qlora_gpu(NAME, project, local=True)
    elif ft and (ft.resources.gpu_count or ft.spot):
        found.append(note(NAME, ft.resources.span, "GPU and spot settings are ignored; the fine-tune runs on "
                                                   "this machine (CUDA when it has it, else the CPU)"))
    if project.deployment and project.deployment.serving.autoscaling.max_replicas > 1:
        found.append(note(NAME, project.deployment.serving.autoscaling.span,
                          "autoscaling is ignored; one server runs per environment"))
    return found
