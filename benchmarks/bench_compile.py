"""The compile path, whole process, each figure against its yardstick in the same run.

    python benchmarks/bench_compile.py [--runs 15] [--sizes 1,10,40,160]

1. `mlopsc compile specs/churn.yaml --target all` (four targets, three pipelines each, plus
   KServe/endpoint manifests and schedules) against kfp 2.17's DSL compiler compiling the churn
   train pipeline alone (the DSL program of bench_kubeflow.py), twice: again into the same folder
   (what re-running compile does: bundles that already hold exactly their files are compared and
   left untouched) and into an empty folder each run (every file written). Goal: mlopsc >= 4x faster.
2. `mlopsc validate specs/churn.yaml` against the floor: a Python process that parses the same
   spec with libyaml's C loader and dumps it as JSON (what any tool reading the file pays).
   Goal: <= 1.5x the floor.
3. `mlopsc compile --target all` of the churn spec grown to N datasets and N deployment
   environments (N = 1, 10, 40, 160): the time should grow linearly with N (the table shows the
   time per added dataset+environment between sizes, which stays flat when growth is linear).

Runs alternate between the compared commands so load from other processes hits both alike;
medians are reported. Bytecode caches are allowed, as users have them. Exits 1 when a goal is
missed. Needs the `kubeflow` extra (kfp) in the same interpreter.
"""

from __future__ import annotations

import argparse
import copy
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_kubeflow import KFP_DSL  # noqa: E402  (one copy of the kfp program)

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
FLOOR = "import json, sys, yaml; json.dump(yaml.load(open(sys.argv[1], 'rb'), Loader=yaml.CSafeLoader), sys.stdout)"


CPU: dict[str, float] = {}  # command -> median CPU seconds (user + system) of its last `interleaved` runs


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one whole-process run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, env=ENV)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr.decode()}")
    return seconds, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def prepared(command):
    """A command's argv, after its untimed set-up: a command is an argv or (set-up, argv)."""
    if isinstance(command, tuple):
        command[0]()
        return command[1]
    return command


def interleaved(commands: dict, runs: int) -> dict:
    """Median wall seconds per command, the commands taking turns (after one warm-up each); the
    median CPU seconds go to CPU (on a loaded machine, CPU time is what waiting does not inflate)."""
    times: dict = {name: [] for name in commands}
    for command in commands.values():
        run_once(prepared(command))
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(run_once(prepared(command)))
    CPU.update({name: statistics.median(c for _, c in t) for name, t in times.items()})
    return {name: statistics.median(w for w, _ in t) for name, t in times.items()}


def grown_spec(n: int) -> dict:
    """The churn spec with n datasets (customers + n-1 like holdout) and n environments
    (production + n-1 like staging)."""
    spec = yaml.safe_load(open(os.path.join(ROOT, "specs", "churn.yaml"), encoding="utf-8"))
    datasets = spec["data"]["datasets"]
    holdout = datasets.pop("holdout")
    for i in range(1, n):
        datasets[f"holdout_{i:03d}"] = {**holdout, "uri": f"s3://acme-ml/churn/holdout-{i:03d}.parquet"}
    spec["evals"]["dataset"] = "holdout_001" if n > 1 else "customers"
    envs = spec["deployment"]["environments"]
    staging = envs.pop("staging")
    for i in range(1, n):
        envs[f"staging-{i:03d}"] = copy.deepcopy(staging)
    return spec


def write_specs(tmp: str, sizes: list[int]) -> dict[int, str]:
    paths = {}
    os.symlink(os.path.join(ROOT, "specs", "churn_local"), os.path.join(tmp, "churn_local"))  # the files it names
    for n in sizes:
        path = os.path.join(tmp, f"churn-{n}.yaml")
        with open(path, "w", encoding="utf-8") as fh:
            yaml.safe_dump(grown_spec(n), fh, sort_keys=False)
        paths[n] = path
    return paths


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sizes", default="1,10,40,160")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    mlopsc = shutil.which("mlopsc", path=os.path.dirname(sys.executable)) or "mlopsc"
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "churn_kfp_dsl.py")
        with open(script, "w", encoding="utf-8") as fh:
            fh.write(KFP_DSL)
        out = os.path.join(tmp, "out")
        spec = os.path.join("specs", "churn.yaml")
        t = interleaved({
            "all": [mlopsc, "compile", spec, "--target", "all", "--out", out],
            "all-empty": (lambda: shutil.rmtree(out + "-empty", ignore_errors=True),
                          [mlopsc, "compile", spec, "--target", "all", "--out", out + "-empty"]),
            "kfp": [sys.executable, script, os.path.join(tmp, "kfp.yaml")],
            "validate": [mlopsc, "validate", spec],
            "floor": [sys.executable, "-c", FLOOR, spec],
            "python": [sys.executable, "-c", "pass"],
        }, args.runs)
        print(f"Whole process, median of {args.runs} interleaved runs, {os.cpu_count()} cores, load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} after them.\n")
        print("| command | median | yardstick, same run | ratio | goal |")
        print("|---|---|---|---|---|")
        speedup, over_floor = t["kfp"] / t["all"], t["validate"] / t["floor"]
        print(f"| `mlopsc compile specs/churn.yaml --target all` (4 targets x 3 pipelines) again into the same folder "
              f"(nothing changed: the bundles are compared and left untouched) | {t['all'] * 1000:.0f} ms | "
              f"kfp 2.17 DSL compiler, train pipeline only: {t['kfp'] * 1000:.0f} ms | **{speedup:.1f}x** faster | >= 4x |")
        print(f"| same, into an empty folder (50 files written) | {t['all-empty'] * 1000:.0f} ms | "
              f"{t['kfp'] * 1000:.0f} ms | **{t['kfp'] / t['all-empty']:.1f}x** faster | >= 4x |")
        print(f"| `mlopsc validate specs/churn.yaml` | {t['validate'] * 1000:.0f} ms | floor (python + C YAML parse + "
              f"JSON dump): {t['floor'] * 1000:.0f} ms | **{over_floor:.2f}x** the floor | <= 1.5x |")
        print(f"| `python -c pass` (interpreter start-up) | {t['python'] * 1000:.0f} ms | | | |")
        print(f"\nCPU time (user + system), medians of the same runs: compile --target all {CPU['all'] * 1000:.0f} ms, "
              f"kfp {CPU['kfp'] * 1000:.0f} ms (**{CPU['kfp'] / CPU['all']:.1f}x**; into an empty folder "
              f"{CPU['all-empty'] * 1000:.0f} ms, **{CPU['kfp'] / CPU['all-empty']:.1f}x**); validate "
              f"{CPU['validate'] * 1000:.0f} ms, floor {CPU['floor'] * 1000:.0f} ms "
              f"(**{CPU['validate'] / CPU['floor']:.2f}x**); python -c pass {CPU['python'] * 1000:.0f} ms.")
        ok &= speedup >= 4 and t["kfp"] / t["all-empty"] >= 4 and over_floor <= 1.5
        paths = write_specs(tmp, sizes)
        grown = interleaved({n: [mlopsc, "compile", p, "--target", "all", "--out", out] for n, p in paths.items()},
                            max(3, args.runs // 3))
    print(f"\n`mlopsc compile --target all`, churn spec with N datasets and N environments "
          f"(median of {max(3, args.runs // 3)}):\n")
    print("| N | median | per added dataset+environment since the previous N |")
    print("|---|---|---|")
    prev = None
    for n in sizes:
        step = f"{(grown[n] - grown[prev]) / (n - prev) * 1000:.1f} ms" if prev else ""
        print(f"| {n} | {grown[n] * 1000:.0f} ms | {step} |")
        prev = n
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
