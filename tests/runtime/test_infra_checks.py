"""The monitor's check-infrastructure step on each platform's metrics: Prometheus scraping a
local model server and an exporter of the Knative (KServe) and Vertex series; CloudWatch on
moto's server seeded with PutMetricData. A source that does not answer is one failed check."""

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from mlopsc.api import load_project
from mlopsc.runtime.httpbase import Upstream
from mlopsc.runtime.platforms import promql
from mlopsc.runtime.serving import ModelServer
from mlopsc.runtime.steps import StepContext, run_step
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest

from tests.servers import free_port, moto_server, prometheus_server

ROOT = Path(__file__).resolve().parents[2]
CHURN = ROOT / "specs" / "churn.yaml"
LOCAL = ROOT / "specs" / "churn-local.yaml"


def check(spec, tmp_path, target, **limits):
    ctx = StepContext(project=load_project(str(spec)), spec_dir=spec.parent, workdir=tmp_path, target=target,
                      args={k: str(v) for k, v in limits.items()}, log=lambda _m: None,
                      outputs={"report": str(tmp_path / "report"), "violated": str(tmp_path / "violated")})
    result = run_step("monitor_infra", ctx)
    return result["violated"], json.loads((tmp_path / "report").read_text())


def wait_for(url, query, timeout=40.0):
    deadline = time.monotonic() + timeout
    value = None
    while value is None and time.monotonic() < deadline:
        try:
            value = promql.query_scalar(url, query)
        except promql.PrometheusUnavailable:  # still starting: 503 until its storage is ready
            pass
        time.sleep(0.5)
    assert value is not None, f"prometheus never had {query}"


def serve_registry(registry):
    """The registry in the text format as is (prometheus_client's own server rewrites `:` in
    names for a Prometheus that asks for escaping; Cloud Monitoring's names keep it)."""
    import http.server
    import threading

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def exporter():
    """Knative queue-proxy and Vertex online-prediction series, as their scrapes show them."""
    registry = CollectorRegistry()
    knative = Gauge("revision_app_request_count", "", ["namespace_name", "service_name", "revision_name",
                                                       "response_code_class"], registry=registry)
    knative_latency = Histogram("revision_app_request_latencies", "", ["namespace_name", "service_name"],
                                buckets=(50, 100, 500, 1000), registry=registry)
    vertex = Gauge("aiplatform_googleapis_com:prediction_online_response_count", "",
                   ["monitored_resource", "endpoint_id", "response_code"], registry=registry)
    vertex_latency = Histogram("aiplatform_googleapis_com:prediction_online_prediction_latencies", "",
                               ["monitored_resource", "endpoint_id"], buckets=(10, 50, 100, 1000), registry=registry)
    series = {
        "knative_ok": knative.labels("ml", "churn-classifier-production-predictor", "churn-classifier-production-predictor-00001", "2xx"),
        "knative_5xx": knative.labels("ml", "churn-classifier-production-predictor", "churn-classifier-production-predictor-00001", "5xx"),
        "knative_latency": knative_latency.labels("ml", "churn-classifier-production-predictor"),
        "vertex_ok": vertex.labels("aiplatform.googleapis.com/Endpoint", "123", "200"),
        "vertex_5xx": vertex.labels("aiplatform.googleapis.com/Endpoint", "123", "503"),
        "vertex_latency": vertex_latency.labels("aiplatform.googleapis.com/Endpoint", "123"),
    }
    for name in ("knative_ok", "knative_5xx", "vertex_ok", "vertex_5xx"):
        series[name].set(0)
    return registry, series


def serve_traffic(series, model_url):
    series["knative_ok"].set(90)
    series["knative_5xx"].set(10)  # 10% errors
    for _ in range(100):
        series["knative_latency"].observe(80)  # p99 within the 100 ms bucket
        series["vertex_latency"].observe(700)  # p99 within the 1000 ms bucket
    series["vertex_ok"].set(199)
    series["vertex_5xx"].set(1)  # 0.5% errors
    client = Upstream()
    for i in range(50):
        client.post_json(model_url + "/predict", {"instances": [i]})


def test_prometheus_sources_on_local_kubeflow_and_vertex(tmp_path, monkeypatch):
    def flaky(rows):
        if rows[0] % 10 == 0:
            raise RuntimeError("bug")
        return rows

    registry, series = exporter()
    http, thread = serve_registry(registry)
    port = http.server_address[1]
    monkeypatch.setenv("MLOPSC_INFRA_WINDOW", "5m")
    try:
        with ModelServer(flaky, name="churn-local", version="3") as server:
            # a request before the first scrape: the counters exist, so their increase is the traffic below
            Upstream().post_json(server.url + "/predict", {"instances": [1]})
            with prometheus_server([f"127.0.0.1:{port}", server.url.removeprefix("http://")]) as url:
                measure(url, series, server.url, tmp_path, monkeypatch)
    finally:
        http.shutdown()
        http.server_close()
        thread.join(5)


def measure(url, series, model_url, tmp_path, monkeypatch):
    """Each source against the same scrapes: local (mlopsc_*), Kubeflow (Knative), Vertex."""
    wait_for(url, 'count(up == 1) == 2')
    serve_traffic(series, model_url)
    wait_for(url, 'sum(rate(revision_app_request_count{response_code_class="5xx"}[5m])) > 0')
    wait_for(url, 'sum(rate(mlopsc_errors_total{kind="model"}[5m])) > 0')
    wait_for(url, 'sum(rate(aiplatform_googleapis_com:prediction_online_response_count[5m])) > 0')
    monkeypatch.setenv("MLOPSC_PROMETHEUS_URL", url)
    violated, report = check(LOCAL, tmp_path, "local", max_error_rate=0.02, max_p99_latency_ms=250)
    assert violated is True and report["source"] == url, report
    assert abs(report["servers"][0]["error_rate"] - 0.1) < 0.01, report
    assert check(LOCAL, tmp_path, "local", max_error_rate=0.2)[0] is False

    violated, report = check(CHURN, tmp_path, "kubeflow", max_error_rate=0.02, max_p99_latency_ms=250)
    assert violated is True, report
    (reading,) = report["servers"]
    assert abs(reading["error_rate"] - 0.1) < 0.01 and reading["p99_ms"] <= 100, reading
    assert [c["passed"] for c in report["checks"]] == [False, True]

    monkeypatch.setenv("MLOPSC_VERTEX_METRICS_URL", url)  # http://: no bearer token
    monkeypatch.setenv("MLOPSC_VERTEX_ENDPOINT_ID", "123")
    violated, report = check(CHURN, tmp_path, "vertex", max_error_rate=0.02, max_p99_latency_ms=250)
    (reading,) = report["servers"]
    assert abs(reading["error_rate"] - 0.005) < 0.002 and reading["p99_ms"] > 250, reading
    assert violated is True and [c["passed"] for c in report["checks"]] == [True, False]


@pytest.mark.parametrize("target", ["local", "kubeflow"])
def test_a_prometheus_that_does_not_answer_is_a_failed_check(tmp_path, monkeypatch, target):
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLOPSC_PROMETHEUS_URL", dead)
    violated, report = check(LOCAL if target == "local" else CHURN, tmp_path, target, max_error_rate=0.02)
    assert violated is True
    (only,) = report["checks"]
    assert not only["passed"] and only["message"] == f"metrics unavailable: metrics server {dead} does not answer: " \
        "[Errno 111] Connection refused"


def put(cw, name, value, endpoint="churn-classifier-production", unit="Count"):
    cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
        "MetricName": name, "Value": value, "Unit": unit, "Timestamp": dt.datetime.now(dt.UTC),
        "Dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}]}])


def test_cloudwatch_error_rate_of_the_sagemaker_endpoint(tmp_path):
    import boto3

    with moto_server():
        cw = boto3.client("cloudwatch")
        put(cw, "Invocations", 120)
        put(cw, "Invocations", 80)
        put(cw, "Invocation5XXErrors", 6)
        put(cw, "Invocations", 1000, endpoint="another-endpoint")
        violated, report = check(CHURN, tmp_path, "sagemaker", max_error_rate=0.02)
        assert violated is True and report["source"] == "CloudWatch AWS/SageMaker for endpoint churn-classifier-production"
        assert report["servers"] == [{"name": "churn-classifier-production/AllTraffic", "error_rate": 0.03, "p99_ms": None,
                                      "requests": 200.0}]
        assert check(CHURN, tmp_path, "sagemaker", max_error_rate=0.05)[0] is False


def test_cloudwatch_without_metrics_for_the_endpoint_or_not_answering_fails(tmp_path, monkeypatch):
    with moto_server():
        violated, report = check(CHURN, tmp_path, "sagemaker", max_error_rate=0.05)
        assert violated is True
        assert report["checks"][-1]["message"].endswith("no metrics for the served model in the window")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    violated, report = check(CHURN, tmp_path, "sagemaker", max_error_rate=0.05)
    (only,) = report["checks"]
    assert violated is True and only["message"].startswith(
        "metrics unavailable: CloudWatch AWS/SageMaker for endpoint churn-classifier-production does not answer")


def test_without_prometheus_the_local_check_reads_foreground_servers_too(tmp_path, monkeypatch):
    """`mlopsc serve` records itself while it runs (a dead server's record is dropped): the check
    reads its /metrics instead of passing with "no running model servers"."""
    from mlopsc.runtime import localserve

    def flaky(rows):
        if rows[0] % 10 == 0:
            raise RuntimeError("bug")
        return rows

    monkeypatch.delenv("MLOPSC_PROMETHEUS_URL", raising=False)
    root = tmp_path / "work"
    root.mkdir()
    assert check(LOCAL, root, "local", max_error_rate=0.02)[1]["skipped"] is True  # nothing serves yet
    dead = localserve.foreground_dir(root) / "production-999999999.json"
    dead.parent.mkdir(parents=True)
    dead.write_text(json.dumps({"environment": "production", "pid": 999999999, "role": "serve",
                                "url": "http://127.0.0.1:9", "version": "1"}))
    with ModelServer(flaky, name="churn-local", version="3") as server:
        record = localserve.record_foreground(root, "production", server.url, "3")
        for i in range(50):
            Upstream().post_json(server.url + "/predict", {"instances": [i]})
        violated, report = check(LOCAL, root, "local", max_error_rate=0.02)
        record.unlink()
    assert violated is True and not dead.exists(), report
    (reading,) = report["servers"]
    assert reading["name"] == "production v3 (mlopsc serve)" and abs(reading["error_rate"] - 0.1) < 0.01, reading
