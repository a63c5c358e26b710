"""The evaluation step: metrics of a model on the eval dataset, and the gate.

`evaluate_model(model, df, label)` computes classification metrics (auc, accuracy, precision,
recall, f1, log_loss) plus `p95_latency_ms` (one-row predictions, timed), and the same metrics
per slice value. `gate(metrics, thresholds, baseline=..., max_regression=...)` checks them:

- a threshold `{min: m}` passes when value >= m; `{max: m}` when value <= m;
- a metric missing from `metrics` fails its threshold ("not computed");
- `max_regression {auc: 0.01}` fails when the candidate is worse than the baseline (the current
  champion's metrics) by more than 0.01. "Worse" is lower for most metrics and higher for
  metrics that are better small: latency, loss, error (by name), or a metric whose threshold
  is a `max`. Without a baseline (no champion yet) regression checks are skipped and say so.

The report (`evaluation.json`) holds `passed`, `metrics`, `baseline`, every check, and one
message per failure naming the metric, e.g. `auc 0.81 is below the minimum 0.85`.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mlopsc import ir

LOWER_IS_BETTER_HINTS = ("latency", "loss", "error", "_ms", "mse", "mae", "rmse")


def lower_is_better(metric: str, thresholds: Iterable[ir.Threshold] = ()) -> bool:
    for t in thresholds:
        if t.metric == metric:
            if t.max is not None and t.min is None:
                return True
            if t.min is not None and t.max is None:
                return False
    return any(h in metric.lower() for h in LOWER_IS_BETTER_HINTS)


def gate(
    metrics: Mapping[str, float],
    thresholds: Iterable[ir.Threshold],
    *,
    baseline: Mapping[str, float] | None = None,
    max_regression: Iterable[tuple[str, float]] = (),
) -> dict:
    thresholds = tuple(thresholds)
    checks: list[dict] = []
    for t in thresholds:
        value = metrics.get(t.metric)
        for rule, limit in (("min", t.min), ("max", t.max)):
            if limit is None:
                continue
            if value is None or (isinstance(value, float) and math.isnan(value)):
                ok, msg = False, f"{t.metric} was not computed (threshold {rule} {_n(limit)})"
            elif rule == "min":
                ok = value >= limit
                msg = f"{t.metric} {_n(value)} is {'at or above' if ok else 'below'} the minimum {_n(limit)}"
            else:
                ok = value <= limit
                msg = f"{t.metric} {_n(value)} is {'at or below' if ok else 'above'} the maximum {_n(limit)}"
            checks.append({"metric": t.metric, "rule": rule, "limit": limit, "value": _v(value),
                           "passed": bool(ok), "message": msg})
    for metric, allowed in max_regression:
        value = metrics.get(metric)
        base = None if baseline is None else baseline.get(metric)
        check = {"metric": metric, "rule": "max_regression", "limit": allowed, "value": _v(value),
                 "baseline": _v(base)}
        if baseline is None:
            check.update(passed=True, skipped=True, message=f"{metric}: no baseline model yet; regression not checked")
        elif value is None or base is None:
            check.update(passed=False, message=f"{metric}: cannot compare with the baseline (missing value)")
        else:
            worse = (value - base) if lower_is_better(metric, thresholds) else (base - value)
            ok = worse <= allowed + 1e-12
            check["regression"] = worse
            check.update(passed=bool(ok), message=(
                f"{metric} {_n(value)} against baseline {_n(base)}: "
                + (f"regressed by {_n(worse)}, more than the allowed {_n(allowed)}" if not ok
                   else f"within the allowed regression {_n(allowed)}")))
        checks.append(check)
    failures = [c["message"] for c in checks if not c["passed"]]
    return {
        "passed": not failures,
        "metrics": {k: _v(metrics[k]) for k in sorted(metrics)},
        "baseline": None if baseline is None else {k: _v(baseline[k]) for k in sorted(baseline)},
        "checks": checks,
        "failures": failures,
    }


def gate_for_spec(metrics: Mapping[str, float], evals: ir.Evals, baseline: Mapping[str, float] | None = None) -> dict:
    return gate(metrics, evals.thresholds, baseline=baseline, max_regression=evals.max_regression)


def evaluate_model(
    model: Any,
    df,
    label: str,
    *,
    slices: Iterable[str] = (),
    threshold: float = 0.5,
    latency_samples: int = 50,
) -> dict[str, Any]:
    """Metrics of `model.predict(df)` against `df[label]`; `slices` add `slices.<col>.<value>`."""
    import numpy as np
    from mlopsc.runtime.metrics import classification_metrics

    features = df.drop(columns=[label])
    y = df[label].to_numpy(dtype=bool)
    probs = np.asarray(model.predict(features), dtype=np.float64).reshape(-1)
    metrics: dict[str, Any] = dict(classification_metrics(y, probs, threshold))
    metrics["p95_latency_ms"] = _latency_p95(model, features, latency_samples)
    metrics["rows"] = float(len(df))
    out_slices: dict[str, dict[str, dict[str, float]]] = {}
    for col in slices:
        key = df[col].astype("object").astype(str).to_numpy()
        out_slices[col] = {}
        for value in sorted(set(key.tolist())):
            mask = key == value
            sub = classification_metrics(y[mask], probs[mask], threshold)
            sub["rows"] = float(mask.sum())
            out_slices[col][value] = sub
    if out_slices:
        metrics["slices"] = out_slices
    return metrics


def _latency_p95(model: Any, features, samples: int) -> float:
    n = min(samples, len(features))
    if n == 0:
        return float("nan")
    timings = []
    for i in range(n):
        row = features.iloc[i:i + 1]
        start = time.perf_counter()
        model.predict(row)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return timings[max(0, math.ceil(0.95 * n) - 1)]


def write_evaluation(report: dict, path: str | os.PathLike) -> Path:
    """Write the report as JSON (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=_v) + "\n", encoding="utf-8", newline="\n")
    os.replace(tmp, path)
    return path


def _v(x: Any) -> Any:
    if x is None or isinstance(x, (str, bool, int)):
        return x
    if isinstance(x, dict):
        return {k: _v(v) for k, v in x.items()}
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    return f if math.isfinite(f) else None


def _n(x: float) -> str:
    return f"{float(x):.4g}"
