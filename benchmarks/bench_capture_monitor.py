"""The monitor's drift check on captured traffic: 1M captured rows x 20 features read from capture
files (parsing included) and compared with a 1M-row reference, against the drift computation
alone on the same rows already in memory (`bench_drift.py`'s figure).

    python benchmarks/bench_capture_monitor.py [--rows 1000000] [--batch 100] [--formats local,sagemaker] [--runs 1]

Run from the repository root with mlopsc installed (/work/venv or the worktree's .venv). Data:
`bench_drift.make_frame` (20 features, 15 numeric and 5 categorical, five of them shifted in the
current rows). The current rows are written, untimed, as the capture files of each format
(`tests/capture_samples.py`: our servers' JSONL, or SageMaker DataCapture with base64 and JSON
bodies), `--batch` instances per captured request. Timed, in one process after a warm-up on 1,000
rows: `captures.read_window(dir)` (list, parse, rows as a DataFrame) then `drift.compute_drift`
with PSI, against `compute_drift` alone on the in-memory frame; the parse's floor is pyarrow's JSON
reader over the same files doing nothing else. Prints a Markdown table and exits
1 unless the verdicts on the captured rows are the in-memory frame's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_drift import CATEGORICAL, NUMERIC, SEED_CURRENT, SEED_REFERENCE, SHIFTED, make_frame
from capture_samples import write_format


def write_captures(kind: str, current, directory: Path, batch: int) -> int:
    rows = json.loads(current.to_json(orient="records"))
    preds = [0.5] * len(rows)
    write_format(kind, rows, preds, directory, dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC), batch=batch)
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def drift_of(reference, current) -> dict:
    from mlopsc.runtime import drift

    return drift.compute_drift(reference, current, method="psi", threshold=0.2, features=NUMERIC + CATEGORICAL,
                               categorical=CATEGORICAL, numeric=NUMERIC)


def parse_floor(directory: Path) -> float:
    """pyarrow's JSON reader over the same files, nothing else: the least any JSON reader does."""
    import pyarrow.json as pj

    gc.collect()
    start = time.perf_counter()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        pj.read_json(path)
    return time.perf_counter() - start


def from_captures(reference, directory: Path) -> tuple[float, float, dict]:
    from mlopsc.runtime import captures

    gc.collect()
    start = time.perf_counter()
    frame, _ = captures.read_window(str(directory))
    parsed = time.perf_counter()
    report = drift_of(reference, frame)
    return parsed - start, time.perf_counter() - parsed, report


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--formats", default="local,sagemaker")
    parser.add_argument("--runs", type=int, default=1)
    a = parser.parse_args()
    reference = make_frame(a.rows, SEED_REFERENCE, shifted=False)
    current = make_frame(a.rows, SEED_CURRENT, shifted=True)
    warm = Path(tempfile.mkdtemp(prefix="bench-capture-warm-"))
    write_captures("local", current.head(1000), warm, a.batch)
    from_captures(reference.head(1000), warm)
    shutil.rmtree(warm)
    gc.collect()
    start = time.perf_counter()
    baseline = drift_of(reference, current)
    alone = time.perf_counter() - start
    print("| format | capture files | parse (JSON floor) | drift | total | drift alone (in memory) | total / alone |")
    print("|---|---|---|---|---|---|---|")
    ok = set(baseline["drifted_features"]) == set(SHIFTED)
    for kind in a.formats.split(","):
        directory = Path(tempfile.mkdtemp(prefix=f"bench-capture-{kind}-"))
        try:
            size = write_captures(kind, current, directory, a.batch)
            best = None
            for _ in range(a.runs):
                parse, dr, report = from_captures(reference, directory)
                if best is None or parse + dr < best[0] + best[1]:
                    best = (parse, dr)
                ok &= report["drifted_features"] == baseline["drifted_features"]
            parse, dr = best
            floor = parse_floor(directory)
            print(f"| {kind} ({a.rows:,} rows in {a.rows // a.batch:,} requests) | {size / 1e6:.0f} MB | "
                  f"{parse:.2f} s ({floor:.2f} s) | {dr:.2f} s | **{parse + dr:.2f} s** | {alone:.2f} s | {(parse + dr) / alone:.1f}x |")
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    print(f"\nflagged: {', '.join(baseline['drifted_features'])} (shifted: {', '.join(SHIFTED)})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
