"""plan.json: the local runner's ordered steps, with the same `mlopsc step` contract as the clouds."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.contract import step_argv
from mlopsc.targets.base import spec_ref

from .paths import input_ref, output_path

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any


def local_plan(project: ir.Project) -> dict[str, Any]:
    return {
        "project": project.name,
        "labels": dict(project.labels),  # `mlopsc run` tags each step's MLflow run with them
        "spec": project.spec_path,
        "spec_sha256": project.spec_hash,
        "pipelines": {p.name: _pipeline(project, p) for p in project.pipelines},
    }


def _pipeline(project: ir.Project, pipeline: ir.Pipeline) -> dict[str, Any]:
    return {
        "params": {p.name: p.default for p in pipeline.params},
        "schedule": pipeline.schedule,
        "steps": [_step(project, pipeline, s) for s in pipeline.steps],
        "on_failure": _step(project, pipeline, pipeline.on_failure) if pipeline.on_failure else None,
    }


def _step(project: ir.Project, pipeline: ir.Pipeline, step: ir.Step) -> dict[str, Any]:
    command = step_argv(
        step, spec=spec_ref(project, in_image=False), target="local", pipeline=pipeline.name,
        input_ref=lambda i: input_ref(pipeline.name, i.source),
        output_ref=lambda o: output_path(pipeline.name, step.name, o.name),
    )
    return {
        "name": step.name,
        "action": step.action,
        "kind": step.kind,
        "after": list(step.upstream()),
        "when": {"step": step.when.step, "output": step.when.output, "op": step.when.op,
                 "value": step.when.value} if step.when else None,
        "cache": step.cache,
        "retries": step.retries,
        "command": command,
    }
