"""E208, E304, E407: LLM parts that contradict or need each other (a `lora` block with full
fine-tuning, fallback cycles, an eval schedule without a suite, a self-hosted route without
serving)."""

from __future__ import annotations

from .. import ir
from .report import Report


def fine_tune_method(p: ir.Project, r: Report) -> None:
    """E208 a `lora` block when the method trains every weight (`full`)."""
    ft = p.llm.fine_tune if p.llm else None
    if ft is not None and ft.method == "full" and r.written(ft.span, "lora"):
        r.error(ft.span, "E208", "`lora` does not apply to `method: full` (every weight is trained)",
                "remove `lora`, or set `method: lora` or `qlora`", at=("lora",), key=True)


def fallback_cycles(p: ir.Project, r: Report) -> None:
    """E304 fallbacks that lead back to the route they started from (a -> b -> a)."""
    gateway = p.llm.gateway if p.llm else None
    if gateway is None:
        return
    edges = {source: targets for source, targets in gateway.fallbacks}
    for source, targets in gateway.fallbacks:
        for i, target in enumerate(targets):
            if target != source and _reaches(edges, target, source):
                r.error(gateway.span, "E304", f"fallbacks form a cycle: `{source}` -> `{target}` -> ... -> `{source}`",
                        "a fallback chain must end; drop one of the fallbacks", at=("fallbacks", source, i))


def _reaches(edges: dict[str, tuple[str, ...]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name == goal:
            return True
        if name not in seen:
            seen.add(name)
            todo.extend(edges.get(name, ()))
    return False


def eval_schedule(p: ir.Project, r: Report) -> None:
    """E407 `monitoring.evals` on a schedule with no `evals.suite` to rerun."""
    m = p.monitoring
    if m is not None and m.evals_schedule is not None and not (p.evals and p.evals.suite):
        r.error(m.span, "E407", "`monitoring.evals` reruns the eval suite, but `evals.suite` is not defined",
                "add `evals.suite` (dataset, scorers, min_score), or remove `monitoring.evals`", at=("evals",))


def self_hosted_routes(p: ir.Project, r: Report) -> None:
    """E407 a `self_hosted` gateway route when nothing is served (`llm.serving` is missing)."""
    gateway = p.llm.gateway if p.llm else None
    if gateway is None or p.llm.serving is not None:
        return
    for route in gateway.routes:
        if route.provider == "self_hosted":
            r.error(route.span, "E407", f"route `{route.name}` is self_hosted, but `llm.serving` is not defined",
                    "add `llm.serving` (the engine that serves the fine-tuned model), or use a hosted provider",
                    at=("provider",))


RULES = (fine_tune_method, fallback_cycles, eval_schedule, self_hosted_routes)
