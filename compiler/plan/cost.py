"""The monthly cost before and after a change, and the lines that moved it (as Infracost does).

Priced for the targets the working spec configures (else as a local run), with the same
estimate `mlopsc cost` prints; the upper bound is what the budget gate compares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..loader import Document
from ..normalize import normalize


@dataclass(frozen=True)
class MovedLine:
    target: str
    line: str  # section/name
    before: float  # upper bound, USD a month
    after: float
    where: str  # file:line of the line in the working spec (or the base, when removed)

    @property
    def delta(self) -> float:
        return round(self.after - self.before, 2)


@dataclass
class CostDelta:
    budget_before: float | None
    budget_after: float | None
    totals: dict[str, tuple[float, float]] = field(default_factory=dict)  # target -> (before, after)
    moved: list[MovedLine] = field(default_factory=list)

    def delta(self, target: str) -> float:
        before, after = self.totals[target]
        return round(after - before, 2)

    def as_dict(self) -> dict[str, Any]:
        return {"budget_monthly_usd": {"before": self.budget_before, "after": self.budget_after},
                "monthly_usd_upper_bound": {t: {"before": b, "after": a, "delta": self.delta(t)}
                                            for t, (b, a) in self.totals.items()},
                "moved": [{"target": m.target, "line": m.line, "before": m.before, "after": m.after,
                           "delta": m.delta, "where": m.where} for m in self.moved]}


def cost_delta(base: Document | None, new: Document) -> CostDelta:
    from ..cost import estimate
    from ..cost.budget import gated_targets

    after_project = normalize(new)
    before_project = normalize(base) if base is not None else None
    book = _book(after_project)
    result = CostDelta(_budget(before_project), _budget(after_project))
    for target in gated_targets(after_project):
        after = estimate(after_project, target, book)
        before = estimate(before_project, target, book) if before_project else None
        result.totals[target] = (before.high_usd if before else 0.0, after.high_usd)
        result.moved += _moved(target, before.lines if before else [], after.lines)
    return result


def _book(project):
    """The working spec's price tables (its `cost.prices` file when it reads; else the shipped ones)."""
    from ..cost.prices import PriceBook, PricesError, book_for

    try:
        return book_for(project.spec_path, project.cost.prices if project.cost else None)
    except PricesError:
        return PriceBook()  # validate reports the unreadable file (E804); the plan still prices


def _budget(project) -> float | None:
    return project.cost.budget_monthly_usd if project is not None and project.cost else None


def _moved(target: str, before: list, after: list) -> list[MovedLine]:
    old = {(ln.section, ln.name): ln for ln in before}
    new = {(ln.section, ln.name): ln for ln in after}
    moved = []
    for key in list(new) + [k for k in old if k not in new]:
        a, b = old.get(key), new.get(key)
        was, now = (a.high_usd if a else 0.0), (b.high_usd if b else 0.0)
        if round(now - was, 2):
            span = (b or a).span
            moved.append(MovedLine(target, "/".join(key), was, now, f"{span.file}:{span.line}"))
    return moved


def signed(value: float) -> str:
    return ("+" if value > 0 else "-" if value < 0 else "") + f"${abs(value):,.2f}"


def _budget_text(delta: CostDelta) -> str:
    from ..cost.render import usd

    b, a = delta.budget_before, delta.budget_after
    if a is None and b is None:
        return "no budget"
    if a == b:
        return f"budget {usd(a)}"
    return f"budget {usd(b) if b is not None else 'none'} -> {usd(a) if a is not None else 'none'}"


def text_lines(delta: CostDelta) -> list[str]:
    from ..cost.render import usd

    out = [f"monthly cost, upper bound ({_budget_text(delta)}):"]
    for target, (before, after) in delta.totals.items():
        change = signed(delta.delta(target)) if delta.delta(target) else "no change"
        out.append(f"  {target}: {usd(before)} -> {usd(after)} ({change})")
    if delta.moved:
        out.append("  lines that moved it:")
        out += [f"    {m.where}: {m.target} {m.line}: {usd(m.before)} -> {usd(m.after)} ({signed(m.delta)})"
                for m in delta.moved]
    return out + [""]


def markdown_lines(delta: CostDelta) -> list[str]:
    from ..cost.render import usd

    out = ["#### Monthly cost", "", f"Upper bound of the estimate (`mlopsc cost`); {_budget_text(delta)}.", "",
           "| target | before | after | change |", "|---|---:|---:|---:|"]
    out += [f"| {t} | {usd(b)} | {usd(a)} | {signed(delta.delta(t)) if delta.delta(t) else '—'} |"
            for t, (b, a) in delta.totals.items()]
    if delta.moved:
        out += ["", "| where | target | line | before | after | change |", "|---|---|---|---:|---:|---:|"]
        out += [f"| `{m.where}` | {m.target} | {m.line} | {usd(m.before)} | {usd(m.after)} | {signed(m.delta)} |"
                for m in delta.moved]
    return out + [""]
