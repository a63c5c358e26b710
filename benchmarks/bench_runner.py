"""Runner overhead: the example's train pipeline through `mlopsc run` against calling the same
step functions directly in one Python process, on the same data, one run each.

    python benchmarks/bench_runner.py

Both start from an empty work directory (no cache, a new MLflow SQLite store) and do the same
work: validate, features, train (the spec's sweep), evaluate, register. The runner's overhead is
one interpreter per step (imports of pandas, MLflow and torch again each time), content hashing
for the cache, staging and renaming outputs, and the runner's own start-up. The direct run pays
its imports once; its time is measured from a fresh interpreter too (`python -c`), so both
include start-up. Prints a Markdown table, the overhead in seconds and in percent.
"""

from __future__ import annotations

import os
import platform
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


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(argv)}\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def main() -> None:
    data = SPEC.parent / "churn_local" / "data" / "customers.parquet"
    if not data.exists():
        subprocess.run([sys.executable, str(SPEC.parent / "churn_local" / "make_data.py")], check=True)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", PYTHONWARNINGS="ignore", MLOPSC_TARGET="local")
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        direct, _ = timed([sys.executable, "-c", DIRECT, str(SPEC), a], {**env, "MLOPSC_WORKDIR": a})
        runner, stdout = timed([sys.executable, "-m", "mlopsc", "run", str(SPEC), "--pipeline", "train",
                                "--workdir", b], env)
        per_step = [ln for ln in stdout.splitlines() if ln.startswith("  ") and ln.rstrip().endswith(" s")
                    or (ln.startswith("  ") and " s  " in ln)]
    overhead = runner - direct
    print(f"Train pipeline of specs/churn-local.yaml (validate, features, train with a 3-trial sweep, "
          f"evaluate, register); one run each, {os.cpu_count()} CPUs, Python {platform.python_version()}\n")
    print("| how | wall time |")
    print("|---|---|")
    print(f"| step functions called directly, one process | {direct:.1f} s |")
    print(f"| `mlopsc run --pipeline train` (one process per step) | {runner:.1f} s |")
    print(f"\nrunner overhead: {overhead:+.1f} s ({overhead / direct * 100:+.0f}%)")
    print("\nper step under the runner:")
    for line in per_step:
        print(line)


if __name__ == "__main__":
    main()
