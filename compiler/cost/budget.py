"""The budget gate: validate and compile compare the estimate's upper bound with `cost`.

Over `budget_monthly_usd` is an error (E801), over `alert_at` of it a warning (W802), each
located at the spec line that costs the most and naming the largest lines with a hint.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic

from .estimate import estimate
from .model import Estimate, Line
from .prices import PriceBook, PricesError, book_for
from .render import usd

DEFAULT_TARGETS = ("local",)  # a spec that configures no target is priced as it runs here


def gated_targets(project: ir.Project) -> list[str]:
    """What `validate` prices: the targets the spec configures (else the local run)."""
    return sorted(name for name, _ in project.targets) or list(DEFAULT_TARGETS)


def gate(project: ir.Project, targets: list[str], book: PriceBook | None = None) -> list[Diagnostic]:
    """One diagnostic per target whose upper bound passes the budget or its alert level."""
    if project.cost is None:
        return []
    if book is None:
        try:
            book = book_for(project.spec_path, project.cost.prices)
        except PricesError as exc:
            span = project.cost.span
            return [Diagnostic(span.file, span.line, span.col, "E804", str(exc),
                               hint="`cost.prices` is a JSON or YAML file next to the spec, e.g. "
                                    "{kubernetes: {nodes: {m5.large: {cpu: 2, memory_gib: 8, usd_per_hour: 0.08}}}}")]
    return [d for t in targets for d in _check(project.cost, estimate(project, t, book))]


def _check(cost: ir.Cost, est: Estimate) -> list[Diagnostic]:
    high, budget = est.high_usd, cost.budget_monthly_usd
    alert = budget * cost.alert_at
    if high <= alert:
        return []
    largest = est.largest()
    where = largest[0].span if largest else cost.span
    if high > budget:
        code, severity, what = "E801", "error", f"the budget of {usd(budget)}"
    else:
        code, severity, what = "W802", "warning", f"{cost.alert_at:.0%} of the budget of {usd(budget)}"
    message = (f"on {est.target}, the monthly cost estimate reaches {usd(high)}, over {what}; largest: "
               + ", ".join(_name(ln) for ln in largest))
    return [Diagnostic(where.file, where.line, where.col, code, message, hint=_hint(largest), severity=severity)]


def _name(line: Line) -> str:
    return f"{line.section}/{line.name} {usd(line.high_usd)} (line {line.span.line})"


def _hint(largest: list[Line]) -> str:
    tips = []
    for line in largest:
        if line.section == "serving" and line.quantity_low > 0:
            tips.append(f"scale {line.name} to zero (`min_replicas: 0`) or lower `max_replicas`")
        elif line.section == "serving":
            tips.append(f"lower `max_replicas` or pick smaller serving resources than {line.resource}")
        elif line.section == "llm":
            tips.append("lower the gateway's `budget.monthly_usd` or route to a cheaper model")
        elif line.unit == "h" and "spot" not in line.assumption:
            tips.append(f"run {line.name} on spot (`spot: {{enabled: true}}`) or on a smaller instance than "
                        f"{line.resource}")
        elif line.unit == "h":
            tips.append(f"fewer trials or runs for {line.name}, or a smaller instance than {line.resource}")
    tips = list(dict.fromkeys(tips))
    return "; ".join(tips + ["`mlopsc cost SPEC` shows every line and its assumption"])
