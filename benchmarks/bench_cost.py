"""Whole-process `mlopsc cost --target all` on the churn example, beside `mlopsc compile` and
`mlopsc validate` of the same spec.

    python benchmarks/bench_cost.py [--runs 20]

Pricing reads four small dated JSON tables, only when a spec is priced, so `cost` must stay in
the range of `compile` (budget: the cost median at most 1.2x compile's). Prints a Markdown table
for the README.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

from timing import time_process  # noqa: E402 - benchmarks/ is the script directory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join("specs", "churn.yaml")
BUDGET_RATIO = 1.2

# As users run it: bytecode caches allowed (see bench_validate.py).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _time(argv: list[str], runs: int) -> list[float]:
    return time_process(argv, runs, ROOT, ENV)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    mlopsc = os.path.join(os.path.dirname(sys.executable), "mlopsc")
    with tempfile.TemporaryDirectory() as out:
        rows = {
            "mlopsc validate specs/churn.yaml (with the budget gate)": _time([mlopsc, "validate", SPEC], args.runs),
            "mlopsc cost specs/churn.yaml --target all": _time([mlopsc, "cost", SPEC, "--target", "all"], args.runs),
            "mlopsc cost specs/churn.yaml --target all --format json":
                _time([mlopsc, "cost", SPEC, "--target", "all", "--format", "json"], args.runs),
            "mlopsc compile specs/churn.yaml --target all": _time([mlopsc, "compile", SPEC, "--target", "all", "--out",
                                                                   out], args.runs),
        }
    print(f"| command ({args.runs} runs, {os.cpu_count()} cores) | median | min |")
    print("|---|---|---|")
    for name, times in rows.items():
        print(f"| {name} | {statistics.median(times) * 1000:.0f} ms | {min(times) * 1000:.0f} ms |")
    cost = statistics.median(rows["mlopsc cost specs/churn.yaml --target all"])
    compile_ = statistics.median(rows["mlopsc compile specs/churn.yaml --target all"])
    print(f"\nmlopsc cost --target all: {cost * 1000:.0f} ms median, {cost / compile_:.2f}x compile --target all "
          f"(budget {BUDGET_RATIO}x)")
    return 0 if cost <= compile_ * BUDGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
