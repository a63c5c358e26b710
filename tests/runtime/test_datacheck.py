import json

import numpy as np
import pandas as pd
import pytest
from mlopsc import ir
from mlopsc.runtime import datacheck


def col(name, type_, nullable=True, unique=False, min=None, max=None, values=None):
    return ir.Column(name, type_, nullable, unique, min, max, values)


CHURN = (
    col("customer_id", "string", nullable=False, unique=True),
    col("tenure_months", "integer", min=0),
    col("monthly_spend", "number", min=0),
    col("orders_30d", "integer", min=0),
    col("plan", "category", values=("basic", "pro", "enterprise")),
    col("churned", "boolean"),
)


def good_frame(n=500, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(n)],
            "tenure_months": rng.integers(0, 72, n),
            "monthly_spend": rng.gamma(2.0, 30.0, n),
            "orders_30d": rng.poisson(3, n),
            "plan": rng.choice(["basic", "pro", "enterprise"], n),
            "churned": rng.random(n) < 0.2,
        }
    )


def rules(report):
    return [(f["column"], f["rule"]) for f in report["failures"]]


def test_good_frame_passes():
    report = datacheck.check_dataframe(good_frame(), CHURN, min_rows=100, max_null_fraction=0.01)
    assert report["passed"] is True
    assert report["failures"] == []
    assert report["rows"] == 500
    assert datacheck.require_valid(report) is report
    assert "ok" in datacheck.format_report(report)


def test_bad_batch_lists_every_failure_with_counts_and_examples():
    df = good_frame(200)
    df["tenure_months"] = df["tenure_months"].astype("float64")
    df.loc[[3, 4, 5], "tenure_months"] = [-4.0, -1.0, 2.5]  # two below 0, one not an integer
    df.loc[10:19, "monthly_spend"] = np.nan  # 10 nulls = 5%
    df.loc[7, "customer_id"] = None
    df.loc[9, "customer_id"] = df.loc[8, "customer_id"]
    df.loc[11, "plan"] = "gold"
    df = df.drop(columns=["orders_30d"])
    df["extra"] = 1

    report = datacheck.check_dataframe(df, CHURN, min_rows=1000, max_null_fraction=0.01, dataset="customers")
    assert report["passed"] is False
    assert rules(report) == [
        (None, "min_rows"),
        ("customer_id", "nullable"),
        ("customer_id", "unique"),
        ("tenure_months", "type"),
        ("tenure_months", "min"),
        ("monthly_spend", "max_null_fraction"),
        ("orders_30d", "missing"),
        ("plan", "values"),
    ]
    by = {(f["column"], f["rule"]): f for f in report["failures"]}
    assert by[("tenure_months", "min")]["count"] == 2
    assert by[("tenure_months", "min")]["example"] == -4.0
    assert by[("tenure_months", "min")]["row"] == 3
    assert by[("tenure_months", "type")]["example"] == 2.5
    assert by[("customer_id", "nullable")]["row"] == 7
    assert by[("customer_id", "unique")]["row"] == 9
    assert by[("plan", "values")]["example"] == "gold"
    assert by[("monthly_spend", "max_null_fraction")]["count"] == 10
    assert report["extra_columns"] == ["extra"]
    msg = by[("tenure_months", "min")]["message"]
    assert msg == "column 'tenure_months': min: 2 rows below 0 (e.g. -4.0 at row 3)"
    assert "5% nulls (10 of 200 rows), at most 1% allowed" in by[("monthly_spend", "max_null_fraction")]["message"]
    # JSON-able and deterministic
    assert json.dumps(report) == json.dumps(
        datacheck.check_dataframe(df, CHURN, min_rows=1000, max_null_fraction=0.01, dataset="customers")
    )
    with pytest.raises(datacheck.ValidationFailed) as err:
        datacheck.require_valid(report)
    assert "orders_30d" in str(err.value) and "missing" in str(err.value)


def test_types_from_text_and_objects():
    df = pd.DataFrame(
        {
            "i": ["1", "2", "x", None],
            "n": [1.5, "2.5", "abc", 3],
            "b": ["true", "False", "maybe", "1"],
            "s": ["a", 3, "c", None],
            "d": ["2024-01-01", "2024-02-30", "2024-03-01T10:00:00", None],
            "ints_as_bool": [0, 1, 2, 1],
        },
        dtype=object,
    )
    cols = (
        col("i", "integer"),
        col("n", "number", max=2),
        col("b", "boolean"),
        col("s", "string"),
        col("d", "datetime"),
        col("ints_as_bool", "boolean"),
    )
    report = datacheck.check_dataframe(df, cols)
    by = {(f["column"], f["rule"]): f for f in report["failures"]}
    assert by[("i", "type")]["example"] == "x"
    assert by[("n", "type")]["example"] == "abc"
    assert by[("n", "max")]["count"] == 2  # "2.5" and 3
    assert by[("b", "type")]["example"] == "maybe"
    assert by[("s", "type")]["example"] == 3
    assert by[("d", "type")]["example"] == "2024-02-30"
    assert by[("ints_as_bool", "type")]["example"] == 2
    assert len(report["failures"]) == 7


def test_numbers_in_a_string_column_and_bools_in_a_number_column():
    df = pd.DataFrame({"s": [1, 2, 3], "n": [True, False, True]})
    report = datacheck.check_dataframe(df, (col("s", "string"), col("n", "number")))
    assert rules(report) == [("s", "type"), ("n", "type")]
    assert report["failures"][0]["count"] == 3


def test_schema_from_is_resolved_through_data():
    customers = ir.Dataset("customers", "c.parquet", "parquet", None, CHURN, 10, None, None)
    holdout = ir.Dataset("holdout", "h.parquet", "parquet", None, (), None, None, "customers")
    data = ir.Data("hash", "churned", (customers, holdout), None)
    df = good_frame(50).drop(columns=["plan"])
    report = datacheck.check_dataset(df, holdout, data)
    assert report["dataset"] == "holdout"
    assert rules(report) == [("plan", "missing")]


def test_a_clean_million_rows_pass():
    n = 1_000_000
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "customer_id": np.arange(n).astype(str),
            "tenure_months": rng.integers(0, 72, n),
            "monthly_spend": rng.gamma(2.0, 30.0, n),
            "orders_30d": rng.poisson(3, n),
            "plan": pd.Categorical(rng.choice(["basic", "pro", "enterprise"], n)),
            "churned": rng.random(n) < 0.2,
        }
    )
    report = datacheck.check_dataframe(df, CHURN, min_rows=10, max_null_fraction=0.01)
    assert report["passed"], report["failures"]  # correctness at scale; no timing asserts in unit tests
