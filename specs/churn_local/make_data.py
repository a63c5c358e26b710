"""Write the example's deterministic synthetic data next to this file, under data/:

- customers.parquet (8,000 rows) and holdout.parquet (2,000): training and evaluation;
- current.parquet: a new batch from the same population (no drift);
- shifted.parquet: a new batch after a market shift (drift);
- bad.parquet: a corrupted batch (nulls, out-of-range values, an unknown plan, a missing column).

    python specs/churn_local/make_data.py

The columns match the spec's schema: `customer_id` (unique string), `tenure_months` (integer
>= 0), `monthly_spend` (number >= 0), `orders_30d` (integer >= 0), `plan` (basic, pro,
enterprise) and `churned` (boolean). Churn is more likely for new customers, on the basic plan,
with few recent orders and a high spend per order; about 30% of customers churn, and a good
model reaches a validation AUC near 0.94. The same seed gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
PLANS = ("basic", "pro", "enterprise")
PLAN_MIX = (0.6, 0.3, 0.1)
PLAN_SPEND = {"basic": 25.0, "pro": 70.0, "enterprise": 220.0}


def generate(rows: int = 10_000, seed: int = 0, *, drift: float = 0.0, id_offset: int = 0) -> pd.DataFrame:
    """Generate `rows` customers. `drift` in [0, 1] shifts the population the way a real market
    change would (more basic-plan, newer, higher-spending customers) for drift demos."""
    if rows < 0:
        raise ValueError("rows must be >= 0")
    rng = np.random.default_rng(seed)
    mix = np.array(PLAN_MIX)
    if drift:
        mix = (1 - drift) * mix + drift * np.array([0.2, 0.3, 0.5])
    plan_idx = rng.choice(len(PLANS), size=rows, p=mix / mix.sum())
    plan = np.array(PLANS, dtype=object)[plan_idx]
    tenure = np.floor(rng.gamma(1.4, 16.0 / (1 + 2 * drift), rows)).clip(0, 180).astype(np.int64)
    base = np.array([PLAN_SPEND[p] for p in PLANS])[plan_idx]
    spend = np.round(base * rng.lognormal(0.0, 0.35, rows) * (1 + drift), 2)
    engagement = rng.normal(0.0, 1.0, rows)
    orders = rng.poisson(np.exp(0.9 + 0.6 * engagement + 0.15 * plan_idx)).astype(np.int64)
    aov = spend / np.maximum(orders, 1)
    logit = 2.5 * (
        0.8
        - 0.07 * tenure
        + 0.9 * (plan_idx == 0)
        - 0.6 * (plan_idx == 2)
        - 0.45 * orders
        + 0.012 * np.minimum(aov, 150)
    )
    churned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(id_offset, id_offset + rows)],
            "tenure_months": tenure,
            "monthly_spend": spend,
            "orders_30d": orders,
            "plan": pd.Series(plan, dtype="object"),
            "churned": churned,
        }
    )


def corrupt(df: pd.DataFrame) -> pd.DataFrame:
    """A bad batch: nulls in a non-nullable column, out-of-range values, an unknown plan and a
    missing column."""
    bad = df.copy()
    bad["customer_id"] = bad["customer_id"].astype(object)
    bad.loc[bad.index[:3], "customer_id"] = None
    bad.loc[bad.index[3:8], "tenure_months"] = -1
    bad.loc[bad.index[8], "plan"] = "platinum"
    return bad.drop(columns=["orders_30d"])


def main(out: Path = HERE / "data") -> None:
    out.mkdir(parents=True, exist_ok=True)
    batches = {
        "customers": generate(8000, seed=0),
        "holdout": generate(2000, seed=1, id_offset=1_000_000),
        "current": generate(3000, seed=2, id_offset=2_000_000),
        "shifted": generate(3000, seed=3, id_offset=3_000_000, drift=0.5),
        "bad": corrupt(generate(8000, seed=0)),
    }
    for name, df in batches.items():
        df.to_parquet(out / f"{name}.parquet", index=False)
    print(f"wrote {out}/{{customers,holdout,current,shifted,bad}}.parquet")


if __name__ == "__main__":
    main()
