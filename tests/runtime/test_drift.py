import json

import numpy as np
import pandas as pd
import pytest
from mlopsc import ir
from mlopsc.runtime import drift
from scipy import stats

THRESHOLDS = {"psi": 0.2, "ks": 0.1, "wasserstein": 0.1, "chi2": 0.1}


def frame(n, seed, spend_shift=0.0, plan_p=(0.6, 0.3, 0.1), null_rate=0.0):
    rng = np.random.default_rng(seed)
    spend = rng.gamma(2.0, 30.0, n) * (1 + spend_shift)
    if null_rate:
        spend[rng.random(n) < null_rate] = np.nan
    return pd.DataFrame(
        {
            "tenure_months": rng.integers(0, 72, n),
            "monthly_spend": spend,
            "plan": rng.choice(["basic", "pro", "enterprise"], n, p=list(plan_p)),
            "churned": rng.random(n) < 0.2,
        }
    )


@pytest.mark.parametrize("method", drift.METHODS)
def test_unshifted_data_does_not_drift(method):
    report = drift.compute_drift(frame(20_000, 1), frame(20_000, 2), method=method, threshold=THRESHOLDS[method])
    assert report["drifted"] is False, report["features"]
    assert [f["feature"] for f in report["features"]] == ["tenure_months", "monthly_spend", "plan", "churned"]
    assert all(not f["drifted"] for f in report["features"])


@pytest.mark.parametrize("method", drift.METHODS)
def test_shifted_data_drifts_on_the_shifted_features_only(method):
    current = frame(20_000, 2, spend_shift=0.5, plan_p=(0.2, 0.3, 0.5))
    report = drift.compute_drift(frame(20_000, 1), current, method=method, threshold=THRESHOLDS[method])
    assert report["drifted"] is True
    assert report["drifted_features"] == ["monthly_spend", "plan"]
    by = {f["feature"]: f for f in report["features"]}
    assert by["monthly_spend"]["kind"] == "numeric" and by["monthly_spend"]["method"] == method
    assert by["plan"]["kind"] == "categorical"
    assert by["plan"]["method"] == ("psi" if method == "psi" else "chi2")


def test_statistics_match_scipy_including_ties():
    rng = np.random.default_rng(3)
    a = pd.DataFrame({"x": rng.normal(size=5000), "k": rng.integers(0, 10, 5000)})
    b = pd.DataFrame({"x": rng.normal(0.2, 1.3, size=4000), "k": rng.integers(0, 12, 4000)})
    for col in ("x", "k"):
        ks = drift.compute_drift(a, b, method="ks", features=[col])["features"][0]["statistic"]
        assert ks == pytest.approx(stats.ks_2samp(a[col], b[col]).statistic, abs=1e-12)
        w = drift.compute_drift(a, b, method="wasserstein", features=[col])["features"][0]["statistic"]
        expected = stats.wasserstein_distance(a[col], b[col]) / a[col].std(ddof=0)
        assert w == pytest.approx(expected, rel=1e-9)
    f = drift.compute_drift(a, b, method="chi2", features=["k"], categorical=["k"])["features"][0]
    table = np.vstack([a["k"].value_counts().reindex(range(12), fill_value=0), b["k"].value_counts().reindex(range(12))])
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert f["statistic"] == pytest.approx(np.sqrt(chi2 / table.sum()))
    assert f["p_value"] == pytest.approx(p, abs=1e-12)
    assert f["new_categories"] == ["10", "11"]


def test_wasserstein_is_scale_free():
    ref, cur = frame(10_000, 1), frame(10_000, 2, spend_shift=0.3)
    a = drift.compute_drift(ref, cur, method="wasserstein", features=["monthly_spend"])
    ref2, cur2 = ref.assign(monthly_spend=ref.monthly_spend * 1000), cur.assign(monthly_spend=cur.monthly_spend * 1000)
    b = drift.compute_drift(ref2, cur2, method="wasserstein", features=["monthly_spend"])
    assert a["features"][0]["statistic"] == pytest.approx(b["features"][0]["statistic"], rel=1e-9)


def test_a_burst_of_nulls_is_psi_drift():
    report = drift.compute_drift(frame(20_000, 1), frame(20_000, 2, null_rate=0.3), method="psi")
    f = report["features"][1]
    assert f["feature"] == "monthly_spend" and f["drifted"] is True
    assert f["histogram"]["bins"][-1] == "<null>"
    assert f["current_nulls"] > 5000 and f["reference_nulls"] == 0


def test_spec_drift_uses_the_declared_types_features_and_threshold():
    cols = (
        ir.Column("tenure_months", "integer", True, False, 0, None, None),
        ir.Column("monthly_spend", "number", True, False, 0, None, None),
        ir.Column("plan", "category", True, False, None, None, ("basic", "pro", "enterprise")),
    )
    spec = ir.Drift("customers", "ks", 0.1, ("tenure_months", "plan", "gone"))
    ref = frame(5000, 1)
    cur = frame(5000, 2, plan_p=(0.1, 0.1, 0.8)).drop(columns=["monthly_spend"])
    report = drift.drift_for_spec(ref, cur, spec, cols)
    assert [f["feature"] for f in report["features"]] == ["tenure_months", "plan", "gone"]
    assert report["drifted_features"] == ["plan", "gone"]
    assert report["features"][2]["note"] == "column missing from the reference data"
    assert report["method"] == "ks" and report["threshold"] == 0.1


def test_reports_are_written_as_json_and_self_contained_html(tmp_path):
    report = drift.compute_drift(frame(5000, 1), frame(5000, 2, spend_shift=1.0), method="psi")
    paths = drift.write_report(report, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "drift.json").read_text()) == report
    page = (tmp_path / "out" / "drift.html").read_text()
    assert paths["html"].endswith("drift.html")
    assert "monthly_spend" in page and "<svg" in page and 'class="drift">drift<' in page
    assert "<script" not in page and "http" not in page.replace("<!DOCTYPE html>", "")
    # deterministic: same inputs, same bytes
    again = drift.compute_drift(frame(5000, 1), frame(5000, 2, spend_shift=1.0), method="psi")
    assert drift.render_html(again) == page
    assert json.dumps(again) == json.dumps(report)


def test_unknown_method_is_an_error():
    with pytest.raises(ValueError, match="unknown drift method"):
        drift.compute_drift(frame(10, 1), frame(10, 2), method="kl")


@pytest.mark.parametrize("method", ["psi", "ks"])
def test_a_million_rows_by_twenty_features_flags_only_the_shifted_one(method):
    """Correctness at scale; the speed is benchmarks/bench_drift.py's job (no timing asserts here)."""
    rng = np.random.default_rng(0)
    n = 1_000_000
    ref = pd.DataFrame({f"f{i}": rng.normal(size=n) for i in range(20)})
    cur = pd.DataFrame({f"f{i}": rng.normal(0.5 if i == 0 else 0.0, 1.0, size=n) for i in range(20)})
    report = drift.compute_drift(ref, cur, method=method, threshold=THRESHOLDS[method])
    assert report["drifted_features"] == ["f0"]
