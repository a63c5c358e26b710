"""The PromQL reader against Debian's real Prometheus, scraping a real exporter on 127.0.0.1."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from mlopsc.runtime.platforms import promql
from tests.servers import free_port, prometheus_server


def _wait_for(fn, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value is not None or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def test_query_scalar_reads_what_prometheus_scraped():
    registry = CollectorRegistry()
    requests = Counter("demo_requests", "requests served", ["code"], registry=registry)
    requests.labels(code="200").inc(7)
    requests.labels(code="500").inc(3)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        with prometheus_server([f"127.0.0.1:{port}"]) as url:
            errors = _wait_for(lambda: promql.query_scalar(url, 'sum(demo_requests_total{code="500"})'))
            assert errors == 3.0
            assert promql.query_scalar(url, "sum(demo_requests_total)") == 10.0
            assert promql.query_scalar(url, 'sum(demo_requests_total{code="404"})') is None
            with pytest.raises(promql.PrometheusQueryError, match="matched 2 series"):
                promql.query_scalar(url, "demo_requests_total")
            with pytest.raises(promql.PrometheusQueryError, match="bad_data"):
                promql.query_scalar(url, "sum(")
    finally:
        server.shutdown()
        thread.join(5)


def test_a_metrics_server_that_does_not_answer_is_one_line():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(promql.PrometheusUnavailable, match=f"metrics server {url} does not answer"):
        promql.query_scalar(url, "up", timeout=2)
