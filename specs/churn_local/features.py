"""The feature view `customer_activity`: the same function in training and serving."""

from __future__ import annotations

import numpy as np
import pandas as pd

TENURE_BUCKETS = ("0-6", "6-12", "12-24", "24+")


def customer_activity(df: pd.DataFrame) -> pd.DataFrame:
    """`df` plus `avg_order_value_30d` (spend per order) and `tenure_bucket` (the input is not modified)."""
    out = df.copy()
    orders = pd.to_numeric(out["orders_30d"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    spend = pd.to_numeric(out["monthly_spend"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    out["avg_order_value_30d"] = spend / np.maximum(orders, 1.0)
    tenure = pd.to_numeric(out["tenure_months"], errors="coerce")
    out["tenure_bucket"] = pd.cut(
        tenure, bins=[-np.inf, 6, 12, 24, np.inf], right=False, labels=list(TENURE_BUCKETS)
    ).astype("object")
    return out
