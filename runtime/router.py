"""A champion/challenger traffic router in front of a local deployment's model servers.

`Router` is an HTTP server (127.0.0.1 by default) that forwards `POST /predict` to the
champion or the challenger model server and answers with the upstream's response, plus an
`X-Mlopsc-Variant: champion|challenger` header. The split is deterministic: request number k
(0-based) goes to the challenger when floor((k+1)·w) > floor(k·w) for challenger share w, so
exactly 5 of every 100 requests go to the challenger at 5%. In shadow mode the router answers
from the champion and mirrors a deterministic sample of requests to the challenger in the
background; the challenger never answers a client.

Every request gets an id (`X-Request-Id`: the client's, else a new one), sent to the model server
that answers (which captures the exchange under it) and returned to the client; mirrored copies
carry `X-Mlopsc-Shadow: 1` so captures keep them apart from live traffic.

The rollout controller the router drives (`Rollout`: canary, blue/green, shadow, A/B with
automatic rollback) lives in `rollout`.
"""

from __future__ import annotations

import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from mlopsc.runtime.captures import request_id
from mlopsc.runtime.httpbase import HTTPService, JSONHandler, Upstream
from mlopsc.runtime.rollout import CHALLENGER, CHAMPION, Observed, Rollout, derive_window, p99


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
        body = self.read_body_or_refuse()
        if body is None:
            return
        if path == "/predict" or path.startswith("/v1/"):  # /v1/: an LLM server's OpenAI API
            rid = request_id(self.headers.get("X-Request-Id"))
            status, data, variant = router.forward(body, path, rid)
            self.send_bytes(status, data, "application/json", {"X-Mlopsc-Variant": variant, "X-Request-Id": rid})
        elif path == "/rollback":
            router.rollback("requested over HTTP")
            self.send_json(200, router.status())
        elif path == "/promote":
            router.promote("requested over HTTP")
            self.send_json(200, router.status())
        elif path == "/feedback":  # stored by the champion's server (runtime/feedback.py)
            try:
                status, data, _ = router._upstream.request("POST", f"{router.champion_url}/feedback", body,
                                                           {"Content-Type": "application/json"})
            except OSError as e:
                status, data = 502, json.dumps({"error": f"upstream unreachable: {e}"}).encode()
            self.send_bytes(status, data, "application/json")
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
        self.set_split_locked(weight=weight, shadow=shadow)
        self.rollout = rollout
        if rollout is not None:
            if self.challenger_url is None:
                raise ValueError("a rollout needs a challenger URL")
            with self._lock:
                rollout.begin(self)

    # -- state changes (callers hold the lock, or it is construction time)

    def set_split_locked(self, *, weight: float, shadow: float) -> None:
        if not 0 <= weight <= 1 or not 0 <= shadow <= 1:
            raise ValueError("weight and shadow are fractions in [0, 1]")
        self.weight = float(weight)
        self.shadow = float(shadow)

    def promote_locked(self) -> None:
        self.previous_champion_url = self.champion_url
        self.champion_url, self.challenger_url = self.challenger_url or self.champion_url, None
        self.weight = 0.0
        self.shadow = 0.0

    # -- public controls

    def set_weight(self, weight: float) -> None:
        """Challenger share of traffic, a fraction in [0, 1]."""
        with self._lock:
            self.set_split_locked(weight=weight, shadow=self.shadow)

    def rollback(self, reason: str = "manual") -> None:
        with self._lock:
            if self.rollout is not None and not self.rollout.done:
                self.rollout.event("rollback", reason)
                self.rollout.finish("rolled_back", reason)
            else:
                self.set_split_locked(weight=0.0, shadow=0.0)

    def promote(self, reason: str = "manual") -> None:
        with self._lock:
            if self.rollout is not None and not self.rollout.done:
                self.rollout.event("promote", reason)
                self.rollout.finish("promoted", None)
            elif self.challenger_url:
                self.promote_locked()

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

    def forward(self, body: bytes, path: str = "/predict", rid: str | None = None) -> tuple[int, bytes, str]:
        """Send one request on; the model server that answers captures it under `rid`."""
        variant, mirror, step = self._choose()
        url = self.challenger_url if variant == CHALLENGER else self.champion_url
        rid = rid or request_id(None)
        if mirror:
            self._mirror(body, self.challenger_url, step, path, rid)
        status, data, latency_ms = self._call(url, body, path, {"X-Request-Id": rid})
        with self._lock:
            key = (variant, status)
            self.served[key] = self.served.get(key, 0) + 1
            if self.rollout is not None:
                self.rollout.record(variant, step, status, latency_ms)
        return status, data, variant

    def _call(self, base_url: str | None, body: bytes, path: str = "/predict",
              headers: dict | None = None) -> tuple[int, bytes, float]:
        start = time.perf_counter()
        try:
            status, data, _ = self._upstream.request(
                "POST", f"{base_url}{path}", body, {"Content-Type": "application/json", **(headers or {})}
            )
        except TimeoutError as e:
            status, data = 504, json.dumps({"error": f"upstream timed out: {e}"}).encode()
        except OSError as e:
            status, data = 502, json.dumps({"error": f"upstream unreachable: {e}"}).encode()
        return status, data, (time.perf_counter() - start) * 1000

    def _mirror(self, body: bytes, url: str | None, step: int, path: str, rid: str) -> None:
        if self._mirror_pool is None:
            with self._lock:
                if self._mirror_pool is None:
                    self._mirror_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mirror")

        def run() -> None:
            status, _, latency_ms = self._call(url, body, path, {"X-Request-Id": rid, "X-Mlopsc-Shadow": "1"})
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


__all__ = ["CHALLENGER", "CHAMPION", "Observed", "Rollout", "Router", "derive_window", "p99"]
