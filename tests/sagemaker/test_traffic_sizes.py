"""SageMaker's traffic shifting limits (TrafficRoutingConfig: CanarySize <= 50% of the fleet,
LinearStepSize 10-50%), and steps it can only round to whole instances, said at compile time."""

import os

import pytest
from sm_helpers import ROOT

from mlopsc import api, targets


def _diagnostics(tmp_path, steps: str, min_replicas: int = 1) -> list[str]:
    text = open(os.path.join(ROOT, "specs", "churn.yaml"), encoding="utf-8").read()
    assert "steps: [5, 25, 50, 100]" in text and "min_replicas: 1," in text
    text = text.replace("steps: [5, 25, 50, 100]", f"steps: {steps}").replace(
        "min_replicas: 1,", f"min_replicas: {min_replicas},")
    (tmp_path / "churn.yaml").write_text(text, encoding="utf-8")
    project = api.load_project(str(tmp_path / "churn.yaml"))
    _, diagnostics = targets.get("sagemaker").compile(project)
    return [f"{d.code} {d.message}" for d in diagnostics if "production" in d.message]


@pytest.mark.parametrize("steps, expected", [
    ("[60, 100]", "E701 target `sagemaker` cannot express a first canary step of 60% in `production`"),
    ("[5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 100]",
     "E701 target `sagemaker` cannot express linear steps of 5% in `production`"),
])
def test_steps_sagemaker_refuses_are_errors(tmp_path, steps, expected):
    assert expected in _diagnostics(tmp_path, steps)


def test_a_step_smaller_than_one_instance_is_said(tmp_path):
    [rounded] = [d for d in _diagnostics(tmp_path, "[10, 100]", min_replicas=2) if "whole instances" in d]
    assert rounded.startswith("W702 target `sagemaker`: SageMaker shifts whole instances: 10% of `production`'s "
                              "2 instance(s) is rounded up to one instance, so the first step takes 50%")
    assert not [d for d in _diagnostics(tmp_path, "[10, 100]", min_replicas=10) if "whole instances" in d]
    assert not [d for d in _diagnostics(tmp_path, "[20, 40, 60, 80, 100]", min_replicas=5) if d.startswith("E701")]
