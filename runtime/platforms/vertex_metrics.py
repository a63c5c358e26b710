"""A Vertex deployed model's error rate and p99 latency, read from Cloud Monitoring's PromQL API.

Cloud Monitoring answers PromQL at `MLOPSC_VERTEX_METRICS_URL` (default
`https://monitoring.googleapis.com/v1/projects/<project>/location/global/prometheus`) with the
step's Google credentials as a bearer token; an `http://` URL (a test's Prometheus) is queried
without one. Vertex's online prediction metrics there are
`aiplatform_googleapis_com:prediction_online_response_count` (by `response_code`) and
`aiplatform_googleapis_com:prediction_online_prediction_latencies` (a distribution, in ms),
both labelled with the endpoint and the deployed model.

`MLOPSC_VERTEX_ERROR_RATE_QUERY` and `MLOPSC_VERTEX_P99_QUERY` replace the queries (`$endpoint_id`,
`$deployed_model_id` and `$window` are substituted); the p99 query answers milliseconds.
"""

from __future__ import annotations

import os
from string import Template

from mlopsc.runtime.platforms import vertex_api as api
from mlopsc.runtime.platforms.promql import query_scalar

_SERIES = ('{monitored_resource="aiplatform.googleapis.com/Endpoint",endpoint_id="$endpoint_id",'
           'deployed_model_id="$deployed_model_id"')
_COUNT = "aiplatform_googleapis_com:prediction_online_response_count"
ERROR_RATE = (f'(sum(rate({_COUNT}{_SERIES},response_code=~"5.."}}[$window])) or vector(0)) / '
              f"sum(rate({_COUNT}{_SERIES}}}[$window]))")
P99_MS = ("histogram_quantile(0.99, sum by (le) (rate("
          f"aiplatform_googleapis_com:prediction_online_prediction_latencies_bucket{_SERIES}}}[$window])))")


def base_url(project: str) -> str:
    return (os.environ.get("MLOPSC_VERTEX_METRICS_URL")
            or f"https://monitoring.googleapis.com/v1/projects/{project}/location/global/prometheus")


def queries(where: api.Where, deployed_id: str, window_s: float) -> tuple[str, str]:
    values = {"endpoint_id": where.endpoint_id, "deployed_model_id": deployed_id,
              "window": f"{max(1, round(window_s))}s"}
    error_rate = os.environ.get("MLOPSC_VERTEX_ERROR_RATE_QUERY") or ERROR_RATE
    p99 = os.environ.get("MLOPSC_VERTEX_P99_QUERY") or P99_MS
    return Template(error_rate).substitute(values), Template(p99).substitute(values)


def read(where: api.Where, deployed_id: str, window_s: float) -> tuple[float | None, float | None]:
    """(error rate, p99 ms) of `deployed_id` over the last `window_s`; None where there was no traffic."""
    url = base_url(where.project)
    headers = {}
    if not url.startswith("http://"):
        headers["Authorization"] = f"Bearer {api.access_token(where.region)}"
    error_query, p99_query = queries(where, deployed_id, window_s)
    return (query_scalar(url, error_query, headers=headers), query_scalar(url, p99_query, headers=headers))
