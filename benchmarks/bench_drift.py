"""mlopsc's drift (`mlopsc.runtime.drift.compute_drift`) against Evidently's data drift report,
in one process, on the same data.

Runs with its own virtualenv, NOT /work/venv: Evidently 0.7 pulls in its own dependency set, and
0.7.23 does not import with pandas 3 (it imports `pandas.core.dtypes.common.infer_dtype_from_object`,
gone in 3.0), so that venv holds pandas 2.x:

    python3 -m venv /work/benchvenv
    /work/benchvenv/bin/pip install -c constraints.txt -r benchmarks/requirements-drift.txt -e .
    /work/benchvenv/bin/python benchmarks/bench_drift.py [--rows 1000000] [--runs 3] [--methods psi,ks,wasserstein]

Run from the repository root. Without the requirements file the install is
`/work/benchvenv/bin/pip install -c constraints.txt -e . evidently "pandas<3" numpy scipy pyarrow`.
No network is needed: `Report.run` makes no calls out (Evidently's telemetry lives in its UI
service, which this does not start). At the default size a full run (3 methods x 3 runs per
side) takes about 12 minutes on 2 cores, nearly all of it in Evidently; `--rows 20000` takes
about 30 s.

Data (deterministic, numpy seed 20240601 for the reference and 20240602 for the current frame):
`--rows` rows in each frame, 20 features: 15 numeric (normal, gamma, lognormal, uniform,
exponential, integer 0..119, ...) and 5 categorical (object strings, 3..12 categories). Five
features are shifted in the current frame (SHIFTED below: a mean shift of 0.75 sd, a doubled sd,
a changed lognormal shape, and two categoricals whose frequencies move); the other 15 are fresh
draws from the same distributions. No nulls: mlopsc counts nulls as a bin of their own, Evidently
drops them, so nulls would make the two compute different things.

What each side computes, per configuration (`--methods`):

- `psi` -- both compute PSI = sum((cur - ref) * ln(cur / ref)) on every feature, drift when
  PSI > 0.2 (mlopsc) / PSI >= 0.2 (Evidently). The bins differ, and neither lets you choose the
  other's: mlopsc cuts numeric features into 10 quantile bins of the reference; Evidently 0.7
  cuts numeric features with more than 20 distinct values into equal-width bins over the combined
  range, `np.histogram_bin_edges(..., bins="sturges")` (about 22 bins for 2 x 1M rows).
  Categorical features: one bin per category on both sides (empty bins: mlopsc floors shares at
  1e-4, Evidently replaces zeros by 1e-4), so there the statistics agree.
- `ks` -- numeric: both compute the two-sample Kolmogorov-Smirnov statistic; mlopsc flags
  D > 0.1 (an effect size), Evidently (`num_method="ks"`) computes scipy's `ks_2samp` and flags
  p-value <= 0.05. Categorical: mlopsc uses the chi-squared test of the 2 x k table and flags
  Cramer's V > 0.1; Evidently (`cat_method="chisquare"`) uses scipy's `chisquare` of the current
  counts against reference shares and flags p-value < 0.05.
- `wasserstein` -- numeric: both compute the 1-D Wasserstein distance divided by the
  reference's standard deviation (the same statistic, ddof=0 on both sides), threshold 0.1.
  Categorical as in `ks` (Cramer's V > 0.1 vs chi-square p-value < 0.05).

Timed: mlopsc's `compute_drift(reference, current, ...)` (its report dict, with histograms;
threads: one per feature up to the core count), against Evidently's
`Report([DataDriftPreset(...)], include_tests=True).run(Dataset.from_pandas(current, dd),
Dataset.from_pandas(reference, dd)).dict()` with an explicit `DataDefinition` naming the numeric
and categorical columns (Evidently's per-column widgets are computed inside `run`; no HTML is
written by either side). Imports and one small warm-up call per side are outside the timing; runs
alternate between the two. Each side's flagged features are taken from its own verdicts (mlopsc's
`drifted_features`, Evidently's per-column "Value Drift" tests that FAIL) and compared with each
other and with the features that were really shifted.

Prints a Markdown table for the README. Exits 1 when the two disagree on any feature. Expect
that now and then with `ks` and `wasserstein`: Evidently's p-value tests flag about 5% of
unshifted features by chance (at `--rows 5000` its chi-square flags the unshifted cat_2), while
mlopsc's effect-size thresholds do not; at 20,000 and 1,000,000 rows both flag exactly the five
shifted features under all three methods.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np
import pandas as pd

NUMERIC = [f"num_{i:02d}" for i in range(15)]
CATEGORICAL = [f"cat_{i}" for i in range(5)]
SHIFTED = ["num_00", "num_05", "num_10", "cat_1", "cat_3"]
SEED_REFERENCE, SEED_CURRENT = 20240601, 20240602

CONFIGS = {
    # name: (mlopsc compute_drift kwargs, Evidently DataDriftPreset kwargs, one-line description)
    "psi": (
        {"method": "psi", "threshold": 0.2},
        {"method": "psi", "threshold": 0.2},
        "PSI on all 20 (mlopsc: 10 reference-quantile bins; Evidently: Sturges equal-width bins), > 0.2",
    ),
    "ks": (
        {"method": "ks", "threshold": 0.1},
        {"num_method": "ks", "num_threshold": 0.05, "cat_method": "chisquare", "cat_threshold": 0.05},
        (
            "KS on 15 numeric (mlopsc D > 0.1; Evidently p <= 0.05), chi-squared on 5 categorical "
            "(mlopsc Cramer's V > 0.1; Evidently p < 0.05)"
        ),
    ),
    "wasserstein": (
        {"method": "wasserstein", "threshold": 0.1},
        {"num_method": "wasserstein", "num_threshold": 0.1, "cat_method": "chisquare", "cat_threshold": 0.05},
        (
            "Wasserstein / reference sd on 15 numeric (both > 0.1), chi-squared on 5 categorical "
            "(mlopsc Cramer's V > 0.1; Evidently p < 0.05)"
        ),
    ),
}


def make_frame(rows: int, seed: int, shifted: bool) -> pd.DataFrame:
    """20 features; `shifted` moves the five SHIFTED ones (the rest are fresh draws)."""
    rng = np.random.default_rng(seed)
    s = shifted
    cols = {
        "num_00": rng.normal(0.75 if s else 0.0, 1.0, rows),  # mean +0.75 sd
        "num_01": rng.normal(100.0, 15.0, rows),
        "num_02": rng.gamma(2.0, 30.0, rows),
        "num_03": rng.lognormal(3.0, 0.5, rows),
        "num_04": rng.uniform(0.0, 1.0, rows),
        "num_05": rng.normal(50.0, 20.0 if s else 10.0, rows),  # sd doubled
        "num_06": rng.exponential(5.0, rows),
        "num_07": rng.integers(0, 120, rows).astype(np.int64),
        "num_08": rng.beta(2.0, 5.0, rows),
        "num_09": rng.standard_t(5, rows),
        "num_10": rng.lognormal(1.0, 0.9 if s else 0.5, rows),  # heavier tail
        "num_11": rng.normal(-3.0, 0.5, rows),
        "num_12": rng.gamma(5.0, 1.0, rows),
        "num_13": rng.weibull(1.5, rows) * 10.0,
        "num_14": rng.logistic(0.0, 2.0, rows),
        "cat_0": rng.choice(["basic", "pro", "enterprise"], rows, p=[0.6, 0.3, 0.1]),
        "cat_1": rng.choice(["web", "ios", "android", "api"], rows,
                            p=[0.15, 0.25, 0.2, 0.4] if s else [0.4, 0.25, 0.2, 0.15]),
        "cat_2": rng.choice([f"region_{i:02d}" for i in range(12)], rows),
        "cat_3": rng.choice(["card", "paypal", "invoice", "crypto", "voucher"], rows,
                            p=[0.2, 0.2, 0.3, 0.1, 0.2] if s else [0.5, 0.25, 0.15, 0.05, 0.05]),
        "cat_4": rng.choice(["yes", "no"], rows, p=[0.3, 0.7]),
    }
    frame = pd.DataFrame(cols)
    for c in CATEGORICAL:
        frame[c] = frame[c].astype(object)
    return frame


def run_mlopsc(reference: pd.DataFrame, current: pd.DataFrame, kwargs: dict) -> dict:
    from mlopsc.runtime import drift

    report = drift.compute_drift(reference, current, categorical=CATEGORICAL, numeric=NUMERIC, **kwargs)
    return {
        "flagged": set(report["drifted_features"]),
        "stats": {f["feature"]: f["statistic"] for f in report["features"]},
    }


def run_evidently(reference: pd.DataFrame, current: pd.DataFrame, kwargs: dict) -> dict:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=list(NUMERIC), categorical_columns=list(CATEGORICAL))
    report = Report([DataDriftPreset(**kwargs)], include_tests=True)
    snapshot = report.run(Dataset.from_pandas(current, definition), Dataset.from_pandas(reference, definition))
    result = snapshot.dict()
    stats, flagged = {}, set()
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if config.get("type") == "evidently:metric_v2:ValueDrift":
            stats[config["column"]] = float(metric["value"])
    for test in result["tests"]:
        params = test.get("metric_config", {}).get("params", {})
        if params.get("type") == "evidently:metric_v2:ValueDrift" and test["status"] == "FAIL":
            flagged.add(params["column"])
    if set(stats) != set(NUMERIC + CATEGORICAL):
        raise SystemExit(f"Evidently reported columns {sorted(stats)}, expected all 20 features")
    return {"flagged": flagged, "stats": stats}


def run_floor(reference: pd.DataFrame, current: pd.DataFrame, _kwargs: dict) -> dict:
    """The least work any drift method does: read every column of both frames and sort each
    numeric one once (count each categorical one once: a hash count is cheaper than sorting
    strings). One thread, plain numpy/pandas."""
    for name in NUMERIC:
        np.sort(reference[name].to_numpy(dtype="float64"))
        np.sort(current[name].to_numpy(dtype="float64"))
    for name in CATEGORICAL:
        reference[name].value_counts(dropna=False, sort=False)
        current[name].value_counts(dropna=False, sort=False)
    return {}


def timed(fn, *args) -> tuple[float, dict]:
    gc.collect()
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def fmt_set(names: set[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in each frame (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per side and method (default 3)")
    parser.add_argument("--methods", default="psi,ks,wasserstein", help="comma-separated: psi, ks, wasserstein")
    args = parser.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in CONFIGS]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; choose from {list(CONFIGS)}")

    import evidently
    import scipy

    warnings.filterwarnings("ignore")  # Evidently's deprecation chatter would bury the table
    reference = make_frame(args.rows, SEED_REFERENCE, shifted=False)
    current = make_frame(args.rows, SEED_CURRENT, shifted=True)
    expected = set(SHIFTED)

    # warm-up on a small slice: lazy imports and registrations, outside the timing
    for name in methods:
        run_mlopsc(reference.head(2000), current.head(2000), CONFIGS[name][0])
        run_evidently(reference.head(2000), current.head(2000), CONFIGS[name][1])

    results, floors, all_agree = {}, {}, True
    for name in methods:
        ours_kwargs, theirs_kwargs, _ = CONFIGS[name]
        ours_t, theirs_t, floor_t = [], [], []
        for _ in range(args.runs):  # interleaved
            t, ours = timed(run_mlopsc, reference, current, ours_kwargs)
            ours_t.append(t)
            floor_t.append(timed(run_floor, reference, current, {})[0])
            t, theirs = timed(run_evidently, reference, current, theirs_kwargs)
            theirs_t.append(t)
            print(f"  {name}: mlopsc {fmt_s(ours_t[-1])}, floor {fmt_s(floor_t[-1])}, Evidently {fmt_s(theirs_t[-1])}",
                  file=sys.stderr)
        agree = ours["flagged"] == theirs["flagged"]
        all_agree &= agree
        results[name] = (statistics.median(ours_t), statistics.median(theirs_t), ours, theirs, agree)
        floors[name] = statistics.median(floor_t)

    cores = os.cpu_count()
    print(f"Drift on {args.rows:,} reference rows vs {args.rows:,} current rows, 20 features "
          f"(15 numeric, 5 categorical; {len(SHIFTED)} shifted: {', '.join(SHIFTED)}).")
    print(f"Median of {args.runs} interleaved runs, one process, {cores} cores; Python {platform.python_version()}, "
          f"numpy {np.__version__}, pandas {pd.__version__}, scipy {scipy.__version__}, "
          f"evidently {evidently.__version__}.\n")
    print("| method | mlopsc `compute_drift` | Evidently `DataDriftPreset` | speed-up (goal >= 40x) | numpy floor | "
          "mlopsc / floor (goal <= 2x) | flagged: mlopsc | flagged: Evidently | agree |")
    print("|---|---|---|---|---|---|---|---|---|")
    goals_met = True
    for name, (ours_s, theirs_s, ours, theirs, agree) in results.items():
        speedup, over_floor = theirs_s / ours_s, ours_s / floors[name]
        goals_met &= speedup >= 40 and over_floor <= 2
        print(f"| {name} | {fmt_s(ours_s)} | {fmt_s(theirs_s)} | {speedup:.0f}x | {fmt_s(floors[name])} | "
              f"{over_floor:.2f}x | {fmt_set(ours['flagged'])} | {fmt_set(theirs['flagged'])} | "
              f"{'yes' if agree else '**no**'} |")
    print("\nThe numpy floor (`run_floor`): read every column of both frames, sort each numeric one once and "
          "count each categorical one once, in one thread; mlopsc uses a thread per core.")
    print()
    for name, (_, _, ours, theirs, agree) in results.items():
        print(f"- `{name}`: {CONFIGS[name][2]}.")
        for who, r in (("mlopsc", ours), ("Evidently", theirs)):
            missed, extra = expected - r["flagged"], r["flagged"] - expected
            if missed or extra:
                print(f"  {who} vs the shifted features: missed {fmt_set(missed)}; extra {fmt_set(extra)}.")
        if not agree:
            print(f"  Disagreement: only mlopsc {fmt_set(ours['flagged'] - theirs['flagged'])}; "
                  f"only Evidently {fmt_set(theirs['flagged'] - ours['flagged'])}.")
        # where both compute the same statistic, show how close the numbers are
        same = CATEGORICAL if name == "psi" else NUMERIC if name == "wasserstein" else []
        if same:
            diff = max(abs(float(ours["stats"][c]) - theirs["stats"][c]) for c in same)
            print(f"  Same statistic on {'the 5 categorical' if name == 'psi' else 'the 15 numeric'} features: "
                  f"largest |mlopsc - Evidently| = {diff:.2e}.")
    print(f"\nAgreement on flagged features: {'all methods agree' if all_agree else 'DISAGREEMENT (see above)'}.")
    print(f"Goals (>= 40x Evidently, <= 2x the floor, every method): {'met' if goals_met else 'NOT met'}.")
    return 0 if all_agree and goals_met else 1


if __name__ == "__main__":
    sys.exit(main())
