"""Whole-process `mlopsc validate` on the churn example, against the plain alternative.

    python benchmarks/bench_validate.py [--runs 20]

The alternative is what a team would script without mlopsc: PyYAML + jsonschema validating the
same file against the same schema (no located messages, no semantic checks). Budget for
mlopsc: median under 0.2 s on 2 cores. Prints a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from timing import time_process  # noqa: E402 - benchmarks/ is the script directory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join("specs", "churn.yaml")
BUDGET_S = 0.2

PLAIN = """
import json, sys, yaml, jsonschema
from importlib import resources
schema = json.loads(resources.files("mlopsc.schemas").joinpath("mlops.schema.json").read_text())
errors = list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(open(sys.argv[1]))))
sys.exit(1 if errors else 0)
"""


# As users run it: bytecode caches allowed (a shell exporting PYTHONDONTWRITEBYTECODE would make
# every run recompile mlopsc's sources while the plain script's libraries use installed .pyc files).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _time(argv: list[str], runs: int) -> list[float]:
    return time_process(argv, runs, ROOT, ENV)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    mlopsc = os.path.join(os.path.dirname(sys.executable), "mlopsc")
    rows = {
        "python -c pass (interpreter floor)": _time([sys.executable, "-c", "pass"], args.runs),
        "mlopsc validate specs/churn.yaml": _time([mlopsc, "validate", SPEC], args.runs),
        "pyyaml + jsonschema script (schema only)": _time([sys.executable, "-c", PLAIN, SPEC], args.runs),
    }
    print(f"| command ({args.runs} runs, {os.cpu_count()} cores) | median | min |")
    print("|---|---|---|")
    for name, times in rows.items():
        print(f"| {name} | {statistics.median(times) * 1000:.0f} ms | {min(times) * 1000:.0f} ms |")
    ours = statistics.median(rows["mlopsc validate specs/churn.yaml"])
    plain = statistics.median(rows["pyyaml + jsonschema script (schema only)"])
    print(f"\nmlopsc validate: {ours * 1000:.0f} ms median (budget {BUDGET_S * 1000:.0f} ms); "
          f"{plain / ours:.2f}x the speed of the plain script")
    return 0 if ours < BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
