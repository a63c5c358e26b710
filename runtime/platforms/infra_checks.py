"""The monitor's `check-infrastructure` step: error rate and p99 latency of the served model,
read from the platform's metrics, against `monitoring.infrastructure`.

| platform | source | series |
|---|---|---|
| local | `MLOPSC_PROMETHEUS_URL` when set (a Prometheus scraping the servers), else each running server's `/metrics` | `mlopsc_requests_total`, `mlopsc_errors_total`, `mlopsc_request_duration_seconds` |
| kubeflow | Prometheus, `MLOPSC_PROMETHEUS_URL` (default: kube-prometheus in the cluster) | Knative queue-proxy `revision_app_request_count` / `_latencies` of the InferenceService's predictor |
| sagemaker | CloudWatch `AWS/SageMaker` (`infra_cloudwatch`) | `Invocation5XXErrors` / `Invocations`, `ModelLatency` p99 |
| vertex | Cloud Monitoring's PromQL API (`MLOPSC_VERTEX_METRICS_URL`), bearer token | `aiplatform_googleapis_com:prediction_online_*` of the endpoint (`MLOPSC_VERTEX_ENDPOINT_ID`) |

The window is `MLOPSC_INFRA_WINDOW` (default 1h). `MLOPSC_INFRA_ERROR_RATE_QUERY` and
`MLOPSC_INFRA_P99_QUERY` replace the PromQL queries. A source that does not answer makes the
check fail with one line naming it (never a green check without data); no traffic in the window
is reported as such and passes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mlopsc.runtime.steps import StepContext, StepFailed

KUBE_PROMETHEUS = "http://prometheus-operated.monitoring.svc.cluster.local:9090"
WINDOW = "1h"

LOCAL_ERROR_RATE = ('(sum(rate(mlopsc_errors_total{kind="model"}[$window])) or on() vector(0)) / '
                    'sum(rate(mlopsc_requests_total{path=~"/predict|/invocations"}[$window]))')
LOCAL_P99_MS = "1000 * histogram_quantile(0.99, sum by (le) (rate(mlopsc_request_duration_seconds_bucket[$window])))"
_KNATIVE = 'namespace_name="$namespace",service_name=~"$service-predictor.*"'
KNATIVE_ERROR_RATE = (f'(sum(rate(revision_app_request_count{{{_KNATIVE},response_code_class="5xx"}}[$window])) '
                      f'or on() vector(0)) / sum(rate(revision_app_request_count{{{_KNATIVE}}}[$window]))')
KNATIVE_P99_MS = f"histogram_quantile(0.99, sum by (le) (rate(revision_app_request_latencies_bucket{{{_KNATIVE}}}[$window])))"
_VERTEX = '{monitored_resource="aiplatform.googleapis.com/Endpoint",endpoint_id="$endpoint_id"'
_VERTEX_COUNT = "aiplatform_googleapis_com:prediction_online_response_count"
VERTEX_ERROR_RATE = (f'(sum(rate({_VERTEX_COUNT}{_VERTEX},response_code=~"5.."}}[$window])) or on() vector(0)) / '
                     f"sum(rate({_VERTEX_COUNT}{_VERTEX}}}[$window]))")
VERTEX_P99_MS = ("histogram_quantile(0.99, sum by (le) (rate("
                 f"aiplatform_googleapis_com:prediction_online_prediction_latencies_bucket{_VERTEX}}}[$window])))")


@dataclass(frozen=True)
class Limits:
    max_error_rate: float | None
    max_p99_ms: float | None

    @classmethod
    def from_args(cls, args: dict[str, str]) -> Limits:
        def num(key: str) -> float | None:
            return float(args[key]) if args.get(key) else None

        return cls(num("max_error_rate"), num("max_p99_latency_ms"))


@dataclass(frozen=True)
class Reading:
    """What one source measured for one served model: None where there was no traffic."""

    name: str
    error_rate: float | None
    p99_ms: float | None
    requests: float | None = None


def judge(readings: list[Reading], limits: Limits) -> list[dict]:
    checks = []
    for r in readings:
        if limits.max_error_rate is not None:
            if r.error_rate is None:
                checks.append({"passed": True, "message": f"{r.name}: no requests in the window (error rate)"})
            else:
                seen = f", {r.requests:.0f} requests" if r.requests is not None else ""
                checks.append({"passed": r.error_rate <= limits.max_error_rate,
                               "message": f"{r.name}: error rate {r.error_rate:.4f} (max {limits.max_error_rate:g}{seen})"})
        if limits.max_p99_ms is not None:
            if r.p99_ms is None:
                checks.append({"passed": True, "message": f"{r.name}: no requests in the window (p99 latency)"})
            else:
                checks.append({"passed": r.p99_ms <= limits.max_p99_ms,
                               "message": f"{r.name}: p99 latency {r.p99_ms:g} ms (max {limits.max_p99_ms:g})"})
    return checks


def report(ctx: StepContext) -> dict:
    """The step's report: a source that does not answer is one failed check, not a crash."""
    limits = Limits.from_args(ctx.args)
    source = "?"
    try:
        source, readings = read(ctx)
    except StepFailed as e:
        return {"check": "infrastructure", "source": source, "servers": [], "violated": True,
                "checks": [{"passed": False, "message": f"metrics unavailable: {e}"}]}
    checks = judge(readings, limits)
    if not readings and ctx.target != "local":  # the source answered but knows no such endpoint
        checks.append({"passed": False, "message": f"{source}: no metrics for the served model in the window"})
    elif not readings:
        ctx.log("no running model servers to check (start them with `mlopsc run --serve` or `mlopsc serve`)")
    return {"check": "infrastructure", "source": source,
            "servers": [r.__dict__ for r in readings], "checks": checks,
            "violated": any(not c["passed"] for c in checks), "skipped": not readings}


def read(ctx: StepContext) -> tuple[str, list[Reading]]:
    window = os.environ.get("MLOPSC_INFRA_WINDOW", WINDOW)
    env = ctx.args.get("environment", "production")
    if ctx.target == "sagemaker":
        from mlopsc.runtime.platforms.infra_cloudwatch import read_endpoint

        return read_endpoint(ctx, env, window)
    if ctx.target == "kubeflow":
        return _read_kubeflow(ctx, env, window)
    if ctx.target == "vertex":
        return _read_vertex(ctx, env, window)
    url = os.environ.get("MLOPSC_PROMETHEUS_URL")
    if url:
        return url, [prometheus_reading(url, env, {"window": window}, LOCAL_ERROR_RATE, LOCAL_P99_MS)]
    from mlopsc.runtime.platforms.infra_local import scrape_servers

    return "the running model servers' /metrics", scrape_servers(ctx)


def prometheus_reading(url: str, name: str, values: dict[str, str], error_query: str, p99_query: str,
                       headers: dict[str, str] | None = None) -> Reading:
    from string import Template

    from mlopsc.runtime.platforms.promql import query_scalar

    error_query = os.environ.get("MLOPSC_INFRA_ERROR_RATE_QUERY") or error_query
    p99_query = os.environ.get("MLOPSC_INFRA_P99_QUERY") or p99_query
    error_rate = query_scalar(url, Template(error_query).substitute(values), headers=headers)
    p99 = query_scalar(url, Template(p99_query).substitute(values), headers=headers)
    return Reading(name, error_rate, p99)


def _read_kubeflow(ctx: StepContext, env: str, window: str) -> tuple[str, list[Reading]]:
    from mlopsc.resource_names import kserve_service
    from mlopsc.targets.kubeflow.settings import settings

    url = os.environ.get("MLOPSC_PROMETHEUS_URL") or KUBE_PROMETHEUS
    service = kserve_service(ctx.project.registry.model, env)
    values = {"window": window, "namespace": settings(ctx.project).namespace, "service": service}
    return url, [prometheus_reading(url, f"{env} ({service})", values, KNATIVE_ERROR_RATE, KNATIVE_P99_MS)]


def _read_vertex(ctx: StepContext, env: str, window: str) -> tuple[str, list[Reading]]:
    from mlopsc.targets.vertex.settings import settings

    endpoint_id = os.environ.get("MLOPSC_VERTEX_ENDPOINT_ID")
    if not endpoint_id:
        raise StepFailed("set MLOPSC_VERTEX_ENDPOINT_ID to the endpoint's id to read its metrics")
    project = settings(ctx.project).project
    url = (os.environ.get("MLOPSC_VERTEX_METRICS_URL")
           or f"https://monitoring.googleapis.com/v1/projects/{project}/location/global/prometheus")
    headers = {} if url.startswith("http://") else {"Authorization": f"Bearer {_google_token()}"}
    values = {"window": window, "endpoint_id": endpoint_id}
    return url, [prometheus_reading(url, f"{env} (endpoint {endpoint_id})", values, VERTEX_ERROR_RATE,
                                    VERTEX_P99_MS, headers)]


def _google_token() -> str:
    try:
        import google.auth
        import google.auth.transport.requests

        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/monitoring.read"])
        credentials.refresh(google.auth.transport.requests.Request())
    except Exception as e:  # noqa: BLE001 - any credential failure is the same one-line failure
        raise StepFailed(f"no Google credentials for Cloud Monitoring: {e}") from None
    return credentials.token
