"""`mlopsc plan` shows the monthly cost before and after a change and the lines that moved it."""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from mlopsc.plan import build_plan
from mlopsc.plan.render import render
from plan_fixtures import fixture_text

PINNED = "    bucket: s3://acme-ml-artifacts\n"


def _plan(base: str, new: str):
    return build_plan(new.encode(), "specs/churn.yaml", base.encode(), "specs/churn.yaml@base", "base", [])


@pytest.fixture
def churn_m5() -> str:
    """The churn fixture with SageMaker serving pinned to ml.m5.large."""
    text = fixture_text("churn.yaml")
    assert text.count(PINNED) == 1
    return text.replace(PINNED, PINNED + "    instance_types: {serving: ml.m5.large}\n")


def test_m5_large_to_gpu_serving_shows_the_monthly_delta(churn_m5):
    gpu = churn_m5.replace("{serving: ml.m5.large}", "{serving: ml.g4dn.xlarge}")
    plan = _plan(churn_m5, gpu)
    before, after = plan.cost.totals["sagemaker"]
    # two environments x 10 replicas x 730 h x (0.736 - 0.115) per hour
    assert plan.cost.delta("sagemaker") == round(2 * 7300 * (0.736 - 0.115), 2) == 9066.6
    assert round(after - before, 2) == 9066.6
    assert plan.cost.delta("vertex") == 0 and plan.cost.delta("kubeflow") == 0  # only SageMaker's setting moved
    moved = [(m.target, m.line, m.delta) for m in plan.cost.moved]
    assert moved == [("sagemaker", "serving/staging", 4533.3), ("sagemaker", "serving/production", 4533.3)]
    md = render(plan, "markdown")
    assert "| sagemaker | $1,761.55 | $10,828.15 | +$9,066.60 |" in md
    assert "| sagemaker | serving/production | $839.50 | $5,372.80 | +$4,533.30 |" in md
    assert "sagemaker: $1,761.55 -> $10,828.15 (+$9,066.60)" in render(plan, "text")
    assert render(plan, "json").count('"delta": 9066.6') == 1


def test_an_eval_threshold_change_moves_no_cost(churn_m5):
    stricter = churn_m5.replace("auc: {min: 0.85}", "auc: {min: 0.9}")
    plan = _plan(churn_m5, stricter)
    assert [c.path for c in plan.changes] == ["evals.metrics.auc.min"]
    assert all(plan.cost.delta(t) == 0 for t in plan.cost.totals) and plan.cost.moved == []
    assert "lines that moved" not in render(plan, "text")


def test_a_new_spec_costs_everything(churn_m5):
    plan = build_plan(churn_m5.encode(), "specs/churn.yaml", None, "specs/churn.yaml@base", "base", [])
    assert plan.cost.totals["sagemaker"][0] == 0.0 and plan.cost.delta("sagemaker") == 1761.55
