"""`runtime: mlflow` on KServe: MLServer + mlserver-mlflow (KServe's MLflow runtime, in a venv
without mlopsc) serves the example model's registered MLflow directory, laid out as KServe mounts
`storageUri` at /mnt/models, and answers the V2 protocol with the predictions `mlopsc serve`'s
server gives for the same rows. The custom runtime's server answers KServe's V1 protocol."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mlopsc.runtime.httpbase import Upstream
from mlopsc.runtime.platforms.kserve_protocol import Endpoint
from mlopsc.runtime.platforms.tracking_store import embedded_tracking_uri
from mlopsc.runtime.serving import ModelServer
from mlopsc.runtime.steps import load_callable
from mlserver_env import ensure_venv, mlserver

pytestmark = pytest.mark.slow

SPEC_DIR = Path(__file__).resolve().parents[2] / "specs"
NAME = "churn-classifier-staging"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The churn example trained briefly, logged as the train step logs it (the feature view's
    transform and the user's files with it), registered; its version's model directory copied
    where KServe's storage initializer puts it."""
    import mlflow
    from mlopsc.runtime.tracking import Tracker

    work = tmp_path_factory.mktemp("exported")
    train = load_callable("churn_local/train.py:train", SPEC_DIR)
    transform = load_callable("churn_local/features.py:customer_activity", SPEC_DIR)
    generate = load_callable("churn_local/make_data.py:generate", SPEC_DIR)
    data = generate(1200, seed=5)
    model, _ = train(data, {"epochs": 2})
    raw = data.drop(columns=["churned"])
    tracker = Tracker(work, experiment="churn-local", tracking_uri=embedded_tracking_uri(work))
    with tracker.start_run(run_name="train"):
        uri = tracker.log_model(model, input_example=raw.head(5), framework="pytorch",
                                transforms=((transform, ("avg_order_value_30d", "tenure_bucket")),),
                                code_paths=[str(SPEC_DIR / "churn_local" / f) for f in ("features.py", "train.py")])
    version = tracker.register(uri, "churn-local", approval_required_for=())
    download = tracker.client.get_model_version_download_uri("churn-local", str(getattr(version, "version", version)))
    # KServe's storage initializer copies what is under storageUri into /mnt/models
    local = mlflow.artifacts.download_artifacts(artifact_uri=download, dst_path=str(work / "download"))
    mnt = work / "mnt" / "models"
    shutil.copytree(local, mnt)
    assert (mnt / "MLmodel").is_file(), sorted(p.name for p in mnt.iterdir())
    rows = json.loads(raw.sample(40, random_state=1).to_json(orient="records"))
    return mnt, rows


def mlopsc_serve_predictions(model_dir: Path, rows: list[dict]) -> list[float]:
    with ModelServer.from_model_uri(str(model_dir), name=NAME).start() as server:
        status, out = Upstream(timeout=30).post_json(server.url + "/predict", {"instances": rows})
    assert status == 200, out
    return out["predictions"]


def test_mlserver_serves_the_exported_model_with_the_same_predictions(exported, tmp_path):
    model_dir, rows = exported
    no_mlopsc = subprocess.run([str(ensure_venv()), "-c", "import mlopsc"], capture_output=True, check=False)
    assert no_mlopsc.returncode != 0  # what loads there loads without mlopsc
    expected = mlopsc_serve_predictions(model_dir, rows)
    with mlserver(model_dir, NAME, tmp_path) as url:
        endpoint = Endpoint(url, NAME, "mlflow")
        status, raw, _ = Upstream(timeout=60).request("POST", endpoint.predict_url, endpoint.body(rows),
                                                      {"Content-Type": "application/json"})
        assert status == 200, raw[:2000]
        got = endpoint.predictions(json.loads(raw))
        smoke = endpoint.smoke_test(rows[:5])
    assert got is not None and len(got) == len(rows)
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float), rtol=1e-6, atol=1e-9)
    assert len(set(np.round(got, 6))) > 5  # real, varied predictions, not a constant
    assert smoke["passed"], smoke


def test_the_custom_runtime_answers_kserve_v1(exported):
    from mlopsc.runtime.kserve_serve import model_server

    model_dir, rows = exported
    server = model_server(model_dir, NAME, 0)
    server.host = "127.0.0.1"
    with server.start():
        endpoint = Endpoint(server.url, NAME, "custom")
        assert endpoint.predict_url == f"{server.url}/v1/models/{NAME}:predict"
        status, out = Upstream(timeout=30).post_json(endpoint.predict_url, {"instances": rows})
        smoke = endpoint.smoke_test(rows[:5])
    assert status == 200 and out["predictions"] == mlopsc_serve_predictions(model_dir, rows)
    assert smoke["passed"], smoke


def test_the_custom_runtime_without_a_model_is_one_line(tmp_path):
    from mlopsc.runtime.kserve_serve import model_server

    with pytest.raises(SystemExit, match=f"{tmp_path} holds no MLflow model"):
        model_server(tmp_path, NAME, 0)
