"""Per-feature data drift between a reference and a current DataFrame.

Methods (the spec's `monitoring.drift.method`), each giving one statistic per feature that is
compared with one `threshold`; a feature has drifted when `statistic > threshold`:

- `psi` (population stability index): numeric features are cut into `bins` quantile bins of
  the reference (ties collapse bins); categorical features use their categories. Nulls count
  as one more bin, so a burst of nulls is drift too. Empty bins get a fraction of
  `PSI_EPSILON` (1e-4) so the logarithm stays finite.
  PSI = sum((cur - ref) * ln(cur / ref)) over bins. Rule of thumb: < 0.1 stable, > 0.2 drift.
- `ks`: the two-sample Kolmogorov-Smirnov statistic D = sup |F_ref - F_cur| over the non-null
  values (in [0, 1]).
- `wasserstein`: the 1-D earth mover's distance between the non-null values **divided by the
  reference's standard deviation**, so one threshold works for every feature whatever its
  units ("the distribution moved by 0.2 reference standard deviations"). When the reference
  is constant (std 0) the raw distance is used.
- `chi2`: chi-squared test of the 2 x k contingency table (reference vs current, by category;
  numeric features by the same quantile bins as PSI, nulls as a bin). The statistic compared
  with the threshold is **Cramér's V** = sqrt(chi2 / n), in [0, 1], not the p-value: with
  monitoring-sized samples every tiny difference is "significant", while V measures how large
  the difference is. The p-value is reported as `p_value` for information.

`ks` and `wasserstein` are defined for numbers only: categorical features are tested with
`chi2` (Cramér's V) against the same threshold, and the feature's entry says `"method": "chi2"`.

Numeric work is sort-based numpy (no Python loops over rows; the statistics are in `drift_stats`,
each reusing the one sort per column); features are computed in a thread pool (numpy releases
the GIL while sorting).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlopsc import ir
from mlopsc.runtime import drift_stats
from mlopsc.runtime.drift_html import render_html

__all__ = ["METHODS", "compute_drift", "drift_for_spec", "render_html", "write_report"]

METHODS = ("psi", "ks", "wasserstein", "chi2")
PSI_EPSILON = drift_stats.PSI_EPSILON
NULL_LABEL = "<null>"
MAX_CATEGORIES_SHOWN = 20
CATEGORICAL_TYPES = frozenset({"category", "string", "boolean"})


def drift_for_spec(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    drift: ir.Drift,
    columns: Iterable[ir.Column] = (),
    *,
    bins: int = 10,
    workers: int | None = None,
) -> dict:
    """Drift as the spec's `monitoring.drift` asks; `columns` (the reference dataset's schema)
    decide which features are categorical."""
    columns = tuple(columns)
    categorical = [c.name for c in columns if c.type in CATEGORICAL_TYPES]
    numeric = [c.name for c in columns if c.type not in CATEGORICAL_TYPES]
    return compute_drift(
        reference,
        current,
        method=drift.method,
        threshold=drift.threshold,
        features=drift.features or None,
        categorical=categorical,
        numeric=numeric,
        bins=bins,
        workers=workers,
    )


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    method: str = "psi",
    threshold: float = 0.2,
    features: Iterable[str] | None = None,
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
    bins: int = 10,
    workers: int | None = None,
) -> dict:
    """Compare `current` with `reference` feature by feature; return a JSON-able report.

    `features` defaults to every column of the reference. A column is categorical when it is
    named in `categorical`, or when it is not named in `numeric` and its dtype is not numeric
    (booleans are categorical).
    """
    if method not in METHODS:
        raise ValueError(f"unknown drift method {method!r}; expected one of {', '.join(METHODS)}")
    if bins < 2:
        raise ValueError("bins must be at least 2")
    names = list(features) if features is not None else [str(c) for c in reference.columns]
    categorical, numeric = set(categorical), set(numeric)

    def one(name: str) -> dict:
        return _feature(reference, current, name, method, float(threshold), bins, categorical, numeric)

    workers = workers or min(len(names), os.cpu_count() or 1) or 1
    if workers > 1 and len(names) > 1:
        # Counting strings holds the GIL while numpy's sorts release it: start the categorical
        # features first so they overlap with the numeric ones instead of queueing at the end.
        first = sorted(names, key=lambda n: n not in categorical)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = dict(zip(first, pool.map(one, first)))
        results = [done[n] for n in names]
    else:
        results = [one(n) for n in names]
    drifted = [r["feature"] for r in results if r["drifted"]]
    return {
        "method": method,
        "threshold": float(threshold),
        "reference_rows": len(reference),
        "current_rows": len(current),
        "drifted": bool(drifted),
        "drifted_features": drifted,
        "features": results,
    }


def write_report(report: dict, out_dir: str | os.PathLike, stem: str = "drift") -> dict[str, str]:
    """Write `<stem>.json` and `<stem>.html` into `out_dir` (atomically); return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for ext, text in (("json", json.dumps(report, indent=2) + "\n"), ("html", render_html(report))):
        path = out / f"{stem}.{ext}"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8", newline="\n")
        os.replace(tmp, path)
        paths[ext] = str(path)
    return paths


# ---------------------------------------------------------------- one feature


def _feature(ref_df, cur_df, name, method, threshold, bins, categorical, numeric) -> dict:
    entry: dict[str, Any] = {"feature": name}
    if name not in ref_df.columns or name not in cur_df.columns:
        where = "reference" if name not in ref_df.columns else "current"
        entry.update(kind=None, method=method, statistic=None, threshold=threshold, drifted=True,
                     note=f"column missing from the {where} data")
        return entry
    ref, cur = ref_df[name], cur_df[name]
    is_cat = name in categorical or (name not in numeric and not _is_numeric(ref.dtype))
    if is_cat:
        return _categorical(entry, ref, cur, method, threshold)
    return _numeric(entry, ref, cur, method, threshold, bins)


def _is_numeric(dtype) -> bool:
    return (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)) or (
        pd.api.types.is_datetime64_any_dtype(dtype)
    )


def _to_float(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        values = s.to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64")
        values[s.isna().to_numpy()] = np.nan
        return values
    if not pd.api.types.is_numeric_dtype(s.dtype):
        s = pd.to_numeric(s, errors="coerce")
    return s.to_numpy(dtype="float64", na_value=np.nan)


def _sorted_non_null(values: np.ndarray) -> np.ndarray:
    """The non-NaN values, sorted: the one sort of this column that every method reuses."""
    nan = np.isnan(values)
    if not nan.any():
        return np.sort(values)  # a copy: `values` may be a view of the caller's DataFrame
    kept = values[~nan]  # already a copy, so sort it in place
    kept.sort()
    return kept


def _numeric(entry, ref_s, cur_s, method, threshold, bins) -> dict:
    ref, cur = _to_float(ref_s), _to_float(cur_s)
    sr, sc = _sorted_non_null(ref), _sorted_non_null(cur)
    ref_nulls, cur_nulls = int(ref.size - sr.size), int(cur.size - sc.size)
    entry.update(kind="numeric", method=method)
    stats = {"reference_nulls": ref_nulls, "current_nulls": cur_nulls}
    if sr.size == 0 or sc.size == 0:
        entry.update(statistic=None, threshold=threshold, drifted=sr.size != sc.size,
                     note="no non-null values in the " + ("reference" if sr.size == 0 else "current") + " data")
        entry.update(stats)
        return entry
    edges = drift_stats.quantile_edges(sr, bins)
    rc = drift_stats.bin_counts(sr, edges, ref_nulls)
    cc = drift_stats.bin_counts(sc, edges, cur_nulls)
    p_value = None
    if method == "psi":
        statistic = drift_stats.psi(rc, cc)
    elif method == "chi2":
        statistic, p_value = drift_stats.cramers_v(rc, cc)
    elif method == "ks":
        statistic, _ = drift_stats.ks_and_wasserstein(sr, sc, need_w=False)
    else:
        _, w = drift_stats.ks_and_wasserstein(sr, sc, need_ks=False)
        std = float(sr.std())
        stats["reference_std"] = std
        statistic = w / std if std > 0 else w
    entry.update(statistic=_f(statistic), threshold=threshold, drifted=bool(statistic > threshold))
    if p_value is not None:
        entry["p_value"] = _f(p_value)
    entry.update(stats)
    entry["reference_mean"] = _f(sr.mean())
    entry["current_mean"] = _f(sc.mean())
    labels = _edge_labels(edges, sr[0], sr[-1])
    if ref_nulls or cur_nulls:
        labels.append(NULL_LABEL)
    else:
        rc, cc = rc[:-1], cc[:-1]
    entry["histogram"] = _histogram(labels, rc, cc)
    return entry


def _categorical(entry, ref_s, cur_s, method, threshold) -> dict:
    used = "psi" if method == "psi" else "chi2"
    entry.update(kind="categorical", method=used)
    rv = _as_object(ref_s).value_counts(dropna=False, sort=False)
    cv = _as_object(cur_s).value_counts(dropna=False, sort=False)
    ref_counts = {_key(k): int(v) for k, v in rv.items()}
    cur_counts = {_key(k): int(v) for k, v in cv.items()}
    # deterministic order: by reference frequency, then current-only categories, each by label
    keys = sorted(ref_counts, key=lambda k: (-ref_counts[k], _label(k)))
    keys += sorted((k for k in cur_counts if k not in ref_counts), key=_label)
    rc = np.array([ref_counts.get(k, 0) for k in keys], dtype=np.float64)
    cc = np.array([cur_counts.get(k, 0) for k in keys], dtype=np.float64)
    p_value = None
    if rc.sum() == 0 or cc.sum() == 0:
        statistic = 0.0 if rc.sum() == cc.sum() else math.inf
    elif used == "psi":
        statistic = drift_stats.psi(rc, cc)
    else:
        statistic, p_value = drift_stats.cramers_v(rc, cc)
    entry.update(statistic=_f(statistic), threshold=threshold, drifted=bool(statistic > threshold))
    if p_value is not None:
        entry["p_value"] = _f(p_value)
    entry["reference_nulls"] = int(ref_counts.get(_NULL, 0))
    entry["current_nulls"] = int(cur_counts.get(_NULL, 0))
    new = [_label(k) for k in keys if k not in ref_counts]
    if new:
        entry["new_categories"] = new[:MAX_CATEGORIES_SHOWN]
    labels = [_label(k) for k in keys]
    if len(keys) > MAX_CATEGORIES_SHOWN:
        cut = MAX_CATEGORIES_SHOWN - 1
        labels = labels[:cut] + ["<other>"]
        rc = np.r_[rc[:cut], rc[cut:].sum()]
        cc = np.r_[cc[:cut], cc[cut:].sum()]
    entry["histogram"] = _histogram(labels, rc, cc)
    return entry


def _as_object(s: pd.Series) -> pd.Series:
    # astype always copies; an object column (strings) needs none, and counting 1M strings is
    # the whole cost of a categorical feature.
    return s if s.dtype == object else s.astype("object")


class _Null:
    def __repr__(self) -> str:
        return NULL_LABEL


_NULL = _Null()


def _key(k: Any) -> Any:
    try:
        if pd.isna(k):
            return _NULL
    except (TypeError, ValueError):
        pass
    return k.item() if isinstance(k, np.generic) else k


def _label(k: Any) -> str:
    return NULL_LABEL if k is _NULL else str(k)


# ---------------------------------------------------------------- report helpers


def _edge_labels(edges: np.ndarray, lo: float, hi: float) -> list[str]:
    points = [_short(lo)] + [_short(e) for e in edges] + [_short(hi)]
    return [f"[{points[i]}, {points[i + 1]}{']' if i == len(points) - 2 else ')'}" for i in range(len(points) - 1)]


def _short(x: float) -> str:
    return f"{float(x):.4g}"


def _histogram(labels: list[str], rc: np.ndarray, cc: np.ndarray) -> dict:
    rt, ct = rc.sum() or 1.0, cc.sum() or 1.0
    return {
        "bins": labels,
        "reference": [round(float(v) / rt, 6) for v in rc],
        "current": [round(float(v) / ct, 6) for v in cc],
    }


def _f(x: Any) -> float | str | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf" if x < 0 else "nan")
