"""What `mlopsc cost` prints: the estimates for the chosen targets, the budget gate's verdict,
stale-table warnings, and (with --actual) the recorded spend beside the estimate."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field

from mlopsc.diagnostics import Diagnostic

from . import render
from .budget import gate, gated_targets
from .estimate import estimate
from .model import Estimate
from .prices import PriceBook, book_for, stale_notes


class UsageError(Exception):
    """An unknown target name."""


@dataclass
class Report:
    estimates: list[Estimate]
    budget: float | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    actual: list = field(default_factory=list)  # actual.MonthSpend rows
    show_actual: bool = False
    tracking_uri: str = ""

    def text(self, fmt: str) -> str:
        if fmt == "json":
            body = json.loads(render.render(self.estimates, "json", self.budget))
            if self.show_actual:
                body["actual"] = [a.as_dict() for a in self.actual]
            return json.dumps(body, indent=2, sort_keys=True) + "\n"
        out = render.render(self.estimates, fmt, self.budget)
        if self.show_actual:
            from .actual import render_actual

            out += render_actual(self.actual, fmt, self.tracking_uri)
        return out


def chosen_targets(project, target: str) -> list[str]:
    from mlopsc import targets

    if target == "all":
        return gated_targets(project)
    if not targets.exists(target):
        raise UsageError(f"unknown target `{target}`; choose from: all, {', '.join(targets.names())}")
    return [target]


def build(spec: str, target: str, prices: str | None, *, actual: bool = False, tracking_uri: str | None = None,
          today: datetime.date | None = None) -> Report:
    """The report for one spec; SpecError when the spec is invalid."""
    from mlopsc import api

    project = api.load_project(spec)
    book = book_for(project.spec_path, project.cost.prices if project.cost else None, prices)
    names = chosen_targets(project, target)
    runs, uri = [], ""
    if actual:  # recorded durations also give the estimate its median (the low end)
        from .actual import recorded_runs
        from .actual import tracking_uri as resolve_uri

        uri = resolve_uri(project, tracking_uri)
        runs = recorded_runs(project, uri)
    estimates = [estimate(project, t, book, history=_history(runs)) for t in names]
    report = Report(estimates, project.cost.budget_monthly_usd if project.cost else None)
    report.diagnostics = gate(project, names, book) + _stale(project, book, today)
    if actual:
        from .actual import monthly_spend

        report.actual, report.tracking_uri = monthly_spend(project, runs, estimates, book), uri
        report.show_actual = True
    report.diagnostics.sort()
    return report


def _history(runs: list) -> dict[str, list[float]] | None:
    from .actual import history

    return history(runs) if runs else None


def _stale(project, book: PriceBook, today: datetime.date | None) -> list[Diagnostic]:
    span = project.cost.span if project.cost else project.span
    return [Diagnostic(span.file, span.line, span.col, "W803", note, severity="warning",
                       hint="update the shipped tables, or pass your own with --prices FILE")
            for note in stale_notes(book, today)]
