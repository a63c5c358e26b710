"""The estimate's data: lines with quantity, unit price and assumption, and their totals."""

from __future__ import annotations

from dataclasses import field

from mlopsc import ir

from ..ir_node import Node, Record, node, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any


@node  # a frozen dataclass without generated code (see ir_node)
class Line(Node):
    """One priced line: `quantity_high * unit_usd` (and the low end of its range)."""

    target: str
    section: str  # train | deploy | monitor | serving | llm | storage
    name: str  # the step, environment, route or store
    resource: str  # instance or machine type, node share, model, store
    quantity_low: float
    quantity_high: float
    unit: str  # h | M tokens | GB-month
    unit_usd: float  # after any spot discount
    assumption: str
    span: ir.Span = ir.NO_SPAN

    @property
    def low_usd(self) -> float:
        return round(self.quantity_low * self.unit_usd, 2)

    @property
    def high_usd(self) -> float:
        return round(self.quantity_high * self.unit_usd, 2)

    def as_dict(self) -> dict[str, Any]:
        return {"section": self.section, "name": self.name, "resource": self.resource,
                "quantity": [round(self.quantity_low, 4), round(self.quantity_high, 4)], "unit": self.unit,
                "unit_usd": self.unit_usd, "monthly_usd": [self.low_usd, self.high_usd],
                "assumption": self.assumption, "line": f"{self.span.file}:{self.span.line}:{self.span.col}"}


@record  # a mutable dataclass without generated code (see ir_node)
class Estimate(Record):
    """A monthly estimate of one spec on one target."""

    target: str
    lines: list[Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # unpriced parts, stale tables, region fallbacks
    tables: dict[str, str] = field(default_factory=dict)  # table -> "as_of, source"

    @property
    def low_usd(self) -> float:
        return round(sum(line.low_usd for line in self.lines), 2)

    @property
    def high_usd(self) -> float:
        return round(sum(line.high_usd for line in self.lines), 2)

    def largest(self, n: int = 3) -> list[Line]:
        """The lines that cost the most at the upper bound (ties in spec order)."""
        ranked = sorted(self.lines, key=lambda ln: -ln.high_usd)  # stable: ties keep the estimate's order
        return [ln for ln in ranked[:n] if ln.high_usd > 0]

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "monthly_usd": [self.low_usd, self.high_usd],
                "lines": [ln.as_dict() for ln in self.lines], "notes": list(self.notes),
                "price_tables": dict(sorted(self.tables.items()))}
