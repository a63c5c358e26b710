"""What each step used: its wall time and resources, recorded in MLflow for `mlopsc cost --actual`.

The local runner (`run_walk`) records one MLflow run per executed step in the experiment
`mlopsc-usage` of its tracking store (apart from the project's own experiment, whose runs are
models), tagged with the project, pipeline, step, target and the spec's labels, with the metric
`wall_seconds`. The runner writes them at the end of the run: forked from its zygote, which has
MLflow imported and the store open (`python -m mlopsc.runtime.usage WORKDIR TRACKING_URI` writes
the pending file), else through its own MLflow client.
A run that did no real work (only the never-cached data resolution ran) does not import MLflow
for them: it appends them to `<workdir>/.mlopsc/usage-pending.jsonl`, which the next run that
loads MLflow, or `mlopsc cost --actual`, writes into the store first. Recording never fails a
run: a store that cannot be written keeps the records pending and costs one warning line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

EXPERIMENT = "mlopsc-usage"
KIND_TAG = "mlopsc.usage"


def usage_tags(project: Any, pipeline: str, step: Any, target: str, status: str) -> dict[str, str]:
    tags = {KIND_TAG: "step", "mlopsc.project": project.name, "mlopsc.pipeline": pipeline,
            "mlopsc.step": step.name, "mlopsc.target": target, "mlopsc.status": status}
    res = step.resources
    if res is not None:
        tags.update({"mlopsc.cpu": f"{res.cpu:g}", "mlopsc.memory_bytes": str(res.memory_bytes),
                     "mlopsc.gpu_count": str(res.gpu_count), "mlopsc.gpu_type": res.gpu_type or ""})
    tags.update({f"label.{k}": v for k, v in project.labels})
    return tags


PENDING = Path(".mlopsc") / "usage-pending.jsonl"
LOG = Path(".mlopsc") / "usage.log"  # what the writer printed, when the runner's zygote ran it


def entry(project: Any, pipeline: str, step: Any, seconds: float, status: str, target: str = "local") -> dict:
    """One executed step's usage record (`status`: ok | failed), before it is written to MLflow."""
    return {"run_name": f"{pipeline}/{step.name}", "tags": usage_tags(project, pipeline, step, target, status),
            "wall_seconds": round(seconds, 3), "status": status,
            "start_time": int((time.time() - seconds) * 1000)}  # ms, as MLflow keeps it


def pending(workdir: Path) -> list[dict]:
    path = workdir / PENDING
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def keep_pending(workdir: Path, entries: list[dict]) -> None:
    """Append records for a later writer (no MLflow import here)."""
    if entries:
        path = workdir / PENDING
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(e, sort_keys=True) + "\n" for e in entries)


def write(client: Any, workdir: Path, entries: list[dict], warn=print) -> None:
    """Write the pending records and `entries` into MLflow through `client`; what cannot be
    written stays pending (one warning line)."""
    todo = pending(workdir) + list(entries)
    (workdir / PENDING).unlink(missing_ok=True)
    for index, item in enumerate(todo):
        try:
            _write_one(client, item)
        except Exception as exc:  # noqa: BLE001 - usage is bookkeeping: the run's own result stands
            keep_pending(workdir, todo[index:])
            warn(f"warning: step usage not recorded in MLflow (kept in {PENDING}): {type(exc).__name__}: {exc}")
            return


def _write_one(client: Any, item: dict) -> None:
    found = client.get_experiment_by_name(EXPERIMENT)
    experiment = found.experiment_id if found is not None else client.create_experiment(EXPERIMENT)
    run = client.create_run(experiment, run_name=item["run_name"], tags=item["tags"], start_time=item.get("start_time"))
    client.log_metric(run.info.run_id, "wall_seconds", item["wall_seconds"])
    client.set_terminated(run.info.run_id, "FINISHED" if item["status"] == "ok" else "FAILED")


def main(argv: list[str]) -> int:
    """`python -m mlopsc.runtime.usage WORKDIR TRACKING_URI`: write the pending records."""
    from mlflow import MlflowClient

    workdir, tracking_uri = Path(argv[0]), argv[1]
    write(MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri), workdir, [],
          warn=lambda m: print(m, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
