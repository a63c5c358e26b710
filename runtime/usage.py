"""What each step used: its wall time and resources, recorded in MLflow for `mlopsc cost --actual`.

One MLflow run per executed step in the experiment `mlopsc-usage` of the step's tracking store
(apart from the project's own experiment, whose runs are models), tagged with the project, the
pipeline, the step, the target and the spec's labels, with the metric `wall_seconds`. Recording
never fails a step: a store that cannot be reached costs one warning line.
"""

from __future__ import annotations

from typing import Any

EXPERIMENT = "mlopsc-usage"
KIND_TAG = "mlopsc.usage"


def usage_tags(ctx: Any, status: str) -> dict[str, str]:
    step = ctx.project.pipeline(ctx.pipeline).step(ctx.step) if ctx.project.pipeline(ctx.pipeline) else None
    res = step.resources if step is not None else None
    tags = {KIND_TAG: "step", "mlopsc.project": ctx.project.name, "mlopsc.pipeline": ctx.pipeline,
            "mlopsc.step": ctx.step, "mlopsc.target": ctx.target, "mlopsc.status": status}
    if res is not None:
        tags.update({"mlopsc.cpu": f"{res.cpu:g}", "mlopsc.memory_bytes": str(res.memory_bytes),
                     "mlopsc.gpu_count": str(res.gpu_count), "mlopsc.gpu_type": res.gpu_type or ""})
    tags.update({f"label.{k}": v for k, v in ctx.project.labels})
    return tags


def record(ctx: Any, seconds: float, status: str, warn=print) -> None:
    """One usage run for the step (`status`: ok | failed | interrupted)."""
    if not (ctx.pipeline and ctx.step):
        return  # a bare `mlopsc step` call outside any pipeline: nothing to bill it to
    try:
        from mlopsc.runtime import platforms
        from mlopsc.runtime.tracking import Tracker

        uri = platforms.current(ctx).tracking_uri(ctx)
        client = Tracker(ctx.root, experiment=EXPERIMENT, tracking_uri=uri)
        run = client.client.create_run(client.experiment_id, run_name=f"{ctx.pipeline}/{ctx.step}",
                                       tags=usage_tags(ctx, status))
        client.client.log_metric(run.info.run_id, "wall_seconds", round(seconds, 3))
        client.client.set_terminated(run.info.run_id, "FINISHED" if status == "ok" else "FAILED")
    except Exception as exc:  # noqa: BLE001 - usage is bookkeeping: the step's own result stands
        warn(f"warning: step usage not recorded in MLflow: {type(exc).__name__}: {exc}")
