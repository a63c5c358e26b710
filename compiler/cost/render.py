"""The estimate as text (a terminal), Markdown (a pull-request comment) or JSON (tools)."""

from __future__ import annotations

import json

from .model import Estimate, Line


def usd(value: float) -> str:
    return f"${value:,.2f}"


def rate(value: float) -> str:
    return f"${value:,.4f}".rstrip("0").rstrip(".") if value < 1 else usd(value)


def usd_range(low: float, high: float) -> str:
    return usd(high) if round(low, 2) == round(high, 2) else f"{usd(low)} - {usd(high)}"


def _qty(line: Line) -> str:
    q = f"{line.quantity_high:,.4g}" if line.quantity_low == line.quantity_high else \
        f"{line.quantity_low:,.4g}-{line.quantity_high:,.4g}"
    return f"{q} {line.unit}"


def render(estimates: list[Estimate], fmt: str, budget: float | None = None) -> str:
    if fmt == "json":
        body = {"estimates": [e.as_dict() for e in estimates], "budget_monthly_usd": budget}
        return json.dumps(body, indent=2, sort_keys=True) + "\n"
    return (markdown if fmt == "markdown" else text)(estimates, budget)


def text(estimates: list[Estimate], budget: float | None) -> str:
    out: list[str] = []
    for est in estimates:
        out.append(f"{est.target}: {usd_range(est.low_usd, est.high_usd)} a month"
                   + (f" (budget {usd(budget)})" if budget else ""))
        rows = [(f"{ln.section}/{ln.name}", ln.resource, _qty(ln), rate(ln.unit_usd) + "/" + ln.unit.split()[-1],
                 usd_range(ln.low_usd, ln.high_usd)) for ln in est.lines]
        widths = [max([len(r[i]) for r in rows] + [1]) for i in range(5)]
        for row, ln in zip(rows, est.lines):
            cells = [c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
            out.append("  " + "  ".join(cells) + f"  {ln.assumption}")
        out += [f"  note: {n}" for n in est.notes]
        out.append("")
    return "\n".join(out)


def markdown(estimates: list[Estimate], budget: float | None) -> str:
    out = ["### Monthly cost estimate", ""]
    if budget:
        out += [f"Budget: {usd(budget)} a month.", ""]
    out += ["| target | monthly |", "|---|---:|"]
    out += [f"| {e.target} | {usd_range(e.low_usd, e.high_usd)} |" for e in estimates]
    for est in estimates:
        out += ["", f"<details><summary>{est.target}: {len(est.lines)} lines</summary>", "",
                "| line | resource | quantity | unit price | monthly | assumption |", "|---|---|---:|---:|---:|---|"]
        out += [f"| {ln.section}/{ln.name} | {ln.resource} | {_qty(ln)} | {rate(ln.unit_usd)} | "
                f"{usd_range(ln.low_usd, ln.high_usd)} | {ln.assumption.replace('|', '/')} |" for ln in est.lines]
        out += [f"\nnote: {n}" for n in est.notes]
        out += ["", "</details>"]
    return "\n".join(out) + "\n"
