"""The failure notification reads a run's final state the way each platform spells it: the
Kubeflow backend's exit handler sees COMPLETE, Vertex and kfp.local SUCCEEDED, SageMaker
Executing/Succeeded. A successful run announces nothing; a failed one alerts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlopsc import api
from mlopsc.runtime import platforms
from mlopsc.runtime.monitoring import notify
from mlopsc.runtime.steps import StepContext

SPEC = Path(__file__).resolve().parents[2] / "specs" / "churn-local.yaml"
SUCCESS = {
    "kubeflow": ["COMPLETE", "SUCCEEDED"],  # the KFP backend's MLMD state; kfp.local
    "vertex": ["SUCCEEDED"],
    "sagemaker": ["Executing", "Succeeded"],
    "local": ["SUCCEEDED"],
}
FAILURE = ["FAILED", "CANCELED", "CANCELLED", "Failed", "Stopped", "Stopping", "", None, "NOT_A_STATE"]


@pytest.mark.parametrize("target", sorted(SUCCESS))
def test_each_platform_reads_its_own_success_states(target):
    platform = platforms.platform_for(target)
    for state in SUCCESS[target]:
        assert platform.run_succeeded(state), (target, state)
        assert platform.run_succeeded(f" {state}\n"), (target, state)
    for state in FAILURE:
        assert not platform.run_succeeded(state), (target, state)
    assert not platform.run_succeeded({"state": SUCCESS[target][0]})  # a state, never the whole status


def test_kubeflow_backend_spelling_is_not_taken_for_success_elsewhere():
    assert platforms.platform_for("kubeflow").run_succeeded("COMPLETE")
    assert not platforms.platform_for("vertex").run_succeeded("COMPLETE")
    assert not platforms.platform_for("sagemaker").run_succeeded("SUCCEEDED")


def _notify(target: str, status: str) -> tuple[dict, list[str]]:
    logged: list[str] = []
    ctx = StepContext(api.load_project(str(SPEC)), SPEC.parent, target=target, log=logged.append,
                      args={"channels": "email:x@example.com", "pipeline": "train"}, inputs={"status": status})
    return notify(ctx), logged


@pytest.mark.parametrize("target,state", [(t, s) for t, states in sorted(SUCCESS.items()) for s in states])
def test_notify_is_quiet_after_a_successful_run(target, state):
    result, logged = _notify(target, json.dumps({"state": state, "error": {}}))
    assert result == {"sent": []}
    assert logged == ["the train pipeline succeeded; nothing to notify"]


@pytest.mark.parametrize("target", sorted(SUCCESS))
def test_notify_alerts_after_a_failed_run(target):
    status = json.dumps({"state": "FAILED", "error": {"message": "Task train failed."}})
    result, logged = _notify(target, status)
    assert [s["channel"] for s in result["sent"]] == ["email:x@example.com"], result
    assert any("the train pipeline failed (FAILED): Task train failed." in line for line in logged), logged
