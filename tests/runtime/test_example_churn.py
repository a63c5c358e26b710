import hashlib

import numpy as np
import pandas as pd
import pytest
from churn_example_code import customer_activity, make_data, train
from mlopsc import ir
from mlopsc.runtime import datacheck, datafiles, drift
from mlopsc.runtime.metrics import classification_metrics, roc_auc

SCHEMA = (
    ir.Column("customer_id", "string", False, True, None, None, None),
    ir.Column("tenure_months", "integer", True, False, 0, None, None),
    ir.Column("monthly_spend", "number", True, False, 0, None, None),
    ir.Column("orders_30d", "integer", True, False, 0, None, None),
    ir.Column("plan", "category", True, False, None, None, ("basic", "pro", "enterprise")),
    ir.Column("churned", "boolean", True, False, None, None, None),
)


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generation_is_deterministic_and_valid(tmp_path):
    a, b = make_data.generate(3000, seed=7), make_data.generate(3000, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(make_data.generate(3000, seed=8))
    for ext in ("parquet", "csv"):
        p1 = datafiles.write(a, tmp_path / f"one.{ext}")
        p2 = datafiles.write(b, tmp_path / f"two.{ext}")
        assert sha(p1) == sha(p2)
        back = datafiles.read(p1)
        assert list(back.columns) == list(a.columns) and len(back) == 3000
        report = datacheck.check_dataframe(back, SCHEMA, min_rows=1000, max_null_fraction=0.01)
        assert report["passed"], report["failures"]
    assert 0.2 < a["churned"].mean() < 0.4


def test_corrupt_batch_fails_validation_with_the_expected_rules():
    report = datacheck.check_dataframe(make_data.corrupt(make_data.generate(500)), SCHEMA)
    assert [(f["column"], f["rule"]) for f in report["failures"]] == [
        ("customer_id", "nullable"), ("tenure_months", "min"), ("orders_30d", "missing"), ("plan", "values"),
    ]


def test_drifted_generation_drifts_and_a_fresh_sample_does_not():
    ref = make_data.generate(20_000, seed=1)
    cols = ("tenure_months", "monthly_spend", "plan")
    same = drift.compute_drift(ref, make_data.generate(20_000, seed=2), features=cols, categorical=["plan"])
    moved = drift.compute_drift(ref, make_data.generate(20_000, seed=2, drift=0.5), features=cols,
                                categorical=["plan"])
    assert same["drifted"] is False
    assert moved["drifted_features"] == ["tenure_months", "monthly_spend", "plan"]


def test_customer_activity_adds_the_declared_features():
    df = pd.DataFrame({"customer_id": ["a", "b", "c"], "tenure_months": [0, 12, 40],
                       "monthly_spend": [30.0, 100.0, 50.0], "orders_30d": [0, 4, 5]})
    out = customer_activity(df)
    assert "avg_order_value_30d" not in df.columns  # input untouched
    assert out["avg_order_value_30d"].tolist() == [30.0, 25.0, 10.0]
    assert out["tenure_bucket"].tolist() == ["0-6", "12-24", "24+"]


def test_metrics_match_definitions():
    y = np.array([0, 0, 1, 1, 1, 0])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.9, 0.4])
    # pairs (pos, neg): 0.35 beats 0.1 only; 0.8 and 0.9 beat all three -> (1 + 3 + 3) / 9
    assert roc_auc(y, s) == pytest.approx(7 / 9)
    m = classification_metrics(y, s, threshold=0.5)
    assert (m["precision"], m["recall"]) == (1.0, pytest.approx(2 / 3))
    assert m["f1"] == pytest.approx(0.8)


def test_torch_training_learns_the_signal_deterministically():
    df = customer_activity(make_data.generate(6000, seed=0))
    hp = {"lr": 0.005, "epochs": 8, "hidden": [32, 16], "batch_size": 512}
    model, metrics = train(df, hp)
    assert metrics["val_auc"] > 0.9, metrics
    assert metrics["val_accuracy"] > 0.8, metrics
    assert all(isinstance(v, float) for v in metrics.values()), metrics
    _, again = train(df, hp)
    assert again["val_auc"] == metrics["val_auc"]
    # serving input is raw columns: the model applies the same feature transform itself
    holdout = make_data.generate(1000, seed=3)
    raw = holdout.drop(columns=["churned"])
    probs = model.predict(raw)
    assert probs.shape == (1000,) and ((probs >= 0) & (probs <= 1)).all()
    assert roc_auc(holdout["churned"], probs) > 0.9
    assert model.predict(raw.head(2).to_dict("records")).tolist() == pytest.approx(probs[:2].tolist())
