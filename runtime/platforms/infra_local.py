"""The local platform's infrastructure metrics without a Prometheus: each running model
server's `/metrics` (the servers `mlopsc run --serve` / `mlopsc serve` recorded), read now."""

from __future__ import annotations

from mlopsc.runtime import localserve
from mlopsc.runtime.platforms.infra_checks import Reading
from mlopsc.runtime.steps import StepContext, StepFailed


def scrape_servers(ctx: StepContext) -> list[Reading]:
    from mlopsc.runtime.httpbase import Upstream
    from mlopsc.runtime.serving import parse_prometheus

    client = Upstream(timeout=5)
    servers = [(env, p) for env in localserve.environments(ctx.root)
               for p in (localserve.read_state(ctx.root, env) or {}).get("processes", [])
               if p.get("role") != "router" and localserve.alive(p.get("pid"))]
    servers += [(p["environment"], p) for p in localserve.foreground_servers(ctx.root)]
    readings = []
    for env, p in servers:
        name = f"{env} v{p.get('version')}" + (" (mlopsc serve)" if p.get("role") == "serve" else "")
        try:
            status, body = client.get(p["url"] + "/metrics")
        except OSError as e:
            raise StepFailed(f"{name} at {p['url']} does not answer /metrics: {e}") from None
        if status != 200:
            raise StepFailed(f"{name} at {p['url']} answered /metrics with HTTP {status}")
        readings.append(reading(name, parse_prometheus(body.decode())))
    return readings


def reading(name: str, m: dict[str, float]) -> Reading:
    requests = sum(v for k, v in m.items() if k.startswith("mlopsc_requests_total") and 'path="/predict"' in k)
    errors = sum(v for k, v in m.items() if k.startswith("mlopsc_errors_total") and 'kind="model"' in k)
    return Reading(name, errors / requests if requests else None, histogram_quantile(m, 0.99), requests)


def histogram_quantile(m: dict[str, float], q: float) -> float | None:
    """Upper bound (ms) of the histogram bucket holding quantile q, or None without samples."""
    buckets = []
    for key, value in m.items():
        if key.startswith("mlopsc_request_duration_seconds_bucket"):
            le = key.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), value))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    if not total:
        return None
    for bound, count in buckets:
        if count >= q * total:
            return bound * 1000
    return None
