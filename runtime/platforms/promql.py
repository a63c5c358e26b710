"""Reading one number from a Prometheus-compatible query API.

Three readers share it: the Kubeflow rollout (the cluster's Prometheus), the Vertex rollout
(Cloud Monitoring answers PromQL at
`https://monitoring.googleapis.com/v1/projects/PROJECT/location/global/prometheus`, same API,
with a bearer token) and the monitor's infrastructure checks. Standard library only.

    query_scalar("http://127.0.0.1:9090", 'sum(rate(http_requests_total{code=~"5.."}[5m]))')
    # -> 0.0, or None when the query matches no series (no traffic yet)

Errors are one line naming the server: `PrometheusUnavailable` when it does not answer or
answers something that is not the query API, `PrometheusQueryError` when it rejects the query.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request

from mlopsc.runtime.steps import StepFailed


class PrometheusUnavailable(StepFailed):
    """The metrics server did not answer, or its answer is not Prometheus's query API."""


class PrometheusQueryError(StepFailed):
    """The metrics server answered with an error for the query (bad PromQL, a bad label)."""


def query_url(base_url: str, promql: str, at: float | None = None) -> str:
    params = {"query": promql}
    if at is not None:
        params["time"] = f"{at:.3f}"
    return base_url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode(params)


def query_vector(base_url: str, promql: str, *, headers: dict[str, str] | None = None,
                 timeout: float = 10.0, at: float | None = None) -> list[tuple[dict, float]]:
    """An instant query's result as [(labels, value)]; a scalar result is one unlabelled entry."""
    data = _get(query_url(base_url, promql, at), base_url, headers, timeout)
    result_type, result = data.get("resultType"), data.get("result")
    if result_type == "scalar":
        return [({}, _number(result[1]))]
    if result_type != "vector" or not isinstance(result, list):
        raise PrometheusQueryError(f"{base_url}: query {promql!r} returned a {result_type}, not an instant vector")
    return [(item.get("metric", {}), _number(item["value"][1])) for item in result]


def query_scalar(base_url: str, promql: str, *, headers: dict[str, str] | None = None,
                 timeout: float = 10.0, at: float | None = None) -> float | None:
    """The query's single value; None when no series matches or the value is NaN (e.g. a rate
    over no requests). A query matching several series is an error: aggregate it in PromQL."""
    rows = query_vector(base_url, promql, headers=headers, timeout=timeout, at=at)
    if not rows:
        return None
    if len(rows) > 1:
        raise PrometheusQueryError(f"{base_url}: query {promql!r} matched {len(rows)} series; aggregate it "
                                   "(sum, max, histogram_quantile) to one")
    value = rows[0][1]
    return None if math.isnan(value) else value


def _get(url: str, base_url: str, headers: dict[str, str] | None, timeout: float) -> dict:
    request = urllib.request.Request(url, headers={"Accept": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as e:
        body = _error_body(e)
        if body is None:
            raise PrometheusUnavailable(f"metrics server {base_url} answered HTTP {e.code}, not the query API") from None
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        reason = getattr(e, "reason", e)
        raise PrometheusUnavailable(f"metrics server {base_url} does not answer: {reason}") from None
    except ValueError:
        raise PrometheusUnavailable(f"metrics server {base_url} answered something that is not JSON") from None
    if not isinstance(body, dict) or "status" not in body:
        raise PrometheusUnavailable(f"metrics server {base_url} answered something that is not the query API")
    if body["status"] != "success":
        raise PrometheusQueryError(f"{base_url}: {body.get('errorType', 'error')}: {body.get('error', 'query failed')}")
    return body.get("data") or {}


def _error_body(error: urllib.error.HTTPError) -> dict | None:
    """Prometheus answers a bad query with HTTP 400/422 and a JSON error body."""
    try:
        body = json.loads(error.read())
    except (ValueError, OSError):
        return None
    return body if isinstance(body, dict) and "status" in body else None


def _number(value: object) -> float:
    return float(value)  # Prometheus sends sample values as strings ("NaN", "+Inf" included)


__all__ = ["PrometheusQueryError", "PrometheusUnavailable", "query_scalar", "query_url", "query_vector"]
