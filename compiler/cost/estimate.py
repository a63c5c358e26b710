"""The monthly estimate of one spec on one target: pipeline steps, serving, LLM tokens, storage.

Every number comes from the spec, the price table, or one of the documented defaults below,
and each line says which in its assumption.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.ir import thaw

from . import compute, schedule
from .model import Estimate, Line
from .prices import PriceBook

DEFAULT_STEP_HOURS = 0.25  # a step without max_runtime: data checks, features, evaluation, tests
UNPRICED_KINDS = frozenset({"register", "approval", "fail", "notify"})  # control steps, seconds long
CAPTURE_RPS = 10.0  # requests per second assumed for captured traffic when no load test names one
CAPTURE_KB = 2.0  # kilobytes stored per captured request and response
USES = {"training": "training", "tuning": "training"}  # any other step kind runs as processing


def estimate(project: ir.Project, target: str, book: PriceBook | None = None,
             history: dict[str, list[float]] | None = None) -> Estimate:
    """The estimate; `history` maps a step name to recorded run hours (their median is used)."""
    book = book or PriceBook()
    est = Estimate(target)
    runs, why = _train_runs(project)
    for pipeline in project.pipelines:
        per_month, pwhy = (runs, why) if pipeline.name != "monitor" else _monitor_runs(pipeline)
        for step in pipeline.steps:
            _add(est, _step_line, project, target, book, pipeline.name, step, per_month, pwhy, history)
    for env in project.deployment.environments if project.deployment else ():
        _add(est, _serving_line, project, target, book, env)
    est.lines += _token_lines(project, target, book)
    _add(est, _capture_line, project, target, book)
    est.lines = [ln for ln in est.lines if ln is not None]
    est.notes += compute.notes(target, project, book)
    names = [compute.table_name(target)] + (["tokens"] if any(ln.section == "llm" for ln in est.lines) else [])
    est.tables = {name: f"{book.table(name).get('as_of')}, {book.table(name).get('source', '')}" for name in names}
    return est


def _add(est: Estimate, build, *args) -> None:
    """Append `build(*args)`'s line, or a note naming what the price table cannot price."""
    try:
        est.lines.append(build(*args))
    except compute.NoPrice as exc:
        est.notes.append(str(exc))


def _train_runs(project: ir.Project) -> tuple[float, str]:
    triggers = project.triggers
    return schedule.train_runs(triggers.schedule if triggers else None, triggers.data if triggers else None)


def _monitor_runs(pipeline: ir.Pipeline) -> tuple[float, str]:
    if not pipeline.schedule:
        return schedule.MANUAL_RUNS, f"no schedule: {schedule.MANUAL_RUNS:g} runs a month assumed"
    return schedule.runs_per_month(pipeline.schedule), f"schedule `{pipeline.schedule}`"


def _median(values: list[float]) -> float:
    """The median (statistics' import costs validate ~20 ms through decimal)."""
    ordered, mid = sorted(values), len(values) // 2
    return ordered[mid] if len(values) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _step_hours(step: ir.Step, history: dict[str, list[float]] | None) -> tuple[float, float, str]:
    """(low, high, why) hours of one run of the step."""
    ceiling = step.max_runtime_seconds / 3600 if step.max_runtime_seconds else None
    recorded = (history or {}).get(step.name)
    if recorded:
        median = _median(recorded)
        high = ceiling if ceiling is not None else median
        return median, max(high, median), f"median of {len(recorded)} recorded runs {median:.3g} h"
    if ceiling is not None:
        return ceiling, ceiling, f"max_runtime {ceiling:g} h as the ceiling"
    return DEFAULT_STEP_HOURS, DEFAULT_STEP_HOURS, f"{DEFAULT_STEP_HOURS:g} h per run assumed"


def _step_line(project: ir.Project, target: str, book: PriceBook, pipeline: str, step: ir.Step,
               runs: float, runs_why: str, history: dict[str, list[float]] | None) -> Line | None:
    if step.kind in UNPRICED_KINDS or step.resources is None:
        return None
    rate = compute.rate(target, step.resources, USES.get(step.kind, "processing"), project, book)
    low_h, high_h, hours_why = _step_hours(step, history)
    trials = step_trials(project, step)
    spot = rate.spot_discount if step.spot and step.spot.enabled else 0.0
    parts = [f"{runs:.4g} runs/month ({runs_why})", hours_why]
    if trials > 1:
        parts.append(f"x {trials} trials")
    if spot:
        parts.append(f"spot: {spot:.0%} off")
    return Line(target, pipeline, step.name, rate.resource, runs * trials * low_h, runs * trials * high_h, "h",
                round(rate.usd_per_hour * (1 - spot), 6), "; ".join(parts), step.span)


def step_trials(project: ir.Project, step: ir.Step) -> int:
    sweep = project.training.sweep if project.training else None
    return sweep.max_trials if step.kind == "tuning" and sweep else 1


def serving_of(project: ir.Project) -> tuple[ir.Resources, ir.Autoscaling, ir.Span] | None:
    """What each environment serves with: the LLM engine when the spec has one, else the model server."""
    llm_serving = project.llm.serving if project.llm else None
    if llm_serving:
        return llm_serving.resources, llm_serving.autoscaling, llm_serving.span
    if project.deployment:
        s = project.deployment.serving
        return s.resources, s.autoscaling, s.span
    return None


def _serving_line(project: ir.Project, target: str, book: PriceBook, env: ir.Environment) -> Line | None:
    found = serving_of(project)
    if found is None:
        return None
    res, scaling, span = found
    rate = compute.rate(target, res, "serving", project, book)
    hours = schedule.HOURS_PER_MONTH
    floor, floor_why = compute.replica_floor(target, res, scaling)
    why = f"{floor}-{scaling.max_replicas} replicas x {hours:g} h"
    if floor == 0:
        why += "; scales to zero (low end 0)"
    elif floor_why:
        why += f"; {floor_why}"
    return Line(target, "serving", env.name, rate.resource, floor * hours, scaling.max_replicas * hours,
                "h", rate.usd_per_hour, why, scaling.span if scaling.span != ir.NO_SPAN else span)


def _token_lines(project: ir.Project, target: str, book: PriceBook) -> list[Line]:
    """Hosted gateway routes: the gateway's monthly budget is the ceiling of token spend."""
    gateway = project.llm.gateway if project.llm else None
    hosted = [r for r in gateway.routes if r.provider != "self_hosted"] if gateway else []
    budget = float(thaw(gateway.budget).get("monthly_usd", 0)) if gateway else 0.0
    if not hosted or not budget:
        return []
    table = book.table("tokens")
    share = budget / len(hosted)
    lines = []
    for route in hosted:
        price = float((table.get("models") or {}).get(route.model, table.get("default_usd_per_million", 5.0)))
        lines.append(Line(target, "llm", route.name, f"{route.provider}/{route.model}", 0.0, round(share / price, 4),
                          "M tokens", price, f"gateway budget {budget:g} USD/month split over {len(hosted)} hosted "
                          f"route(s); the budget caps spend (low end 0)", route.span))
    return lines


def _capture_line(project: ir.Project, target: str, book: PriceBook) -> Line | None:
    """Captured requests and responses, stored for monitoring and shadow replay."""
    if not (project.monitoring and project.deployment):
        return None
    envs = project.deployment.environments
    shadow = next((e.strategy.sample for e in envs if e.strategy.type == "shadow" and e.strategy.sample), None)
    load = next((e.load_test.rps for e in envs if e.load_test), None)
    rps, sample = float(load or CAPTURE_RPS), shadow or 1.0
    gb = round(rps * 3600 * schedule.HOURS_PER_MONTH * sample * CAPTURE_KB / 1e6, 4)
    table = book.table(compute.table_name(target))
    why = (f"{rps:g} req/s ({'the load test' if load else 'assumed'}) x {sample:g} sampled x {CAPTURE_KB:g} KB, "
           f"one month kept; {table.get('storage_source', '')}")
    return Line(target, "storage", "captured traffic", "object storage", gb, gb, "GB-month",
                float(table.get("storage_gb_month", 0.0)), why, project.monitoring.span)
