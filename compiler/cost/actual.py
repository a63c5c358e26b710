"""`mlopsc cost --actual`: the step runs recorded in MLflow (runtime/usage.py), summed per month
and priced like the estimate, beside the estimate of the pipeline steps.

Reads the same tracking store as `mlopsc run`: `--tracking-uri`, else the spec's `tracking.uri`,
else `MLFLOW_TRACKING_URI`, else the embedded store under the working directory. Imports MLflow,
so it is never on the validate/compile path.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlopsc import ir

from . import compute
from .estimate import USES
from .model import Estimate
from .prices import PriceBook

PIPELINE_SECTIONS = ("train", "deploy", "monitor")


@dataclass(frozen=True)
class StepRun:
    month: str  # YYYY-MM (UTC) of the run's start
    target: str
    pipeline: str
    step: str
    seconds: float
    resources: ir.Resources | None


@dataclass
class MonthSpend:
    month: str
    target: str
    runs: int = 0
    hours: float = 0.0
    usd: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)  # pipeline/step -> hours
    estimate_usd: tuple[float, float] = (0.0, 0.0)  # the pipeline steps' estimate a month

    def as_dict(self) -> dict[str, Any]:
        return {"month": self.month, "target": self.target, "runs": self.runs, "hours": round(self.hours, 6),
                "usd": round(self.usd, 2), "steps": {k: round(v, 6) for k, v in sorted(self.steps.items())},
                "estimate_pipeline_steps_usd": list(self.estimate_usd)}


def tracking_uri(project: ir.Project, explicit: str | None) -> str:
    from mlopsc.runtime.platforms.tracking_store import resolve_tracking_uri

    return resolve_tracking_uri(explicit, project, os.getcwd())


def recorded_runs(project: ir.Project, uri: str) -> list[StepRun]:
    """Every usage run of this project in the store, oldest first."""
    if uri.startswith("sqlite:///") and not os.path.exists(uri.removeprefix("sqlite:///")):
        return []  # nothing ran here yet: reading must not create a store
    import logging

    from mlflow.tracking import MlflowClient
    from mlopsc.runtime.usage import EXPERIMENT, KIND_TAG, write

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # its schema-migration notes are noise here
    client = MlflowClient(tracking_uri=uri)
    write(client, Path(os.getcwd()), [])  # records a cached run left pending (runtime/usage.py)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    query = f"tags.`{KIND_TAG}` = 'step' and tags.`mlopsc.project` = '{project.name}'"
    runs = client.search_runs([experiment.experiment_id], filter_string=query, max_results=50000,
                              order_by=["attributes.start_time ASC"])
    return [_step_run(r) for r in runs if "wall_seconds" in r.data.metrics]


def _step_run(run: Any) -> StepRun:
    tags = run.data.tags
    month = datetime.datetime.fromtimestamp(run.info.start_time / 1000, datetime.UTC).strftime("%Y-%m")
    res = None
    if "mlopsc.cpu" in tags:
        res = ir.Resources(float(tags["mlopsc.cpu"]), int(tags["mlopsc.memory_bytes"]),
                           int(tags.get("mlopsc.gpu_count") or 0), tags.get("mlopsc.gpu_type") or None)
    return StepRun(month, tags.get("mlopsc.target", "local"), tags.get("mlopsc.pipeline", ""),
                   tags.get("mlopsc.step", ""), float(run.data.metrics["wall_seconds"]), res)


def history(runs: list[StepRun]) -> dict[str, list[float]]:
    """Step name -> recorded hours, for the estimate's median."""
    found: dict[str, list[float]] = {}
    for run in runs:
        found.setdefault(run.step, []).append(run.seconds / 3600)
    return found


def monthly_spend(project: ir.Project, runs: list[StepRun], estimates: list[Estimate],
                  book: PriceBook) -> list[MonthSpend]:
    by_target = {e.target: e for e in estimates}
    months: dict[tuple[str, str], MonthSpend] = {}
    for run in runs:
        spend = months.setdefault((run.month, run.target), MonthSpend(run.month, run.target))
        hours = run.seconds / 3600
        key = f"{run.pipeline}/{run.step}"
        spend.runs += 1
        spend.hours += hours
        spend.steps[key] = spend.steps.get(key, 0.0) + hours
        spend.usd += hours * _hourly(project, run, book)
    for spend in months.values():
        est = by_target.get(spend.target)
        if est is not None:
            lines = [ln for ln in est.lines if ln.section in PIPELINE_SECTIONS]
            spend.estimate_usd = (round(sum(ln.low_usd for ln in lines), 2), round(sum(ln.high_usd for ln in lines), 2))
    return [months[k] for k in sorted(months)]


def _hourly(project: ir.Project, run: StepRun, book: PriceBook) -> float:
    if run.resources is None:
        return 0.0
    pipeline = project.pipeline(run.pipeline)
    step = pipeline.step(run.step) if pipeline else None
    use = USES.get(step.kind, "processing") if step else "processing"
    try:
        return compute.rate(run.target, run.resources, use, project, book).usd_per_hour
    except compute.NoPrice:
        return 0.0


def render_actual(spends: list[MonthSpend], fmt: str, uri: str = "") -> str:
    from .render import usd, usd_range

    if fmt == "markdown":
        head = "| month | target | step runs | hours | spend | estimate (pipeline steps) |"
        out = ["", "### Actual spend (recorded step runs)", "", head, "|---|---|---:|---:|---:|---:|"]
        out += [f"| {s.month} | {s.target} | {s.runs} | {s.hours:.4f} | {usd(s.usd)} | {usd_range(*s.estimate_usd)} |"
                for s in spends]
        return "\n".join(out) + "\n"
    out = [f"actual: recorded step runs in {uri or 'the tracking store'}"]
    if not spends:
        out.append("  none recorded for this project yet (steps record their wall time when they run)")
    for s in spends:
        out.append(f"  {s.month} {s.target}: {s.runs} step runs, {s.hours:.4f} h, {usd(s.usd)} "
                   f"(estimate for the pipeline steps: {usd_range(*s.estimate_usd)} a month)")
        out += [f"    {name}: {hours:.4f} h" for name, hours in sorted(s.steps.items())]
    return "\n".join(out) + "\n"
