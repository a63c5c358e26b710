"""What every normalization step shares: spans, tolerant unit parsing, and the small shapes
(resources, spot, autoscaling, thresholds) that several sections use.

Normalization runs on schema-valid data, so shapes are trusted; values the schema checks only
loosely (durations, sizes, cpu, cron) are parsed here, and a value that does not parse becomes
a located E601-E604 diagnostic plus a stand-in value, so later rules still run and report.
"""

from __future__ import annotations

from collections.abc import Callable

from . import cron as cronspec
from . import normalize_defaults as default
from .diagnostics import Diagnostic
from .ir_base import Span
from .ir_data import Autoscaling, Resources, Spot, Threshold
from .loader import Document, Path
from .units import cpu_cores, duration_seconds, size_bytes

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any


class Context:
    """The document being normalized and the format problems found so far."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.problems: list[Diagnostic] = []

    def span(self, path: Path) -> Span:
        line, col = self.doc.source_map.locate(path)
        return Span(self.doc.file, line, col, tuple(path))

    def parse(self, path: Path, value: Any, parser: Callable[[Any], Any], code: str, what: str, fallback: Any) -> Any:
        """parser(value), or `fallback` and a located problem. The fallback only keeps the rules
        running (a default where there is one, so they report no follow-on error); an IR built
        with a problem never reaches a target."""
        try:
            return parser(value)
        except ValueError as exc:
            line, col = self.doc.source_map.locate(path)
            found = Diagnostic(self.doc.file, line, col, code, f"{what}: {exc}")
            if found not in self.problems:  # a value read twice (spot's max_wait) is reported once
                self.problems.append(found)
            return fallback

    def cron(self, path: Path, value: str) -> str:
        return self.parse(path, value, cronspec.normalize, "E601", "invalid cron expression", value)

    def seconds(self, path: Path, value: Any, fallback: int = 1) -> int:
        return self.parse(path, value, duration_seconds, "E602", "invalid duration", fallback)

    def optional_seconds(self, raw: dict, key: str, path: Path) -> int | None:
        return self.seconds(path + (key,), raw[key]) if key in raw else None


def num(value: Any) -> float | None:
    return None if value is None else float(value)


def resources(ctx: Context, raw: dict | None, path: Path, fallback: dict) -> Resources:
    raw = raw or {}
    gpu = raw.get("gpu") or {}
    cpu = raw.get("cpu", fallback["cpu"])
    memory = raw.get("memory", fallback["memory"])
    return Resources(
        cpu=ctx.parse(path + ("cpu",), cpu, cpu_cores, "E604", "invalid cpu amount", float(fallback["cpu"])),
        memory_bytes=ctx.parse(path + ("memory",), memory, size_bytes, "E603", "invalid size",
                               size_bytes(fallback["memory"])),
        gpu_count=int(gpu.get("count", 0)),
        gpu_type=gpu.get("type"),
        span=ctx.span(path) if raw else ctx.span(path[:-1]),
    )


def max_runtime(ctx: Context, raw: dict, path: Path) -> int:
    """max_runtime, defaulting to spot's max_wait (the longest a spot job may take) or 24h."""
    spot = raw.get("spot") or {}
    fallback = duration_seconds(default.MAX_RUNTIME)
    if spot.get("enabled") and "max_wait" in spot:
        fallback = ctx.parse(path + ("spot", "max_wait"), spot["max_wait"], duration_seconds, "E602",
                             "invalid duration", fallback)
    if "max_runtime" not in raw:
        return fallback
    return ctx.seconds(path + ("max_runtime",), raw["max_runtime"], fallback)


def spot(ctx: Context, raw: dict | None, path: Path, runtime: int) -> Spot | None:
    """Spot capacity; max_wait defaults to the runtime (a spot job waits as long as it may run)."""
    if not raw:
        return None
    wait = ctx.seconds(path + ("max_wait",), raw["max_wait"], runtime) if "max_wait" in raw else runtime
    return Spot(enabled=bool(raw.get("enabled", default.SPOT_ENABLED)), max_wait_seconds=wait, span=ctx.span(path))


def autoscaling(ctx: Context, raw: dict | None, path: Path) -> Autoscaling:
    raw = raw or {}
    low = int(raw.get("min_replicas", default.MIN_REPLICAS))
    return Autoscaling(
        min_replicas=low,
        max_replicas=int(raw.get("max_replicas", max(low, default.MAX_REPLICAS))),
        target_concurrency=raw.get("target_concurrency"),
        span=ctx.span(path),
    )


def thresholds(ctx: Context, raw: dict | None, path: Path) -> tuple[Threshold, ...]:
    return tuple(
        Threshold(metric=m, min=num(t.get("min")), max=num(t.get("max")), span=ctx.span(path + (m,)))
        for m, t in sorted((raw or {}).items())
    )
