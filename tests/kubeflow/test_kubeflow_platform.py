"""The deploy pipeline's rollout, smoke and load test steps on the kubeflow platform, run as the
step runs them (`run_step`): the registry version's storageUri applied through the Kubernetes API
on 127.0.0.1 (bodies validated against the KServe CRD), each step judged from a real Prometheus,
the registry aliases following what serves; the tests after the deploy speak KServe's protocol."""

from __future__ import annotations

from pathlib import Path

import pytest
from example_specs import ROOT, load_example
from kube_fake import FakeKServe, serve
from mlopsc.runtime.platforms import platform_for
from mlopsc.runtime.platforms.kserve_status import canary_percent, serving_revision, storage_uri_of
from mlopsc.runtime.platforms.tracking_store import embedded_tracking_uri
from mlopsc.runtime.serving import ModelServer
from mlopsc.runtime.steps import StepContext, StepFailed, run_step
from mlopsc.targets.kubeflow.kserve import inference_service
from servers import prometheus_server

pytestmark = pytest.mark.slow

MODEL, NS, NAME = "churn-classifier", "ml", "churn-classifier-production"
URIS = {"1": "s3://acme-ml-artifacts/models/churn/1", "2": "s3://acme-ml-artifacts/models/churn/2"}


@pytest.fixture(scope="module")
def project():
    return load_example("churn")


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """Two registered versions whose model directories are in the artifact store (S3); version 1
    serves production, version 2 is approved for it."""
    from mlopsc.runtime.tracking import Tracker

    monkeypatch.setenv("MLFLOW_TRACKING_URI", embedded_tracking_uri(tmp_path))
    tracker = Tracker(tmp_path, experiment="churn")
    tracker.client.create_registered_model(MODEL)
    for version, uri in URIS.items():
        tracker.client.create_model_version(MODEL, uri)
        tracker.client.set_model_version_tag(MODEL, version, "mlopsc.approval", "approved")
    tracker.set_alias(MODEL, "production", "1")
    return tracker


@pytest.fixture
def cluster(project, isvc_schema, monkeypatch):
    fake = FakeKServe(isvc_schema)
    env = next(e for e in project.deployment.environments if e.name == "production")
    fake.seed(inference_service(project, env), URIS["1"])
    with serve(fake) as api, prometheus_server([]) as prometheus:
        monkeypatch.setenv("MLOPSC_KUBE_API", api)
        monkeypatch.setenv("MLOPSC_PROMETHEUS_URL", prometheus)
        monkeypatch.setenv("MLOPSC_KSERVE_POLL_SECONDS", "0.05")
        monkeypatch.setenv("MLOPSC_ROLLOUT_ERROR_RATE_QUERY", "vector(0)")
        yield fake


def rollout_ctx(project, tmp_path, interval="0.2"):
    return StepContext(project=project, spec_dir=Path(ROOT) / "specs", workdir=tmp_path, log=lambda _m: None,
                       target="kubeflow", args={"environment": "production", "model": MODEL, "steps": "50,100",
                                                "interval": interval},
                       inputs={"model_version": "2"}, outputs={"endpoint": str(tmp_path / "endpoint")})


def test_the_rollout_step_promotes_and_moves_the_registry_aliases(project, registry, cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPSC_ROLLOUT_P99_MS_QUERY", "vector(12)")
    result = run_step("rollout", rollout_ctx(project, tmp_path))
    after = cluster.get(NS, NAME)
    assert result["state"] == "promoted" and result["version"] == "2"
    assert (tmp_path / "endpoint").read_text().strip('"\n') == f"http://{NAME}.{NS}.svc.cluster.local"
    assert storage_uri_of(after) == URIS["2"] and canary_percent(after) is None
    assert serving_revision(after) == f"{NAME}-predictor-00002"
    assert registry.version_for_alias(MODEL, "production").version == 2
    assert registry.version_for_alias(MODEL, "previous-production").version == 1


def test_a_breach_rolls_back_and_the_registry_keeps_the_champion(project, registry, cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPSC_ROLLOUT_P99_MS_QUERY", "vector(900)")
    with pytest.raises(StepFailed) as caught:
        run_step("rollout", rollout_ctx(project, tmp_path))
    after = cluster.get(NS, NAME)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("production: rolled back:")
    assert "p99 latency 900.0 ms exceeds max_p99_latency_ms 200" in str(caught.value)
    assert canary_percent(after) == 0 and serving_revision(after) == f"{NAME}-predictor-00001"
    assert registry.version_for_alias(MODEL, "production").version == 1
    assert registry.client.get_model_version(MODEL, "2").tags["mlopsc.rollout.production"] == "rolled_back"
    assert not (tmp_path / "endpoint").exists()


def test_a_version_kserve_cannot_download_is_one_line(project, registry, cluster, tmp_path):
    registry.client.create_model_version(MODEL, "mlflow-artifacts:/1/models/m-abc/artifacts")
    registry.client.set_model_version_tag(MODEL, "3", "mlopsc.approval", "approved")
    ctx = rollout_ctx(project, tmp_path)
    ctx.inputs["model_version"] = "3"
    with pytest.raises(StepFailed, match="version 3 of churn-classifier is stored at mlflow-artifacts:/1/models/"
                                         "m-abc/artifacts, which KServe cannot download"):
        run_step("rollout", ctx)
    assert storage_uri_of(cluster.get(NS, NAME)) == URIS["1"]


def test_smoke_and_load_tests_speak_kserve_v2_for_the_mlflow_runtime(project, tmp_path):
    """A V2 stand-in: `/v2/models/NAME/infer` answered from `mlopsc serve`'s model; the real
    MLServer is exercised in test_kserve_mlflow_runtime."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    seen = []

    class V2(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200 if self.path == "/v2/models/churn-classifier-staging/ready" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, body))
            rows = len(body["inputs"][0]["data"])
            out = json.dumps({"model_name": "churn-classifier-staging", "outputs": [
                {"name": "output-1", "shape": [rows], "datatype": "FP64", "data": [0.25] * rows}]}).encode()
            self.send_response(200 if self.path == "/v2/models/churn-classifier-staging/infer" else 404)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = ThreadingHTTPServer(("127.0.0.1", 0), V2)
    Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    ctx = StepContext(project=project, spec_dir=Path(ROOT) / "specs", workdir=tmp_path, log=lambda _m: None,
                      target="kubeflow", args={"environment": "staging"})
    rows = [{"tenure_months": 3, "monthly_spend": 42.5, "plan": "pro", "autopay": True}]
    try:
        platform = platform_for("kubeflow")
        smoke = platform.smoke_test(ctx, url, rows)
        load = platform.load_test(ctx, url, rows, rps=20, duration_s=0.5, max_p95_ms=None)
    finally:
        server.shutdown()
        server.server_close()
    assert smoke["passed"] and load["passed"] and load["requests"] == 10
    path, body = seen[0]
    assert path == "/v2/models/churn-classifier-staging/infer" and body["parameters"] == {"content_type": "pd"}
    assert body["inputs"] == [
        {"name": "tenure_months", "shape": [1], "datatype": "INT64", "data": [3]},
        {"name": "monthly_spend", "shape": [1], "datatype": "FP64", "data": [42.5]},
        {"name": "plan", "shape": [1], "datatype": "BYTES", "data": ["pro"]},
        {"name": "autopay", "shape": [1], "datatype": "BOOL", "data": [True]}]


def test_the_smoke_test_of_a_custom_runtime_speaks_kserve_v1(tmp_path):
    import dataclasses

    project = load_example("churn")
    serving = dataclasses.replace(project.deployment.serving, runtime="custom")
    project = dataclasses.replace(project, deployment=dataclasses.replace(project.deployment, serving=serving))
    ctx = StepContext(project=project, spec_dir=Path(ROOT) / "specs", workdir=tmp_path, log=lambda _m: None,
                      target="kubeflow", args={"environment": "staging"})
    with ModelServer(lambda rows: [0.5] * len(rows), name="churn-classifier-staging").start() as server:
        url = server.url
        smoke = platform_for("kubeflow").smoke_test(ctx, url, [{"tenure_months": 3}])
        wrong = ModelServer(lambda rows: [0.5] * len(rows), name="another").start()
        try:
            refused = platform_for("kubeflow").smoke_test(ctx, wrong.url, [{"tenure_months": 3}])
        finally:
            wrong.stop()
    assert smoke["passed"] and smoke["url"] == f"{url}/v1/models/churn-classifier-staging:predict"
    assert not refused["passed"]
