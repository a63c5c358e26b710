"""The rollout controller a `router.Router` drives: a deployment strategy walked over what the
router observed of the challenger.

`Rollout` walks a strategy and decides from what the router observed of the challenger:

- `direct`: all traffic to the challenger at once; promoted.
- `canary`: steps such as [5, 25, 50, 100]; each step lasts a window of `window` challenger
  responses. When a window closes, the challenger's error rate (status >= 500 or no answer)
  and p99 latency (nearest rank, in ms, measured at the router) are checked against
  `ir.Rollback`; a tripped rule rolls back (all traffic to the champion), otherwise the next
  step starts. Passing the window at 100% promotes the challenger: it becomes the champion.
  A rule that can no longer pass within the window (too many errors or slow answers already)
  rolls back at once instead of waiting for the window to close.
- `blue_green`: one step at 100% (all traffic to green), the same checks, then promoted.
- `shadow`: mirror a `sample` of traffic for one window; a tripped rule stops the mirror
  (`rolled_back`), otherwise `completed` with the verdict `passed`. Never promotes by itself.
- `ab_test`: a fixed `split` for one window; rules still roll back; then `completed` with
  per-arm statistics.

Windows are counted in requests, not wall-clock time: the spec's `interval`/`duration` is how
long a cloud target waits; a local run cannot wait 30 minutes, so `derive_window` turns the
rollback rules into enough requests for a meaningful verdict: at least 100 (a p99 needs a
hundred samples) and at least 3 / max_error_rate (the "rule of three": seeing no failure in
3/r requests bounds the error rate below r with 95% confidence), at most 1000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlopsc import ir

CHAMPION, CHALLENGER = "champion", "challenger"


def derive_window(rollback: ir.Rollback | None, *, minimum: int = 100, maximum: int = 1000) -> int:
    """Challenger responses per rollout step for a local run (see the module docstring)."""
    window = minimum
    if rollback is not None and rollback.max_error_rate:
        window = max(window, math.ceil(3 / rollback.max_error_rate))
    return min(window, maximum)


def p99(latencies_ms: list[float]) -> float | None:
    """The 99th percentile by nearest rank (the value at rank ceil(0.99 n))."""
    if not latencies_ms:
        return None
    ordered = sorted(latencies_ms)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


@dataclass
class Observed:
    """What the router saw of one variant during one window."""

    requests: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, status: int, latency_ms: float) -> None:
        self.requests += 1
        if status >= 500:
            self.errors += 1
        self.latencies_ms.append(latency_ms)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    def summary(self) -> dict:
        p = p99(self.latencies_ms)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "p99_latency_ms": None if p is None else round(p, 3),
        }


class Rollout:
    """Walks a deployment strategy over a `Router`'s observations; see the module docstring."""

    def __init__(
        self,
        strategy: ir.Strategy | str = "canary",
        rollback: ir.Rollback | None = None,
        *,
        steps: tuple[int, ...] | None = None,
        window: int | None = None,
        sample: float | None = None,
        split: float | None = None,
    ):
        if isinstance(strategy, ir.Strategy):
            self.type = strategy.type
            steps = steps or strategy.steps
            sample = strategy.sample if sample is None else sample
            split = strategy.split if split is None else split
        else:
            self.type = strategy
        if self.type not in ("direct", "canary", "blue_green", "shadow", "ab_test"):
            raise ValueError(f"unknown strategy {self.type!r}")
        if self.type == "canary":
            steps = tuple(steps or (5, 25, 50, 100))
            if any(not 0 < s <= 100 for s in steps) or list(steps) != sorted(steps) or steps[-1] != 100:
                raise ValueError(f"canary steps must increase within 1..100 and end at 100, got {list(steps)}")
        elif self.type in ("blue_green", "direct"):
            steps = (100,)
        elif self.type == "ab_test":
            if split is None or not 0 < split < 1:
                raise ValueError("ab_test needs a split in (0, 1)")
            steps = (split * 100,)
        else:  # shadow
            if sample is None or not 0 < sample <= 1:
                raise ValueError("shadow needs a sample in (0, 1]")
            steps = (0,)
        self.steps: tuple[float, ...] = tuple(steps)
        self.sample = sample
        self.rollback_rule = rollback
        self.window = window or derive_window(rollback)
        self.state = "pending"
        self.verdict: str | None = None
        self.reason: str | None = None
        self.step = 0
        self.challenger = Observed()
        self.champion = Observed()
        self.history: list[dict] = []
        self.router: Any = None  # the `router.Router` driving this rollout

    # -- driven by the router, under its lock

    def begin(self, router: Any) -> None:
        self.router = router
        self.state = "running"
        if self.type == "direct":
            self.event("promote", "direct strategy: all traffic to the challenger")
            self.finish("promoted", None)
            return
        self._apply()

    def record(self, variant: str, step: int, status: int, latency_ms: float) -> None:
        if self.state != "running" or step != self.step:
            return  # a late answer from an earlier step, or after the decision
        (self.challenger if variant == CHALLENGER else self.champion).add(status, latency_ms)
        if variant != CHALLENGER:
            return
        tripped = self._tripped(final=self.challenger.requests >= self.window)
        if tripped:
            self.event("rollback", tripped)
            self.finish("rolled_back", tripped)
        elif self.challenger.requests >= self.window:
            self._advance()

    def _tripped(self, final: bool) -> str | None:
        rule, seen, n = self.rollback_rule, self.challenger, self.window
        if rule is None:
            return None
        if rule.max_error_rate is not None:
            allowed = math.floor(rule.max_error_rate * n + 1e-9)
            if seen.errors > allowed or (final and seen.error_rate > rule.max_error_rate):
                return (f"error rate {seen.errors}/{seen.requests} exceeds max_error_rate "
                        f"{rule.max_error_rate:g} (window {n})")
        if rule.max_p99_latency_ms is not None:
            slow = sum(1 for v in seen.latencies_ms if v > rule.max_p99_latency_ms)
            slow_allowed = n - math.ceil(0.99 * n)  # more than this many slow answers: p99 is slow
            current = p99(seen.latencies_ms)
            if slow > slow_allowed or (final and current is not None and current > rule.max_p99_latency_ms):
                return (f"p99 latency {current:.1f} ms exceeds max_p99_latency_ms "
                        f"{rule.max_p99_latency_ms:g} ({slow} slow of {seen.requests}, window {n})")
        return None

    def _advance(self) -> None:
        self.event("passed", f"step {self._pct(self.steps[self.step])} passed")
        if self.type == "canary" and self.step + 1 < len(self.steps):
            self.step += 1
            self.challenger, self.champion = Observed(), Observed()
            self._apply()
        elif self.type in ("canary", "blue_green"):
            self.event("promote", "challenger promoted: it is the champion now")
            self.finish("promoted", None)
        else:
            self.finish("completed", None)

    def _apply(self) -> None:
        assert self.router is not None
        if self.type == "shadow":
            self.router.set_split_locked(weight=0.0, shadow=self.sample or 0.0)
            self.event("start", f"mirroring {self.sample:g} of traffic to the challenger")
        else:
            self.router.set_split_locked(weight=self.steps[self.step] / 100, shadow=0.0)
            self.event("start", f"challenger at {self._pct(self.steps[self.step])} of traffic")

    def finish(self, state: str, reason: str | None) -> None:
        self.state = state
        self.reason = reason
        assert self.router is not None
        if state == "promoted":
            self.router.promote_locked()
        else:
            self.router.set_split_locked(weight=0.0, shadow=0.0)
        if state == "completed":
            self.verdict = "passed"
        elif state == "rolled_back":
            self.verdict = "failed"

    def event(self, kind: str, message: str) -> None:
        assert self.router is not None
        self.history.append({"event": kind, "step": self.step, "at_request": self.router.requests_total,
                             "message": message})

    @staticmethod
    def _pct(weight: float) -> str:
        return f"{weight:g}%"

    @property
    def done(self) -> bool:
        return self.state in ("promoted", "rolled_back", "completed")

    def status(self) -> dict:
        return {
            "type": self.type,
            "state": self.state,
            "verdict": self.verdict,
            "reason": self.reason,
            "steps": list(self.steps),
            "step": self.step,
            "window": self.window,
            "rules": None if self.rollback_rule is None else {
                "max_error_rate": self.rollback_rule.max_error_rate,
                "max_p99_latency_ms": self.rollback_rule.max_p99_latency_ms,
            },
            "challenger": self.challenger.summary(),
            "champion": self.champion.summary(),
            "history": list(self.history),
        }


def breached_rule(rollback: ir.Rollback | None, error_rate: float | None, p99_ms: float | None) -> str | None:
    """The first rollback rule that measured numbers break, described; None when all hold (a
    number that was not measured, no traffic, breaks nothing). For controllers that read the
    numbers from a metrics server (Kubeflow, Vertex) instead of counting responses."""
    if rollback is None:
        return None
    if rollback.max_error_rate is not None and error_rate is not None and error_rate > rollback.max_error_rate:
        return f"error rate {error_rate:.4g} exceeds max_error_rate {rollback.max_error_rate:g}"
    if rollback.max_p99_latency_ms is not None and p99_ms is not None and p99_ms > rollback.max_p99_latency_ms:
        return f"p99 latency {p99_ms:.1f} ms exceeds max_p99_latency_ms {rollback.max_p99_latency_ms:g}"
    return None
