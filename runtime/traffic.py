"""Traffic for the deploy pipeline on a local run: smoke test, load test, and driving a rollout.

- `smoke_test(url, instances)`: `/health` answers and `/predict` returns one prediction per
  instance.
- `load_test(url, instances, rps, duration_s, max_p95_ms)`: paced requests from a few client
  threads; reports p50/p95/p99 latency (ms), error rate and achieved rps; `passed` when the p95
  is within `max_p95_ms` and nothing failed. `paced` is that loop for any transport (the SageMaker
  load test sends through `invoke_endpoint`, see `platforms.sagemaker`).
- `drive_rollout(router, instances)`: replay instances through the router until its rollout
  decides (promoted, rolled back, completed) or `max_requests` is reached.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from mlopsc.runtime.httpbase import Upstream


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def smoke_test(url: str, instances: Sequence[Any]) -> dict:
    client = Upstream(timeout=30)
    checks = []
    try:
        status, _ = client.get(url.rstrip("/") + "/health")
        checks.append({"check": "health", "passed": status == 200, "status": status})
        status, out = client.post_json(url.rstrip("/") + "/predict", {"instances": list(instances)})
        ok = status == 200 and isinstance(out, dict) and len(out.get("predictions", [])) == len(instances)
        checks.append({"check": "predict", "passed": ok, "status": status,
                       "detail": None if ok else str(out)[:500]})
    except OSError as e:
        checks.append({"check": "reachable", "passed": False, "detail": str(e)})
    return {"url": url, "passed": all(c["passed"] for c in checks), "checks": checks}


def load_test(url: str, instances: Sequence[Any], *, rps: float, duration_s: float,
              max_p95_ms: float | None = None, workers: int = 4, batch: int = 1) -> dict:
    """Send `rps * duration_s` requests at a steady pace; each carries `batch` instances."""
    target = url.rstrip("/") + "/predict"

    def client() -> Callable[[bytes], int]:
        upstream = Upstream(timeout=30)

        def send(body: bytes) -> int:
            try:
                status, _, _ = upstream.request("POST", target, body, {"Content-Type": "application/json"})
            except OSError:
                status = 599
            return status

        return send

    return {"url": url, **paced(client, instances, rps=rps, duration_s=duration_s, max_p95_ms=max_p95_ms,
                                workers=workers, batch=batch)}


def paced(client: Callable[[], Callable[[bytes], int]], instances: Sequence[Any], *, rps: float,
          duration_s: float, max_p95_ms: float | None = None, workers: int = 4, batch: int = 1) -> dict:
    """The load test's pacing and report, whatever carries the requests: `client()` (called once per
    worker thread) gives a `send(body) -> status` (an HTTP status; >= 400 is an error)."""
    total = max(1, round(rps * duration_s))
    payloads = [json.dumps({"instances": [instances[(i * batch + j) % len(instances)] for j in range(batch)]}).encode()
                for i in range(min(total, 256))]
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(total))
    start = time.perf_counter()

    def work() -> None:
        send = client()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            delay = start + i / rps - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t0 = time.perf_counter()
            status = send(payloads[i % len(payloads)])
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                latencies.append(ms)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    errors = sum(c for s, c in statuses.items() if s >= 400)
    p95 = _percentile(latencies, 0.95)
    passed = errors == 0 and (max_p95_ms is None or (p95 is not None and p95 <= max_p95_ms))
    return {
        "requests": total, "errors": errors, "error_rate": errors / total,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "p50_ms": _percentile(latencies, 0.50), "p95_ms": p95, "p99_ms": _percentile(latencies, 0.99),
        "target_rps": rps, "achieved_rps": total / elapsed if elapsed > 0 else None,
        "max_p95_ms": max_p95_ms, "passed": passed,
    }


def drive_rollout(router: Any, instances: Sequence[Any], *, max_requests: int = 100_000,
                  batch: int = 1) -> dict:
    """Replay `instances` through `router` until its rollout is done; return the router status."""
    if router.rollout is None:
        raise ValueError("the router has no rollout to drive")
    client = Upstream(timeout=30)
    target = router.url + "/predict"
    sent = 0
    while not router.rollout.done and sent < max_requests:
        body = json.dumps({"instances": [instances[(sent * batch + j) % len(instances)] for j in range(batch)]})
        try:
            client.request("POST", target, body.encode(), {"Content-Type": "application/json"})
        except OSError:
            pass
        sent += 1
    status = router.status()
    status["driven_requests"] = sent
    return status
