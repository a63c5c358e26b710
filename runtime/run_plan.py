"""The compiled local plan (`plan.json`, what `mlopsc compile --target local` writes) as `mlopsc
run` executes it: each step's contract argv, with its `{{params.P}}` and
`{{steps.S.outputs.O}}` references resolved and its outputs sent to the step's staging folder.

The plan is built in memory from the same compile a user gets; `compile_local_plan` is the one
place that knows how.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from mlopsc.contract import StepCall, parse_argv
from mlopsc.diagnostics import Diagnostic

PLAN_TARGET = "local"  # the target whose compiled plan.json `mlopsc run` executes
PARAM_REF = re.compile(r"\{\{params\.([^}]+)\}\}")
STEP_REF = re.compile(r"\{\{steps\.([^.}]+)\.outputs\.([^}]+)\}\}")


def compile_local_plan(spec: str, project=None) -> tuple[dict | None, list[Diagnostic]]:
    """`plan.json` of the spec's local compile (None when the compile has errors), and its
    diagnostics; `project`: the spec's IR when the caller loaded it already."""
    from mlopsc.api import compile_spec

    result = compile_spec(spec, [PLAN_TARGET], project)
    bundle = result.bundles.get(PLAN_TARGET)
    if not result.ok or bundle is None:
        return None, result.diagnostics
    return json.loads(bundle["plan.json"]), result.diagnostics


def step_ref(value: str) -> tuple[str, str] | None:
    """(step, output) of a `{{steps.S.outputs.O}}` reference; None for anything else."""
    m = STEP_REF.fullmatch(value)
    return (m.group(1), m.group(2)) if m else None


def param_ref(value: str) -> str | None:
    """P of a `{{params.P}}` reference; None for anything else."""
    m = PARAM_REF.fullmatch(value)
    return m.group(1) if m else None


@dataclass(frozen=True)
class LocalPlan:
    """Each step's parsed contract call, by (pipeline, step)."""

    calls: dict[tuple[str, str], StepCall]

    @classmethod
    def from_json(cls, plan: dict) -> LocalPlan:
        calls = {}
        for pipeline, body in plan["pipelines"].items():
            for step in body["steps"]:
                calls[(pipeline, step["name"])] = parse_argv(step["command"])
        return cls(calls)

    def call(self, pipeline: str, step: str) -> StepCall:
        try:
            return self.calls[(pipeline, step)]
        except KeyError:
            raise KeyError(f"the compiled local plan has no step {pipeline}/{step}") from None


# An input as the runner sees it: ("param", value) or ("artifact", path).
Resolved = tuple[str, str]


def resolve_inputs(call: StepCall, params: dict[str, str],
                   step_output: Callable[[str, str], Resolved]) -> dict[str, Resolved]:
    """The call's inputs with their references resolved: a parameter's value, a producer's
    output (`step_output(step, output)`), or the literal the plan holds."""
    out: dict[str, Resolved] = {}
    for name, ref in call.inputs:
        producer = step_ref(ref)
        param = param_ref(ref)
        if producer is not None:
            out[name] = step_output(*producer)
        elif param is not None:
            out[name] = ("param", params.get(param, ""))
        else:
            out[name] = ("param", ref)
    return out


def process_argv(call: StepCall, *, spec: Path, inputs: dict[str, Resolved], staging: Path) -> list[str]:
    """The argv that runs `call` on this machine: `mlopsc` as this interpreter's module, the spec
    by absolute path (steps run in the work directory), resolved inputs, outputs into `staging`."""
    resolved = replace(
        call, spec=str(spec),
        inputs=tuple((name, inputs[name][1]) for name, _ in call.inputs),
        outputs=tuple((name, str(staging / name)) for name, _ in call.outputs),
    )
    argv = resolved.argv()
    assert argv[0] == "mlopsc"
    return [sys.executable, "-m", "mlopsc", *argv[1:]]
