"""What the local target handles differently from the spec (W702 notes, at the spec line)."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.targets.base import note

NAME = "local"


def unsupported(project: ir.Project) -> list[Diagnostic]:
    found = []
    if project.training and (project.training.resources.gpu_count or project.training.spot):
        found.append(note(NAME, project.training.resources.span,
                          "GPU and spot settings are ignored; training runs on this machine's CPU"))
    if project.llm and project.llm.fine_tune:
        found.append(note(NAME, project.llm.fine_tune.span,
                          "LLM fine-tuning runs only with the GPU resources it asks for; "
                          "the local runner stops at this step on a machine without them"))
    if project.deployment and project.deployment.serving.autoscaling.max_replicas > 1:
        found.append(note(NAME, project.deployment.serving.autoscaling.span,
                          "autoscaling is ignored; one server runs per environment"))
    return found
