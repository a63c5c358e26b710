"""`mlopsc step <action>`: parse the step contract into a `StepContext`, run it, publish outputs.

Exit codes: 0 done; 1 the step failed (bad data, failed gate, rollback: one clear message on
stderr, no traceback); 2 a usage error (unknown action, bad reference); 130 interrupted.
The work directory (where `.mlopsc/` lives and relative outputs go) is `MLOPSC_WORKDIR`, else
the current directory. Spec-relative paths (data URIs, `train.py:train`) resolve against the
spec's directory.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def argv_from_env() -> list[str] | None:
    """A SageMaker tuning job's step argv (`MLOPSC_STEP_ARGV`, JSON, starting `mlopsc step`)."""
    raw = os.environ.get("MLOPSC_STEP_ARGV")
    if not raw:
        return None
    argv = json.loads(raw)
    while argv and argv[0] in ("mlopsc", "step"):
        argv = argv[1:]
    return argv


def execute(action: str, spec: str, args: list[str], inputs: list[str], outputs: list[str],
            executor_output: str | None = None, kinds: dict[str, str] | None = None,
            log=None, err=None) -> int:
    err = err or (lambda m: print(m, file=sys.stderr, flush=True))
    log = log or (lambda m: print(m, flush=True))
    from mlopsc.api import load_project
    from mlopsc.diagnostics import SpecError, render
    from mlopsc.runtime import stepio
    from mlopsc.runtime.steps import ACTIONS, LAZY_ACTIONS, StepContext, StepFailed, run_step

    if action not in ACTIONS and action not in LAZY_ACTIONS:
        err(f"error: unknown step action {action!r}; known: {', '.join(sorted({*ACTIONS, *LAZY_ACTIONS}))}")
        return EXIT_USAGE
    try:
        arg_map = {k: stepio.resolve_value(v) for k, v in stepio.parse_pairs(args, "--arg").items()}
        input_map = stepio.resolve_inputs(stepio.parse_pairs(inputs, "--input"))
        output_map = stepio.parse_pairs(outputs, "--output")
    except stepio.RefError as e:
        err(f"error: {e}")
        return EXIT_USAGE
    if not os.path.isfile(spec):
        err(f"error: spec {spec} does not exist")
        return EXIT_USAGE
    try:
        project = load_project(spec)
    except SpecError as e:
        err(render(e.diagnostics, "text").rstrip())
        return EXIT_FAILED
    step_kinds = dict(kinds or {})
    if not step_kinds:
        step_kinds = _port_kinds(project, action, set(output_map))
    from mlopsc.runtime.runner import terminate_as_interrupt

    if executor_output and not os.environ.get("MLOPSC_TARGET"):
        os.environ["MLOPSC_TARGET"] = "kubeflow"  # KFP (Kubeflow, Vertex) passes --executor-output

    terminate_as_interrupt()
    plan = stepio.OutputPlan(output_map, step_kinds, executor_output)
    workdir = Path(os.environ.get("MLOPSC_WORKDIR") or os.getcwd())
    ctx = StepContext(project=project, spec_dir=Path(spec).resolve().parent, args=arg_map, inputs=input_map,
                      outputs=plan.action_paths(), workdir=workdir, log=log)
    try:
        run_step(action, ctx)
        plan.publish()
    except StepFailed as e:
        err(f"error: step {action} failed: {e}")
        return EXIT_FAILED
    except stepio.RefError as e:
        err(f"error: {e}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        err(f"interrupted: step {action} stopped")
        return EXIT_INTERRUPTED
    finally:
        plan.cleanup()
    return EXIT_OK


def _port_kinds(project, action: str, names: set[str]) -> dict[str, str]:
    """Output kinds from the IR step with this action (same action in every pipeline agrees)."""
    for pipeline in project.pipelines:
        for step in pipeline.steps:
            if step.action == action and names <= {o.name for o in step.outputs}:
                return {o.name: o.kind for o in step.outputs}
    return {}
