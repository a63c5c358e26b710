"""`mlopsc step <action>`: turn a parsed step call (`mlopsc.contract.StepCall`) into a
`StepContext`, run the action the contract names, publish outputs.

Exit codes: 0 done; 1 the step failed (bad data, failed gate, rollback: one clear message on
stderr, no traceback); 2 a usage error (unknown action, bad reference); 130 interrupted.
The work directory (where `.mlopsc/` lives and relative outputs go) is `MLOPSC_WORKDIR`, else
the current directory. Spec-relative paths (data URIs, `train.py:train`) resolve against the
spec's directory. The platform the step runs on is the call's `--target`, nothing else.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mlopsc.contract import ACTIONS, ENV_INPUT_PREFIX, TARGETS, StepCall

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
            executor_output: str | None = None, target: str = "local", log=None, err=None) -> int:
    """The same as `run_call`, from `KEY=VALUE` strings (tests and the benchmark call it)."""
    from mlopsc.contract import ContractError, parse_pair

    err = err or _stderr
    try:
        call = StepCall(action=action, spec=spec, target=target,
                        args=tuple(parse_pair("--arg", a) for a in args),
                        inputs=tuple(parse_pair("--input", i) for i in inputs),
                        outputs=tuple(parse_pair("--output", o) for o in outputs),
                        executor_output=executor_output)
    except ContractError as e:
        err(f"error: {e}")
        return EXIT_USAGE
    return run_call(call, log=log, err=err)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _usage_problem(call: StepCall) -> str | None:
    if call.action not in ACTIONS:
        return f"unknown step action {call.action!r}; known: {', '.join(sorted(ACTIONS))}"
    if call.target not in TARGETS:
        return f"unknown target {call.target!r}; known: {', '.join(TARGETS)}"
    if not os.path.isfile(call.spec):
        return f"spec {call.spec} does not exist"
    return None


def port_kinds(call: StepCall) -> dict[str, str]:
    """Each output's kind, from the contract's ports for the action (never guessed)."""
    act = ACTIONS[call.action]
    return {name: port.kind for name, _ in call.outputs if (port := act.output(name)) is not None}


def apply_env_inputs(inputs: dict[str, str], environ=None) -> dict[str, str]:
    """Put each non-empty `env_NAME` input into the environment (the run's value of `${env:NAME}`)
    and return the other inputs."""
    environ = os.environ if environ is None else environ
    rest = {}
    for name, value in inputs.items():
        if name.startswith(ENV_INPUT_PREFIX):
            if value:
                environ[name[len(ENV_INPUT_PREFIX):]] = value
        else:
            rest[name] = value
    return rest


def record_failure(call: StepCall, message: str) -> None:
    """Where the platform reads a failed job's reason (SageMaker: /opt/ml/output/failure, first
    1024 characters), the failure message goes too."""
    from mlopsc.runtime import platforms

    path = platforms.platform_for(call.target).failure_file
    if path is not None and path.parent.is_dir():
        try:
            path.write_text(message[:1024], encoding="utf-8")
        except OSError:
            pass  # the message is on stderr either way


def record_argv() -> None:
    """Append this step process's command line (JSON, one per line) to the file named by
    `MLOPSC_STEP_ARGV_LOG`: what ran, whether the step was a new interpreter or a fork of the
    runner's warm step server (which sets `sys.orig_argv` to the step's command)."""
    path = os.environ.get("MLOPSC_STEP_ARGV_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(sys.orig_argv) + "\n")


def run_call(call: StepCall, log=None, err=None) -> int:
    record_argv()
    err = err or _stderr
    log = log or (lambda m: print(m, flush=True))
    from mlopsc.api import load_project
    from mlopsc.diagnostics import SpecError, render
    from mlopsc.runtime import stepio

    problem = _usage_problem(call)
    if problem:
        err(f"error: {problem}")
        return EXIT_USAGE
    try:
        arg_map = {k: stepio.resolve_value(v) for k, v in call.args}
        input_map = stepio.resolve_inputs(dict(call.inputs))
    except stepio.RefError as e:
        err(f"error: {e}")
        return EXIT_USAGE
    input_map = apply_env_inputs(input_map)
    try:
        project = load_project(call.spec)
    except SpecError as e:
        err(render(e.diagnostics, "text").rstrip())
        return EXIT_FAILED
    return _run(call, project, arg_map, input_map, log, err)


def _run(call: StepCall, project, arg_map: dict, input_map: dict, log, err) -> int:
    from mlopsc.runtime import stepio
    from mlopsc.runtime.runner import terminate_as_interrupt
    from mlopsc.runtime.steps import StepContext, StepFailed, run_step

    terminate_as_interrupt()
    plan = stepio.OutputPlan(dict(call.outputs), port_kinds(call), call.executor_output)
    workdir = Path(os.environ.get("MLOPSC_WORKDIR") or os.getcwd())
    ctx = StepContext(project=project, spec_dir=Path(call.spec).resolve().parent, args=arg_map, inputs=input_map,
                      outputs=plan.action_paths(), workdir=workdir, log=log, target=call.target,
                      pipeline=call.pipeline, step=call.step, artifact_metadata=plan.metadata)
    try:
        run_step(call.action, ctx)
        plan.publish()
    except StepFailed as e:
        err(f"error: step {call.action} failed: {e}")
        record_failure(call, f"step {call.action} failed: {e}")
        return EXIT_FAILED
    except stepio.RefError as e:
        err(f"error: {e}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        err(f"interrupted: step {call.action} stopped")
        return EXIT_INTERRUPTED
    finally:
        plan.cleanup()
    return EXIT_OK
