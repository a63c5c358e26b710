"""Vertex's custom serving container contract, in a container of the image `mlopsc build` made:
started with the command of the compiled Model's `containerSpec`, the model directory in the GCS
emulator at `AIP_STORAGE_URI`, `AIP_HTTP_PORT` / `AIP_HEALTH_ROUTE` / `AIP_PREDICT_ROUTE` as
Vertex sets them; no tracking server. It answers `{"instances"}` with the same predictions as
`mlopsc serve` gives for the same rows from the registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from mlopsc import api
from servers import free_port, gcs_emulator

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[2]
ROWS = [{"a": 0.5, "b": -1.0, "c": 2.0}, {"a": 3.0, "b": 0.25, "c": -0.5}, {"a": 0.0, "b": 0.0, "c": 0.0}]
HEALTH = "/v1/endpoints/123/deployedModels/456"
PREDICT = HEALTH + ":predict"


def _register(workdir: Path) -> Path:
    """A scikit-learn model registered as churn-local version 1 with alias `staging`; its local directory."""
    import mlflow
    import numpy as np
    import pandas as pd
    from mlopsc.runtime.platforms.tracking_store import embedded_tracking_uri
    from mlopsc.runtime.tracking import Tracker
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(3)
    x = pd.DataFrame(rng.normal(size=(50, 3)), columns=["a", "b", "c"])
    model = LinearRegression().fit(x, x @ [0.5, -2.0, 1.25] + rng.normal(scale=0.1, size=50))
    tracker = Tracker(workdir, experiment="churn-local", tracking_uri=embedded_tracking_uri(workdir))
    with tracker.start_run(run_name="train"):
        model_uri = tracker.log_model(model, framework="sklearn", input_example=x.head(3))
    tracker.register(model_uri, "churn-local", aliases=("staging",))
    return Path(mlflow.artifacts.download_artifacts(artifact_uri="models:/churn-local/1",
                                                    dst_path=str(workdir / "exported")))


def _wait(url: str, proc_or_container: str, docker_env: dict | None = None) -> None:
    deadline = time.monotonic() + 300
    while True:
        try:
            if urllib.request.urlopen(url, timeout=5).status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            logs = subprocess.run(["docker", "logs", proc_or_container], capture_output=True, text=True, check=False,
                                  env=docker_env).stderr if docker_env else ""
            raise AssertionError(f"{url} never answered:\n{logs[-2000:]}")
        time.sleep(1)


def _predict(url: str) -> list:
    body = json.dumps({"instances": ROWS}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=60).read())["predictions"]


def _mlopsc_serve(workdir: Path, monkeypatch) -> list:
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": ""}
    proc = subprocess.Popen([sys.executable, "-m", "mlopsc", "serve", str(ROOT / "specs" / "churn-local.yaml"),
                             "-e", "staging", "--port", str(port), "--workdir", str(workdir)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait(f"http://127.0.0.1:{port}/health", "")
        return _predict(f"http://127.0.0.1:{port}/predict")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _container_command() -> list[str]:
    """The command of the Model's containerSpec, as the compiled rollout step uploads it."""
    result = api.compile_spec(str(ROOT / "specs" / "churn.yaml"), ["vertex"])
    spec = yaml.safe_load(result.bundles["vertex"]["pipelines/deploy.yaml"])
    args = spec["deploymentSpec"]["executors"]["exec-deploy-production"]["container"]["args"]
    container = json.loads(next(a for a in args if a.startswith("serving_container=")).partition("=")[2])
    assert container["ports"] == [{"containerPort": 8080}]
    return container["command"]


def test_the_image_serves_the_exported_model_under_vertexs_contract(cloud_images, docker_env, tmp_path,
                                                                     monkeypatch):
    tag, _ = cloud_images["gs"]
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exported = _register(tmp_path)
    expected = _mlopsc_serve(tmp_path, monkeypatch)
    command = _container_command()
    with gcs_emulator() as gcs:
        from gcsfs.core import GCSFileSystem

        fs = GCSFileSystem(token="anon")
        fs.mkdir("vertex-models")
        fs.put(str(exported), "vertex-models/churn-local/1", recursive=True)
        port = free_port()
        started = subprocess.run(
            ["docker", "run", "-d", "--rm", "--network", "host", "--entrypoint", command[0],
             "-e", f"STORAGE_EMULATOR_HOST={gcs}", "-e", "AIP_STORAGE_URI=gs://vertex-models/churn-local/1",
             "-e", f"AIP_HTTP_PORT={port}", "-e", f"AIP_HEALTH_ROUTE={HEALTH}", "-e", f"AIP_PREDICT_ROUTE={PREDICT}",
             tag, *command[1:]], capture_output=True, text=True, env=docker_env, check=True)
        container = started.stdout.strip()
        try:
            url = f"http://127.0.0.1:{port}"
            _wait(url + HEALTH, container, docker_env)
            got = _predict(url + PREDICT)
        finally:
            subprocess.run(["docker", "stop", "-t", "5", container], capture_output=True, env=docker_env, check=False)
    assert len(got) == len(ROWS)
    assert got == pytest.approx(expected)
