"""E401-E406: rollout and lifecycle rules (canary steps, strategy options, replicas, spot wait,
what a production environment needs)."""

from __future__ import annotations

from .. import ir
from ..units import format_duration
from .report import Report

PRODUCTION_NAMES = ("production", "prod")


def _environments(p: ir.Project) -> tuple[ir.Environment, ...]:
    return p.deployment.environments if p.deployment else ()


def canary_steps(p: ir.Project, r: Report) -> None:
    """E401 a canary without steps, with steps that do not strictly increase or do not end at 100."""
    for env in _environments(p):
        s = env.strategy
        if s.type != "canary":
            continue
        if not s.steps:
            r.error(s.span, "E401", "a canary strategy needs `steps` (traffic percentages)",
                    "for example `steps: [5, 25, 50, 100]`")
            continue
        bad = next((i for i in range(1, len(s.steps)) if s.steps[i] <= s.steps[i - 1]), None)
        if bad is not None:
            r.error(s.span, "E401", f"canary steps must strictly increase: {s.steps[bad]} follows {s.steps[bad - 1]}",
                    at=("steps", bad))
        elif s.steps[-1] != 100:
            r.error(s.span, "E401", f"canary steps must end at 100, not {s.steps[-1]}",
                    "the last step sends all traffic to the new model", at=("steps", len(s.steps) - 1))


def strategy_options(p: ir.Project, r: Report) -> None:
    """E402 a shadow without `sample`, an ab_test without `split`. (An option written for the
    wrong strategy type is a schema error, E208.)"""
    for env in _environments(p):
        s = env.strategy
        if s.type == "shadow" and s.sample is None:
            r.error(s.span, "E402", "a shadow strategy needs `sample` (the share of traffic mirrored)",
                    "for example `sample: 0.1`")
        if s.type == "ab_test" and s.split is None:
            r.error(s.span, "E402", "an ab_test strategy needs `split` (the challenger's share)",
                    "for example `split: 0.5`")


def replicas(p: ir.Project, r: Report) -> None:
    """E403 min_replicas above max_replicas, for model and LLM serving."""
    scalings = [p.deployment.serving.autoscaling if p.deployment else None,
                p.llm.serving.autoscaling if p.llm and p.llm.serving else None]
    for scaling in scalings:
        if scaling is not None and scaling.min_replicas > scaling.max_replicas:
            r.error(scaling.span, "E403", "`min_replicas` is greater than `max_replicas`", at=("min_replicas",))


def spot_wait(p: ir.Project, r: Report) -> None:
    """E404 a spot max_wait shorter than max_runtime. Either one left out defaults to the other."""
    for job in (p.training, p.llm.fine_tune if p.llm else None):
        spot = job.spot if job else None
        if spot is not None and spot.enabled and spot.max_wait_seconds < job.max_runtime_seconds:
            r.error(spot.span, "E404",
                    f"spot `max_wait` ({format_duration(spot.max_wait_seconds)}) is shorter than "
                    f"`max_runtime` ({format_duration(job.max_runtime_seconds)})",
                    "max_wait includes waiting for capacity and must cover the whole runtime", at=("max_wait",))


def production(p: ir.Project, r: Report) -> None:
    """E405 a production environment without an evaluation gate; E406 without rollback rules."""
    has_gate = bool(p.evals and (p.evals.thresholds or p.evals.suite))
    for env in _environments(p):
        if env.name not in PRODUCTION_NAMES:
            continue
        if not has_gate:
            r.error(env.span, "E405", f"environment `{env.name}` needs an evaluation gate",
                    "add `evals.metrics` thresholds or an `evals.suite` so only passing models ship", key=True)
        rollback = env.rollback
        if rollback is None or (rollback.max_error_rate is None and rollback.max_p99_latency_ms is None):
            r.error(env.span, "E406", f"environment `{env.name}` needs rollback rules",
                    "add `rollback: {max_error_rate: 0.01, max_p99_latency_ms: 500}`", key=True)


RULES = (canary_steps, strategy_options, replicas, spot_wait, production)
