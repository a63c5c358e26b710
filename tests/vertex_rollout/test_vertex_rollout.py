"""The Vertex rollout step, run as the compiled deploy pipeline runs it (`mlopsc step rollout` with
the executor's argv), against a server speaking Vertex's REST API on 127.0.0.1 (every body parsed
strictly into aiplatform's request messages, see vertex_fake.py) whose endpoint forwards
predictions to two real model servers (`runtime/serving.py`) by the traffic split, and a real
Prometheus scraping those servers for the error rate and p99 latency.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from mlopsc import api
from mlopsc.runtime.serving import ModelServer
from vertex_fake import FakeVertexServer

from tests.servers import free_port, prometheus_server

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "projects/acme-ml/locations/us-central1/endpoints/churn-classifier-production"
ROW = {"tenure_months": 3, "monthly_charges": 70.0}
# our model servers' metrics, where Cloud Monitoring has Vertex's (the model label is the deployed id)
ERROR_RATE = ('(sum(rate(mlopsc_requests_total{model="$deployed_model_id",path="/predict",status=~"5.."}[$window]))'
              ' or vector(0)) / sum(rate(mlopsc_requests_total{model="$deployed_model_id",path="/predict"}[$window]))')
P99_MS = ('histogram_quantile(0.99, sum by (le) (rate(mlopsc_request_duration_seconds_bucket'
          '{model="$deployed_model_id"}[$window]))) * 1000')


def healthy(instances):
    return [0.25] * len(instances)


def erroring(instances):
    raise RuntimeError("the challenger is broken")


def slow(instances):
    time.sleep(0.3)
    return [0.5] * len(instances)


def compiled_argv(environment: str) -> list[str]:
    """The environment's rollout step argv exactly as compiled for Vertex (placeholders filled below)."""
    result = api.compile_spec(str(ROOT / "specs" / "churn.yaml"), ["vertex"])
    assert result.ok
    spec = yaml.safe_load(result.bundles["vertex"]["pipelines/deploy.yaml"])
    container = spec["deploymentSpec"]["executors"][f"exec-deploy-{environment}"]["container"]
    assert container["command"][:2] == ["mlopsc", "step"]
    return [container["command"][2], *container["args"]]  # the action (rollout; deploy for direct), its args


@pytest.fixture(scope="module")
def rollout_argv():
    argv = compiled_argv("production")
    assert argv[0] == "rollout"
    return argv


def fill(argv: list[str], tmp: Path, exported: dict) -> list[str]:
    (tmp / "model.json").write_text(json.dumps(exported))
    values = {"{{$.inputs.parameters['model_version']}}": "3",
              "{{$.inputs.parameters['env_MLFLOW_TRACKING_URI']}}": "",
              "{{$.inputs.artifacts['model'].path}}": str(tmp / "model.json"),
              "{{$.inputs.artifacts['endpoint_resource'].path}}": str(tmp / "endpoint.json"),
              "{{$.inputs.parameters['previous_split']}}": "{}",
              "{{$.outputs.parameters['endpoint'].output_file}}": str(tmp / "endpoint.out"),
              "{{$.outputs.output_file}}": str(tmp / "executor-output.json"),
              "/opt/mlopsc/project/churn.yaml": str(ROOT / "specs" / "churn.yaml")}
    out = []
    for a in argv:
        for k, v in values.items():
            a = a.replace(k, v)
        assert "{{" not in a, a
        out.append(a)
    return out


class Traffic:
    """Clients calling the endpoint's `:predict` through the fake, as users would, until stopped."""

    def __init__(self, url: str, threads: int = 3):
        self.url, self.stopped, self.answers = f"{url}/v1/{ENDPOINT}:predict", threading.Event(), []
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self) -> None:
        body = json.dumps({"instances": [ROW]}).encode()
        while not self.stopped.is_set():
            try:
                with urllib.request.urlopen(urllib.request.Request(self.url, data=body), timeout=10) as r:
                    self.answers.append(json.loads(r.read())["deployedModelId"])
            except OSError:
                self.answers.append("error")
            time.sleep(0.01)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *a):
        self.stopped.set()
        for t in self.threads:
            t.join(timeout=15)


def run_rollout(argv, tmp, vertex_url, metrics_url, extra_env=None):
    env = {**os.environ, "MLOPSC_VERTEX_API_ENDPOINT": vertex_url, "MLOPSC_VERTEX_METRICS_URL": metrics_url,
           "MLOPSC_VERTEX_STEP_SECONDS": "4", "MLOPSC_VERTEX_ERROR_RATE_QUERY": ERROR_RATE,
           "MLOPSC_VERTEX_P99_QUERY": P99_MS, "MLOPSC_VERTEX_OPERATION_TIMEOUT": "3", **(extra_env or {})}
    env.pop("MLFLOW_TRACKING_URI", None)
    exported = {"model": "churn-classifier", "version": "3", "image": "us-docker.pkg.dev/acme-ml/churn@sha256:ab",
                "model_uri": "gs://acme-ml-artifacts/models/churn-classifier/3"}
    return subprocess.run([sys.executable, "-m", "mlopsc", "step", *fill(argv, tmp, exported)],
                          capture_output=True, text=True, env=env, cwd=str(tmp), timeout=300, check=False)


@pytest.fixture()
def stack(request):
    """champion and challenger model servers, Prometheus scraping both, the fake Vertex with the
    production endpoint serving the champion; the challenger's behaviour is the test's parameter."""
    challenger_model = getattr(request, "param", healthy)
    champion = ModelServer(healthy, name="champion").start()
    challenger = ModelServer(challenger_model, name="challenger").start()
    try:
        hosts = [s.url.removeprefix("http://") for s in (champion, challenger)]
        with prometheus_server(hosts) as prom, FakeVertexServer() as vertex:
            vertex.fake.add_endpoint(ENDPOINT, {"champion": champion.url})
            vertex.fake.backends["challenger"] = challenger.url
            vertex.fake.next_deployed_id = "challenger"
            yield vertex, prom
    finally:
        champion.stop()
        challenger.stop()


def test_a_healthy_challenger_is_walked_to_100_percent_and_promoted(stack, rollout_argv, tmp_path):
    vertex, prom = stack
    with Traffic(vertex.url) as traffic:
        proc = run_rollout(rollout_argv, tmp_path, vertex.url, prom)
    assert proc.returncode == 0, proc.stderr
    fake = vertex.fake
    assert fake.rejected == []
    assert fake.split(ENDPOINT) == {"challenger": 100}
    assert [d["id"] for d in fake.endpoints[ENDPOINT]["deployedModels"]] == ["challenger"]
    # the canary percents walked, in order, through UpdateEndpoint after the DeployModel at 5%
    patches = [c for c in fake.calls if c[0] == "PATCH"]
    assert len(patches) == 4  # 25, 50, 100, then the promotion's 100 (champion gone)
    for words in ("challenger at 5%", "challenger at 25%", "challenger at 50%", "challenger at 100%", "promoted"):
        assert words in proc.stderr + proc.stdout
    # the uploaded Model: the export's directory and image, with the compiled serving container
    [model] = fake.models.values()
    assert model["artifactUri"] == "gs://acme-ml-artifacts/models/churn-classifier/3"
    assert model["containerSpec"]["imageUri"] == "us-docker.pkg.dev/acme-ml/churn@sha256:ab"
    assert model["containerSpec"]["command"] == ["mlopsc", "vertex-serve"]
    assert model["containerSpec"]["predictRoute"] == "/predict"
    assert model["labels"]["mlopsc-version"] == "3"
    assert (tmp_path / "endpoint.out").read_text().strip().strip('"') == ENDPOINT
    # both models really served the traffic the metrics came from
    assert traffic.answers.count("challenger") > 10 and traffic.answers.count("champion") > 10


@pytest.mark.parametrize("stack,rule", [(erroring, "error rate"), (slow, "p99 latency")], indirect=["stack"])
def test_a_failing_challenger_is_rolled_back_to_the_champion(stack, rule, rollout_argv, tmp_path):
    vertex, prom = stack
    with Traffic(vertex.url) as traffic:
        proc = run_rollout(rollout_argv, tmp_path, vertex.url, prom)
        before = len(traffic.answers)
        time.sleep(1)
        after = traffic.answers[before:]
    assert proc.returncode == 1, proc.stderr
    fake = vertex.fake
    assert fake.rejected == []
    assert fake.split(ENDPOINT) == {"champion": 100}
    assert [d["id"] for d in fake.endpoints[ENDPOINT]["deployedModels"]] == ["champion"]
    message = proc.stderr.strip().splitlines()[-1]
    # at the first step whose window Prometheus has scraped (5%, or 25% on a loaded machine)
    assert re.search(r"production: rolled back challenger at (5|25)%", message) and f"rule tripped: {rule}" in message
    assert "champion: 100%" in message and "Traceback" not in proc.stderr
    assert after and set(after) == {"champion"}  # traffic is back on the champion


def test_a_metrics_api_that_does_not_answer_rolls_back(stack, rollout_argv, tmp_path):
    vertex, _ = stack
    dead = f"http://127.0.0.1:{free_port()}"
    proc = run_rollout(rollout_argv, tmp_path, vertex.url, dead)
    assert proc.returncode == 1
    message = proc.stderr.strip().splitlines()[-1]
    assert "production: rolled back challenger" in message and f"metrics server {dead} does not answer" in message
    assert vertex.fake.split(ENDPOINT) == {"champion": 100}
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("knob,expected", [
    ("fail_deploy", "-production failed: BAD_REQUEST: the model server never became ready"),
    ("deploy_never_done", "not done after 3 s")])
def test_a_deploy_that_fails_or_never_finishes_leaves_the_previous_split(stack, rollout_argv, tmp_path, knob,
                                                                         expected):
    vertex, prom = stack
    setattr(vertex.fake, knob, "the model server never became ready" if knob == "fail_deploy" else True)
    proc = run_rollout(rollout_argv, tmp_path, vertex.url, prom)
    assert proc.returncode == 1
    message = proc.stderr.strip().splitlines()[-1]
    assert "production: deploying projects/acme-ml/locations/us-central1/models/" in message
    assert expected in message, message
    assert message.endswith("the previous split (champion: 100%) still serves")
    assert vertex.fake.split(ENDPOINT) == {"champion": 100}
    assert vertex.fake.rejected == [] and "Traceback" not in proc.stderr


def test_an_endpoint_that_does_not_exist_is_one_line_naming_the_environment(rollout_argv, tmp_path):
    with FakeVertexServer() as vertex:
        proc = run_rollout(rollout_argv, tmp_path, vertex.url, "http://127.0.0.1:9")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert "production: vertex endpoint:" in message and "NOT_FOUND" in message.upper()
    assert vertex.fake.models == {}  # nothing uploaded


def test_a_direct_deploy_takes_all_traffic_at_once_without_reading_metrics(tmp_path):
    staging = ENDPOINT.replace("-production", "-staging")
    with FakeVertexServer() as vertex:
        vertex.fake.add_endpoint(staging, {"old": "http://127.0.0.1:9"})
        vertex.fake.next_deployed_id = "new"
        proc = run_rollout(compiled_argv("staging"), tmp_path, vertex.url, "http://127.0.0.1:9")
    assert proc.returncode == 0, proc.stderr
    assert vertex.fake.rejected == [] and vertex.fake.split(staging) == {"new": 100}
    assert [d["id"] for d in vertex.fake.endpoints[staging]["deployedModels"]] == ["new"]
