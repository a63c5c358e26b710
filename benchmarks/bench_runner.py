"""Runner overhead and cached re-runs: the example's train pipeline through `mlopsc run` against
calling the same step functions directly in one Python process, on the same data.

    python benchmarks/bench_runner.py [--runs 1]

Each side starts from an empty work directory (no cache, a new MLflow SQLite store) and does the
same work: resolve-data, validate, features, train (the spec's sweep), evaluate, register. The
direct run pays its imports once; its time is measured from a fresh interpreter too (`python
-c`), so both include start-up. The runner's steps are forked from a zygote
(`mlopsc.runtime.step_fork`, the default): one interpreter per run that imported MLflow, torch and
the runtime once; with `MLOPSC_STEP_WORKER=spawn`, warm workers (interpreters spawned ahead of
their step); the run with `MLOPSC_STEP_WORKER=0` (each step a new interpreter started when the
previous one ended) is shown for comparison. One untimed run of the runner comes first (what a
user's machine has had: bytecode caches, and the imports each action's step made, which the next
run's zygote imports ahead).
Then the runner runs again with nothing changed: every step is cached except resolve-data (it
asks the store for the data versions every time), compared with bare interpreter start-up.

The spec's latency gates are loosened in a temporary copy (`relaxed_spec`): on a busy machine the
p95-latency gate could fail on one side and not the other. Goals: overhead <= 10%, the cached
re-run <= 1 s beyond interpreter start-up. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "churn-local.yaml"

DIRECT = r"""
import sys
from pathlib import Path
from mlopsc.api import load_project
from mlopsc.runtime.steps import StepContext, run_step

spec, work = Path(sys.argv[1]), Path(sys.argv[2])
project = load_project(str(spec))
pipeline = project.pipeline("train")
out = lambda step, name: str(work / ".mlopsc" / "runs" / "train" / step / name)
values = {}
params = {p.name: "" if p.default is None else str(p.default) for p in pipeline.params}
params["git_commit"] = "unknown"
for step in pipeline.steps:
    if step.when is not None and values.get((step.when.step, step.when.output)) != step.when.value:
        continue
    inputs = {}
    for i in step.inputs:
        src = i.source
        if hasattr(src, "step"):
            producer = pipeline.step(src.step)
            port = producer.output(src.output)
            inputs[i.name] = out(src.step, src.output) if port.is_artifact else str(values[(src.step, src.output)])
        elif hasattr(src, "param"):
            inputs[i.name] = params.get(src.param, "")
        else:
            inputs[i.name] = str(src.value)
    ctx = StepContext(project=project, spec_dir=spec.parent, args=dict(step.args), inputs=inputs,
                      outputs={o.name: out(step.name, o.name) for o in step.outputs}, workdir=work,
                      log=lambda _m: None)
    run_step(step.action, ctx)
    for o in step.outputs:
        if not o.is_artifact:
            import json
            values[(step.name, o.name)] = json.loads(Path(out(step.name, o.name)).read_text())
print("registered version", values.get(("register", "model_version")))
"""


CPU: list[float] = []  # CPU seconds (user + system, the process and everything it waited for) per `timed` call


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def relaxed_spec(tmp: str) -> Path:
    """The example with its latency gates loosened (the rest unchanged), so a busy machine times
    the same work on both sides instead of failing the evaluation gate on one of them."""
    text = SPEC.read_text(encoding="utf-8").replace("p95_latency_ms: {max: 50}", "p95_latency_ms: {max: 60000}")
    spec = Path(tmp) / SPEC.name
    spec.write_text(text, encoding="utf-8")
    os.symlink(SPEC.parent / "churn_local", Path(tmp) / "churn_local")
    return spec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1, help="timed runs per side (interleaved)")
    runs = parser.parse_args().runs
    data = SPEC.parent / "churn_local" / "data" / "customers.parquet"
    if not data.exists():
        subprocess.run([sys.executable, str(SPEC.parent / "churn_local" / "make_data.py")], check=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "PYTHONDONTWRITEBYTECODE", "MLOPSC_STEP_WORKER")}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", PYTHONWARNINGS="ignore", MLOPSC_TARGET="local")
    direct, runner, cold, cached, start = [], [], [], [], []
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        spec = relaxed_spec(tmp)
        warm = Path(tmp) / "warm-up"
        warm.mkdir()
        # One untimed run first, as a user's machine has had: it leaves the bytecode caches and
        # the imports each action's step made (what the warm workers import ahead of the next).
        timed([sys.executable, "-m", "mlopsc", "run", str(spec), "--pipeline", "train", "--workdir", str(warm)], env)
        for i in range(runs):
            a, b, c = (Path(tmp) / f"{side}{i}" for side in "abc")
            for d in (a, b, c):
                d.mkdir()
            direct.append((timed([sys.executable, "-c", DIRECT, str(spec), str(a)], {**env, "MLOPSC_WORKDIR": str(a)})[0],
                           CPU[-1]))
            run = [sys.executable, "-m", "mlopsc", "run", str(spec), "--pipeline", "train", "--workdir"]
            runner.append((timed(run + [str(b)], env)[0], CPU[-1]))
            cold.append((timed(run + [str(c)], {**env, "MLOPSC_STEP_WORKER": "0"})[0], CPU[-1]))
            seconds, again = timed(run + [str(b)], env)  # nothing changed: every step but resolve-data cached
            cached.append((seconds, CPU[-1]))
            start.append(min((timed([sys.executable, "-c", "pass"], env)[0], CPU[-1]) for _ in range(3)))
    def med(rows, i):
        return statistics.median(r[i] for r in rows)

    def over(rows, i):
        return f"{(med(rows, i) / med(direct, i) - 1) * 100:+.0f}%"

    print(f"Train pipeline of specs/churn-local.yaml (resolve-data, validate, features, train with a 3-trial sweep, "
          f"evaluate, register), latency gates loosened; median of {runs} interleaved run(s), {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, load average {load_before} before and "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} after. CPU = user + system seconds of the process and all "
          "it waited for.\n")
    print("| how | wall time | overhead (goal <= +10%) | CPU time | CPU overhead |")
    print("|---|---|---|---|---|")
    print(f"| step functions called directly, one process | {med(direct, 0):.1f} s | | {med(direct, 1):.1f} s | |")
    print(f"| `mlopsc run --pipeline train` (steps forked from a zygote, the default) | {med(runner, 0):.1f} s | "
          f"**{over(runner, 0)}** | {med(runner, 1):.1f} s | {over(runner, 1)} |")
    print(f"| same, `MLOPSC_STEP_WORKER=0` (each step a new interpreter) | {med(cold, 0):.1f} s | {over(cold, 0)} | "
          f"{med(cold, 1):.1f} s | {over(cold, 1)} |")
    print("\n| | second `mlopsc run --pipeline train`, nothing changed | interpreter start-up (`python -c pass`) | "
          "beyond start-up (goal <= 1 s) |")
    print("|---|---|---|---|")
    print(f"| wall | {med(cached, 0):.2f} s | {med(start, 0):.2f} s | **{med(cached, 0) - med(start, 0):.2f} s** |")
    print(f"| CPU | {med(cached, 1):.2f} s | {med(start, 1):.2f} s | {med(cached, 1) - med(start, 1):.2f} s |")
    print("\nthe cached run's lines:\n")
    print("\n".join("    " + line for line in again.splitlines()))


if __name__ == "__main__":
    main()
