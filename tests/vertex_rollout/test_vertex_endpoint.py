"""`prepare_endpoint` run from its compiled argv, and the smoke and load tests calling the endpoint
in Vertex's protocol, against the strict REST fake (vertex_fake.py) and a real model server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlopsc import api
from mlopsc.runtime.platforms import vertex
from mlopsc.runtime.serving import ModelServer
from vertex_fake import FakeVertexServer

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "projects/acme-ml/locations/us-central1/endpoints/churn-classifier-production"


def _prepare(argv: list[str], tmp: Path, url: str) -> subprocess.CompletedProcess:
    values = {"{{$.inputs.parameters['model_version']}}": "3",
              "{{$.inputs.parameters['env_MLFLOW_TRACKING_URI']}}": "",
              "{{$.outputs.artifacts['endpoint'].path}}": str(tmp / "endpoint.json"),
              "{{$.outputs.parameters['traffic_split'].output_file}}": str(tmp / "split.json"),
              "{{$.outputs.parameters['previous_split'].output_file}}": str(tmp / "previous.json"),
              "{{$.outputs.output_file}}": str(tmp / "executor-output.json"),
              "/opt/mlopsc/project/churn.yaml": str(ROOT / "specs" / "churn.yaml")}
    filled = []
    for a in argv:
        for k, v in values.items():
            a = a.replace(k, v)
        assert "{{" not in a, a
        filled.append(a)
    env = {**os.environ, "MLOPSC_VERTEX_API_ENDPOINT": url}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, "-m", "mlopsc", "step", "prepare_endpoint", *filled], capture_output=True,
                          text=True, env=env, cwd=str(tmp), timeout=120, check=False)


@pytest.fixture(scope="module")
def prepare_argv():
    result = api.compile_spec(str(ROOT / "specs" / "churn.yaml"), ["vertex"])
    spec = yaml.safe_load(result.bundles["vertex"]["pipelines/deploy.yaml"])
    return spec["deploymentSpec"]["executors"]["exec-endpoint-production"]["container"]["args"]


def test_prepare_endpoint_creates_the_endpoint_then_reads_its_split(prepare_argv, tmp_path):
    with FakeVertexServer() as server:
        proc = _prepare(prepare_argv, tmp_path, server.url)
        assert proc.returncode == 0, proc.stderr
        fake = server.fake
        assert fake.rejected == [] and list(fake.endpoints) == [ENDPOINT]
        created = fake.endpoints[ENDPOINT]
        assert created["displayName"] == "churn-classifier-production"
        assert created["labels"]["mlopsc-environment"] == "production"
        logging = {"enabled": True, "samplingRate": 1.0, "bigqueryDestination": {"outputUri": "bq://acme-ml"}}
        assert created["predictRequestResponseLoggingConfig"] == logging  # the monitored environment's captures
        assert json.loads((tmp_path / "previous.json").read_text()) == {}
        assert json.loads((tmp_path / "split.json").read_text()) == {"0": 100}  # nothing to share with
        # an endpoint serving a champion: the canary's first 5% comes out of its share
        fake.endpoints[ENDPOINT].update(trafficSplit={"champion": 100}, deployedModels=[{"id": "champion"}])
        proc = _prepare(prepare_argv, tmp_path, server.url)
        assert proc.returncode == 0, proc.stderr
        assert json.loads((tmp_path / "previous.json").read_text()) == {"champion": 100}
        assert json.loads((tmp_path / "split.json").read_text()) == {"0": 5, "champion": 95}
        assert [c for c in fake.calls if c[0] == "POST"] == [("POST", f"/v1/{ENDPOINT.rsplit('/', 2)[0]}/endpoints")]
        assert [c for c in fake.calls if c[0] == "PATCH"] == []  # its logging was already as compiled
        # an endpoint made before monitoring was added (no logging): turned on, nothing else changed
        del fake.endpoints[ENDPOINT]["predictRequestResponseLoggingConfig"]
        assert _prepare(prepare_argv, tmp_path, server.url).returncode == 0
        assert [c for c in fake.calls if c[0] == "PATCH"] == [("PATCH", f"/v1/{ENDPOINT}")] and fake.rejected == []
        assert fake.endpoints[ENDPOINT]["predictRequestResponseLoggingConfig"] == logging
        assert fake.endpoints[ENDPOINT]["trafficSplit"] == {"champion": 100}


def test_smoke_and_load_tests_call_predict_in_vertexs_protocol(monkeypatch):
    model = ModelServer(lambda instances: [0.5] * len(instances), name="champion").start()
    try:
        with FakeVertexServer() as server:
            monkeypatch.setenv("MLOPSC_VERTEX_API_ENDPOINT", server.url)
            server.fake.add_endpoint(ENDPOINT, {"champion": model.url})
            rows = [{"tenure_months": 3}, {"tenure_months": 40}]
            smoke = vertex.smoke_test(None, ENDPOINT, rows)
            assert smoke["passed"] and [c["check"] for c in smoke["checks"]] == ["endpoint", "predict"]
            load = vertex.load_test(None, ENDPOINT, rows, rps=20, duration_s=1, max_p95_ms=2000)
            assert load["passed"] and load["requests"] == 20 and load["errors"] == 0
            assert server.fake.rejected == []
            # nothing deployed: the smoke test fails, saying so
            server.fake.add_endpoint(ENDPOINT, {})
            smoke = vertex.smoke_test(None, ENDPOINT, rows)
            assert not smoke["passed"] and "no model is deployed" in smoke["checks"][0]["detail"]
    finally:
        model.stop()
