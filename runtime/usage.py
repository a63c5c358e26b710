"""What each step used: its wall time and resources, recorded in MLflow for `mlopsc cost --actual`.

The local runner (`run_walk`) records one MLflow run per executed step in the experiment
`mlopsc-usage` of its tracking store (apart from the project's own experiment, whose runs are
models), tagged with the project, pipeline, step, target and the spec's labels, with the metric
`wall_seconds`. The runner process holds the MLflow client already, so steps pay nothing for it;
cloud targets bill through the labels their resources carry. Recording never fails a run: a store
that cannot be written costs one warning line.
"""

from __future__ import annotations

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


def record(client_of: Any, project: Any, pipeline: str, step: Any, seconds: float, status: str,
           target: str = "local", warn=print) -> None:
    """One usage run for an executed step (`status`: ok | failed) through `client_of()`'s MlflowClient."""
    try:
        client = client_of()
        found = client.get_experiment_by_name(EXPERIMENT)
        experiment = found.experiment_id if found is not None else client.create_experiment(EXPERIMENT)
        run = client.create_run(experiment, run_name=f"{pipeline}/{step.name}",
                                tags=usage_tags(project, pipeline, step, target, status))
        client.log_metric(run.info.run_id, "wall_seconds", round(seconds, 3))
        client.set_terminated(run.info.run_id, "FINISHED" if status == "ok" else "FAILED")
    except Exception as exc:  # noqa: BLE001 - usage is bookkeeping: the run's own result stands
        warn(f"warning: step usage not recorded in MLflow: {type(exc).__name__}: {exc}")
