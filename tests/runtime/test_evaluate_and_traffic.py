import json

import numpy as np
import pandas as pd
import pytest
from mlopsc import ir
from mlopsc.runtime import evaluate, traffic
from mlopsc.runtime.router import Rollout, Router
from mlopsc.runtime.serving import ModelServer

SPEC_EVALS = ir.Evals(
    dataset="holdout",
    thresholds=(ir.Threshold("auc", 0.85, None), ir.Threshold("f1", 0.70, None),
                ir.Threshold("p95_latency_ms", None, 50.0)),
    baseline="production",
    max_regression=(("auc", 0.01),),
    slices=("plan",),
    suite=None,
)


def test_gate_passes_and_reports_every_check():
    report = evaluate.gate_for_spec({"auc": 0.9, "f1": 0.75, "p95_latency_ms": 3.0}, SPEC_EVALS,
                                    baseline={"auc": 0.905})
    assert report["passed"] is True and report["failures"] == []
    assert [(c["metric"], c["rule"]) for c in report["checks"]] == [
        ("auc", "min"), ("f1", "min"), ("p95_latency_ms", "max"), ("auc", "max_regression"),
    ]


def test_gate_names_the_failing_metric():
    report = evaluate.gate_for_spec({"auc": 0.81, "f1": 0.75}, SPEC_EVALS, baseline=None)
    assert report["passed"] is False
    assert report["failures"] == [
        "auc 0.81 is below the minimum 0.85",
        "p95_latency_ms was not computed (threshold max 50)",
    ]
    assert report["checks"][-1]["skipped"] is True  # no champion yet: regression not checked


def test_regression_against_the_baseline_fails_the_gate():
    report = evaluate.gate_for_spec({"auc": 0.88, "f1": 0.8, "p95_latency_ms": 1.0}, SPEC_EVALS,
                                    baseline={"auc": 0.9})
    assert report["failures"] == ["auc 0.88 against baseline 0.9: regressed by 0.02, more than the allowed 0.01"]
    # lower-is-better metrics regress upwards
    r = evaluate.gate({"p95_latency_ms": 12.0}, (), baseline={"p95_latency_ms": 10.0},
                      max_regression=(("p95_latency_ms", 1.0),))
    assert r["passed"] is False and r["checks"][0]["regression"] == pytest.approx(2.0)


class Threshold:
    def predict(self, df):
        return (df["x"].to_numpy() > 0).astype(float) * 0.8 + 0.1


def test_evaluate_model_metrics_slices_and_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    df = pd.DataFrame({"x": x, "plan": np.where(x > 1, "pro", "basic"), "y": x + rng.normal(0, 0.5, 400) > 0})
    m = evaluate.evaluate_model(Threshold(), df, "y", slices=("plan",))
    assert 0.8 < m["auc"] < 1 and m["rows"] == 400 and m["p95_latency_ms"] >= 0
    assert set(m["slices"]["plan"]) == {"basic", "pro"}
    assert m["slices"]["plan"]["pro"]["rows"] == float((x > 1).sum())
    report = evaluate.gate(m, (ir.Threshold("auc", 0.5, None),))
    path = evaluate.write_evaluation(report, tmp_path / "evaluation.json")
    assert json.loads(path.read_text())["passed"] is True


def test_smoke_and_load_tests_against_a_real_server():
    with ModelServer(lambda rows: [1.0 for _ in rows]) as server:
        url = server.url
        assert traffic.smoke_test(server.url, [{"x": 1}, {"x": 2}])["passed"] is True
        report = traffic.load_test(server.url, [{"x": 1}], rps=200, duration_s=0.5, max_p95_ms=500)
        assert report["requests"] == 100 and report["errors"] == 0 and report["passed"] is True
        assert report["p95_ms"] <= 500
    assert traffic.smoke_test(url, [{"x": 1}])["passed"] is False  # stopped


def test_drive_rollout_until_a_decision():
    with ModelServer(lambda rows: ["v1"] * len(rows)) as champ, \
            ModelServer(lambda rows: 1 / 0) as chall:
        rollout = Rollout("canary", ir.Rollback(0.01, None), steps=(10, 100), window=30)
        with Router(champ.url, chall.url, rollout=rollout) as router:
            status = traffic.drive_rollout(router, [{"x": 1}])
    assert status["rollout"]["state"] == "rolled_back"
    assert status["driven_requests"] == 10  # the 10th request was the challenger's first, and failed
    assert status["weight"] == 0.0
