"""The churn train pipeline runs through kfp's own local runner (kfp.local) from its IR file,
with every step a STAND-IN: this test does not run mlopsc's real steps.

kfp.local's SubprocessRunner refuses container components (a substring test for
`kfp.dsl.executor_main`); as the notes (§3.2) describe, we lift that check so kfp.local runs
each container's command + args, placeholders filled, as a host process. The command is
`mlopsc step ...`, but `mlopsc` on PATH here is the STAND-IN in standin_mlopsc.py, which only
honours the step contract's I/O (checks inputs exist, writes outputs and KFP's ExecutorOutput);
it validates no data, trains no model and evaluates nothing. What this test shows is kfp's own
wiring of our IR: parameters resolved, artifacts handed from step to step, ExecutorOutput picked
up, the exit handler run with the final status. It will switch to the runtime's real
`mlopsc step` (same contract: `--executor-output PATH`, `--arg message=...`,
`--input status=<JSON>`) once that exists.
"""

import json
import os
import stat
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def standin_path(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "mlopsc"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} {os.path.join(HERE, 'standin_mlopsc.py')} \"$@\"\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_LOG", str(tmp_path / "calls.jsonl"))
    monkeypatch.setenv("STANDIN_PARAMS", 'passed=true,model_version="1"')
    return tmp_path


def test_churn_train_runs_in_kfp_local_with_standin_steps(compiled, standin_path, monkeypatch):
    from kfp import components, local
    from kfp.local import subprocess_task_handler
    from mlopsc.targets.kfp_ir import render

    monkeypatch.setattr(subprocess_task_handler.SubprocessTaskHandler,
                        "validate_not_container_component", lambda self, command: None)
    ir_file = standin_path / "train.yaml"
    ir_file.write_text(render(compiled[("churn", "train")]))
    root = standin_path / "root"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    components.load_component_from_file(str(ir_file))(git_commit="abc123")

    calls = [json.loads(line) for line in (standin_path / "calls.jsonl").read_text().splitlines()]
    order = [c["action"] for c in calls]
    assert order[:4] == ["validate", "features", "train", "evaluate"], \
        f"kfp.local ran the stand-in steps in the wrong order: {order}"
    # the model and metrics artifacts really exist where kfp.local put them, and evaluate got the model
    run_dir = next(root.iterdir())
    model, metrics = run_dir / "train" / "model", run_dir / "train" / "metrics"
    assert model.is_file() and metrics.is_file(), "kfp.local did not keep the stand-in train step's artifacts"
    assert json.loads(model.read_text())["output"] == "model", "the model artifact is not the stand-in's placeholder"
    evaluate = next(c for c in calls if c["action"] == "evaluate")
    assert evaluate["inputs"]["model"] == str(model), "kfp.local did not hand the stand-in model to evaluate"
    train = next(c for c in calls if c["action"] == "train")
    assert train["inputs"]["git_commit"] == "abc123"
    assert train["inputs"]["data"] == str(run_dir / "build-features" / "features")
    # exit handler: the notify step ran last with the body's final status
    assert order[-1] == "notify", "the exit handler (stand-in notify step) did not run last"
    assert json.loads(calls[-1]["inputs"]["status"])["state"] == "SUCCEEDED", \
        "the stand-in notify step did not get the pipeline's final status"
    # kfp.local's condition heuristic cannot resolve named outputs (notes §3.3) and skips both
    # gate branches; the gate's semantics are tested with cel-python in test_conditions.py.
    assert "register" not in order and "fail" not in order, "kfp.local ran a gate branch (stand-in steps)"
