"""A champion/challenger traffic router and the rollout controller behind `deployment`.

`Router` is an HTTP server (127.0.0.1 by default) that forwards `POST /predict` to the
champion or the challenger model server and answers with the upstream's response, plus an
`X-Mlopsc-Variant: champion|challenger` header. The split is deterministic: request number k
(0-based) goes to the challenger when floor((k+1)·w) > floor(k·w) for challenger share w, so
exactly 5 of every 100 requests go to the challenger at 5%. In shadow mode the router answers
from the champion and mirrors a deterministic sample of requests to the challenger in the
background; the challenger never answers a client.

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

import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from mlopsc import ir
from mlopsc.runtime.httpbase import HTTPService, JSONHandler, Upstream

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
        self.router: Router | None = None

    # -- driven by the router, under its lock

    def begin(self, router: Router) -> None:
        self.router = router
        self.state = "running"
        if self.type == "direct":
            self._event("promote", "direct strategy: all traffic to the challenger")
            self._finish("promoted", None)
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
            self._event("rollback", tripped)
            self._finish("rolled_back", tripped)
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
        self._event("passed", f"step {self._pct(self.steps[self.step])} passed")
        if self.type == "canary" and self.step + 1 < len(self.steps):
            self.step += 1
            self.challenger, self.champion = Observed(), Observed()
            self._apply()
        elif self.type in ("canary", "blue_green"):
            self._event("promote", "challenger promoted: it is the champion now")
            self._finish("promoted", None)
        else:
            self._finish("completed", None)

    def _apply(self) -> None:
        assert self.router is not None
        if self.type == "shadow":
            self.router._set(weight=0.0, shadow=self.sample or 0.0)
            self._event("start", f"mirroring {self.sample:g} of traffic to the challenger")
        else:
            self.router._set(weight=self.steps[self.step] / 100, shadow=0.0)
            self._event("start", f"challenger at {self._pct(self.steps[self.step])} of traffic")

    def _finish(self, state: str, reason: str | None) -> None:
        self.state = state
        self.reason = reason
        assert self.router is not None
        if state == "promoted":
            self.router._promote()
        else:
            self.router._set(weight=0.0, shadow=0.0)
        if state == "completed":
            self.verdict = "passed"
        elif state == "rolled_back":
            self.verdict = "failed"

    def _event(self, kind: str, message: str) -> None:
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


class _Handler(JSONHandler):
    def do_GET(self) -> None:
        router: Router = self.service
        path = self.path.split("?", 1)[0]
        if path == "/status":
            self.send_json(200, router.status())
        elif path == "/health":
            self.send_json(200, {"status": "ok"})
        elif path == "/metrics":
            self.send_bytes(200, router.render_metrics().encode(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            self.send_json(404, {"error": f"no such path: {path}"})

    def do_POST(self) -> None:
        router: Router = self.service
        path = self.path.split("?", 1)[0]
        try:
            body = self.read_body()
        except ValueError as e:
            self.close_connection = True
            self.send_json(413, {"error": str(e)})
            return
        if path == "/predict":
            status, data, variant = router.forward(body)
            self.send_bytes(status, data, "application/json", {"X-Mlopsc-Variant": variant})
        elif path == "/rollback":
            router.rollback("requested over HTTP")
            self.send_json(200, router.status())
        elif path == "/promote":
            router.promote("requested over HTTP")
            self.send_json(200, router.status())
        else:
            self.send_json(404, {"error": f"no such path: {path}"})


class Router(HTTPService):
    """Split `/predict` between a champion and a challenger; `GET /status` shows the state."""

    handler_class = _Handler

    def __init__(
        self,
        champion_url: str,
        challenger_url: str | None = None,
        *,
        weight: float = 0.0,
        shadow: float = 0.0,
        rollout: Rollout | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = 10.0,
    ):
        super().__init__(host, port)
        self.champion_url = champion_url.rstrip("/")
        self.challenger_url = challenger_url.rstrip("/") if challenger_url else None
        self.previous_champion_url: str | None = None
        self._lock = threading.Lock()
        self._upstream = Upstream(timeout)
        self._mirror_pool: ThreadPoolExecutor | None = None
        self.weight = 0.0
        self.shadow = 0.0
        self.requests_total = 0
        self._mirror_counter = 0
        self.served: dict[tuple[str, int], int] = {}
        self.mirrored: dict[int, int] = {}
        self._set(weight=weight, shadow=shadow)
        self.rollout = rollout
        if rollout is not None:
            if self.challenger_url is None:
                raise ValueError("a rollout needs a challenger URL")
            with self._lock:
                rollout.begin(self)

    # -- state changes (callers hold the lock, or it is construction time)

    def _set(self, *, weight: float, shadow: float) -> None:
        if not 0 <= weight <= 1 or not 0 <= shadow <= 1:
            raise ValueError("weight and shadow are fractions in [0, 1]")
        self.weight = float(weight)
        self.shadow = float(shadow)

    def _promote(self) -> None:
        self.previous_champion_url = self.champion_url
        self.champion_url, self.challenger_url = self.challenger_url or self.champion_url, None
        self.weight = 0.0
        self.shadow = 0.0

    # -- public controls

    def set_weight(self, weight: float) -> None:
        """Challenger share of traffic, a fraction in [0, 1]."""
        with self._lock:
            self._set(weight=weight, shadow=self.shadow)

    def rollback(self, reason: str = "manual") -> None:
        with self._lock:
            if self.rollout is not None and not self.rollout.done:
                self.rollout._event("rollback", reason)
                self.rollout._finish("rolled_back", reason)
            else:
                self._set(weight=0.0, shadow=0.0)

    def promote(self, reason: str = "manual") -> None:
        with self._lock:
            if self.rollout is not None and not self.rollout.done:
                self.rollout._event("promote", reason)
                self.rollout._finish("promoted", None)
            elif self.challenger_url:
                self._promote()

    # -- the data path

    def _choose(self) -> tuple[str, bool, int]:
        with self._lock:
            k = self.requests_total
            self.requests_total += 1
            to_challenger = self.challenger_url is not None and math.floor((k + 1) * self.weight) > math.floor(
                k * self.weight
            )
            mirror = False
            if not to_challenger and self.shadow and self.challenger_url is not None:
                j = self._mirror_counter
                self._mirror_counter += 1
                mirror = math.floor((j + 1) * self.shadow) > math.floor(j * self.shadow)
            step = self.rollout.step if self.rollout is not None else 0
            return (CHALLENGER if to_challenger else CHAMPION), mirror, step

    def forward(self, body: bytes) -> tuple[int, bytes, str]:
        variant, mirror, step = self._choose()
        url = self.challenger_url if variant == CHALLENGER else self.champion_url
        if mirror:
            self._mirror(body, self.challenger_url, step)
        status, data, latency_ms = self._call(url, body)
        with self._lock:
            key = (variant, status)
            self.served[key] = self.served.get(key, 0) + 1
            if self.rollout is not None:
                self.rollout.record(variant, step, status, latency_ms)
        return status, data, variant

    def _call(self, base_url: str | None, body: bytes) -> tuple[int, bytes, float]:
        start = time.perf_counter()
        try:
            status, data, _ = self._upstream.request(
                "POST", f"{base_url}/predict", body, {"Content-Type": "application/json"}
            )
        except TimeoutError as e:
            status, data = 504, json.dumps({"error": f"upstream timed out: {e}"}).encode()
        except OSError as e:
            status, data = 502, json.dumps({"error": f"upstream unreachable: {e}"}).encode()
        return status, data, (time.perf_counter() - start) * 1000

    def _mirror(self, body: bytes, url: str | None, step: int) -> None:
        if self._mirror_pool is None:
            with self._lock:
                if self._mirror_pool is None:
                    self._mirror_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mirror")

        def run() -> None:
            status, _, latency_ms = self._call(url, body)
            with self._lock:
                self.mirrored[status] = self.mirrored.get(status, 0) + 1
                if self.rollout is not None:
                    self.rollout.record(CHALLENGER, step, status, latency_ms)

        self._mirror_pool.submit(run)

    def stop(self) -> None:
        super().stop()
        if self._mirror_pool is not None:
            self._mirror_pool.shutdown(wait=True)
            self._mirror_pool = None

    def wait_mirrors(self) -> None:
        """Block until mirrored requests sent so far have been answered (for tests)."""
        pool = self._mirror_pool
        if pool is not None:
            pool.submit(lambda: None).result()
            pool.shutdown(wait=True)
            with self._lock:
                if self._mirror_pool is pool:
                    self._mirror_pool = None

    # -- reporting

    def status(self) -> dict:
        with self._lock:
            served: dict[str, dict[str, int]] = {}
            for (variant, status), count in sorted(self.served.items()):
                served.setdefault(variant, {})[str(status)] = count
            return {
                "champion": self.champion_url,
                "challenger": self.challenger_url,
                "previous_champion": self.previous_champion_url,
                "weight": self.weight,
                "shadow": self.shadow,
                "requests": self.requests_total,
                "served": served,
                "mirrored": {str(k): v for k, v in sorted(self.mirrored.items())},
                "rollout": None if self.rollout is None else self.rollout.status(),
            }

    def render_metrics(self) -> str:
        with self._lock:
            lines = [
                "# HELP mlopsc_router_requests_total Requests answered, by variant and status code.",
                "# TYPE mlopsc_router_requests_total counter",
            ]
            for (variant, status), count in sorted(self.served.items()):
                lines.append(f'mlopsc_router_requests_total{{variant="{variant}",status="{status}"}} {count}')
            lines += [
                "# HELP mlopsc_router_mirrored_total Requests mirrored to the challenger, by status code.",
                "# TYPE mlopsc_router_mirrored_total counter",
            ]
            for status, count in sorted(self.mirrored.items()):
                lines.append(f'mlopsc_router_mirrored_total{{status="{status}"}} {count}')
            lines += [
                "# HELP mlopsc_router_challenger_weight Share of traffic sent to the challenger.",
                "# TYPE mlopsc_router_challenger_weight gauge",
                f"mlopsc_router_challenger_weight {self.weight}",
            ]
        return "\n".join(lines) + "\n"
