"""The monitor's actions on the local target: `rollback` puts the previous production version
back through the local rollout path (the running endpoint answers with it); `retrain` starts a
train run that reads the new data version."""

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlopsc.api import load_project
from mlopsc.runtime import localserve
from mlopsc.runtime.httpbase import Upstream
from mlopsc.runtime.steps import StepContext, run_step

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "churn-local.yaml"

MODEL_CODE = '''
import mlflow.pyfunc


class Constant(mlflow.pyfunc.PythonModel):
    def __init__(self, value):
        self.value = value

    def predict(self, context, model_input, params=None):
        return [self.value] * len(model_input)
'''


def register_constant_models(root, uri, values):
    import mlflow
    from mlopsc.runtime.tracking import Tracker

    code = root / "constant_model.py"
    code.write_text(MODEL_CODE)
    sys.path.insert(0, str(root))
    try:
        import constant_model
    finally:
        sys.path.remove(str(root))
    tracker = Tracker(root, experiment="actions", tracking_uri=uri)
    for value in values:
        with tracker.start_run():
            info = mlflow.pyfunc.log_model(name="model", python_model=constant_model.Constant(value),
                                           code_paths=[str(code)])
        tracker.register(info.model_uri, "churn-local")
    return tracker


def serving_version(url):
    status, answer = Upstream(timeout=10).post_json(url + "/predict", {"instances": [{"x": 1}]})
    assert status == 200, answer
    return answer["version"], answer["predictions"]


@pytest.mark.slow
def test_rollback_puts_the_previous_version_back_in_production(tmp_path, monkeypatch):
    from mlopsc.runtime.platforms.local_rollout import LocalDeployment

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    tracker = register_constant_models(tmp_path, uri, [1, 2])
    project = load_project(str(SPEC))
    production = next(e for e in project.deployment.environments if e.name == "production")
    ctx = StepContext(project=project, spec_dir=SPEC.parent, workdir=tmp_path, log=lambda _m: None,
                      tracking_uri=uri, args={"on_violation": "rollback", "environment": "production"},
                      inputs={"drift_violated": "true"})
    try:
        for version in ("1", "2"):  # version 1 served, then replaced by version 2
            LocalDeployment(ctx, production, "churn-local", tracker).replace(
                version, tracker.version_for_alias("churn-local", "production"), {"version": version})
        endpoint = localserve.read_state(tmp_path, "production")["endpoint"]
        assert serving_version(endpoint) == ("2", [2])
        result = run_step("act", ctx)
        (action,) = result["actions"]
        assert action["done"] is True and action["version"] == "1", action
        endpoint = localserve.read_state(tmp_path, "production")["endpoint"]
        assert serving_version(endpoint) == ("1", [1])
        assert str(tracker.version_for_alias("churn-local", "production").version) == "1"
        assert str(tracker.version_for_alias("churn-local", "previous-production").version) == "2"
    finally:
        localserve.stop_environment(tmp_path, "production")


def test_rollback_without_a_previous_version_is_reported_not_raised(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    register_constant_models(tmp_path, uri, [1])
    ctx = StepContext(project=load_project(str(SPEC)), spec_dir=SPEC.parent, workdir=tmp_path, tracking_uri=uri,
                      log=lambda _m: None, args={"on_violation": "rollback"}, inputs={"drift_violated": "true"})
    (action,) = run_step("act", ctx)["actions"]
    assert action == {"action": "rollback", "done": False, "error": "no previous version"}


@pytest.mark.slow
def test_retrain_starts_a_train_run_on_the_new_data_version(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    shutil.copy(SPEC, tmp_path / "churn-local.yaml")
    shutil.copytree(SPEC.parent / "churn_local", tmp_path / "churn_local",
                    ignore=shutil.ignore_patterns("data", "__pycache__"))
    subprocess.run([sys.executable, str(tmp_path / "churn_local" / "make_data.py")], check=True, capture_output=True)
    data = tmp_path / "churn_local" / "data" / "customers.parquet"
    old = hashlib.sha256(data.read_bytes()).hexdigest()
    import pandas as pd

    df = pd.read_parquet(data)  # the new data version: the same customers, a month later
    df["tenure_months"] += 1
    df.to_parquet(data)
    new = hashlib.sha256(data.read_bytes()).hexdigest()
    assert new != old
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    spec = tmp_path / "churn-local.yaml"
    ctx = StepContext(project=load_project(str(spec)), spec_dir=tmp_path, workdir=work, log=lambda _m: None,
                      args={"on_violation": "retrain"}, inputs={"drift_violated": "true"})
    (action,) = run_step("act", ctx)["actions"]
    assert action["started"] is True, action
    deadline = time.monotonic() + 600
    while localserve.alive(action["pid"]) and time.monotonic() < deadline:
        time.sleep(1)
    log = Path(action["log"]).read_text()
    assert "train" in log and not localserve.alive(action["pid"]), log[-3000:]
    db = f"sqlite:///{work / '.mlopsc' / 'mlflow.db'}"
    runs = MlflowClient(tracking_uri=db).search_runs(
        [e.experiment_id for e in MlflowClient(tracking_uri=db).search_experiments()])
    read = {r.data.tags.get("mlopsc.data.customers") for r in runs} - {None}
    assert read == {f"sha256:{new}"}, (read, log[-3000:])


def test_retrain_on_sagemaker_starts_the_train_pipeline(tmp_path):
    import boto3

    from tests.servers import moto_server

    spec = ROOT / "specs" / "churn.yaml"
    with moto_server():
        sm = boto3.client("sagemaker")
        definition = json.dumps({"Version": "2020-12-01", "Steps": []})
        for name in ("churn-classifier-train", "churn-classifier-deploy"):
            sm.create_pipeline(PipelineName=name, PipelineDefinition=definition,
                               RoleArn="arn:aws:iam::123456789012:role/mlops-pipelines")
        ctx = StepContext(project=load_project(str(spec)), spec_dir=spec.parent, workdir=tmp_path, target="sagemaker",
                          log=lambda _m: None, args={"on_violation": "retrain"}, inputs={"drift_violated": "true"})
        (action,) = run_step("act", ctx)["actions"]
        assert action["started"] is True, action
        executions = sm.list_pipeline_executions(PipelineName="churn-classifier-train")["PipelineExecutionSummaries"]
        assert [e["PipelineExecutionArn"] for e in executions] == [action["arn"]]
        assert sm.list_pipeline_executions(PipelineName="churn-classifier-deploy")["PipelineExecutionSummaries"] == []


def test_retrain_that_cannot_start_is_reported_and_the_verdict_stands(tmp_path):
    from tests.servers import moto_server

    spec = ROOT / "specs" / "churn.yaml"
    with moto_server():  # no train pipeline was ever submitted
        ctx = StepContext(project=load_project(str(spec)), spec_dir=spec.parent, workdir=tmp_path, target="sagemaker",
                          log=lambda _m: None, args={"on_violation": "retrain"}, inputs={"drift_violated": "true"})
        result = run_step("act", ctx)
    assert result["violated"] == ["drift"]
    (action,) = result["actions"]
    assert action["started"] is False and "churn-classifier-train" in action["error"], action


def test_retrain_on_kubeflow_creates_a_run_of_the_newest_train_pipeline_version(tmp_path, monkeypatch, httpserver):
    """A KFP API server (v2beta1 REST, as kfp.Client speaks it) on 127.0.0.1."""
    api = "/apis/v2beta1"
    httpserver.expect_request(f"{api}/healthz").respond_with_json({"multi_user": False})
    httpserver.expect_request(f"{api}/pipelines", method="GET").respond_with_json(
        {"pipelines": [{"pipeline_id": "p-1", "display_name": "churn-classifier-train"}], "total_size": 1})
    httpserver.expect_request(f"{api}/pipelines/p-1/versions", method="GET").respond_with_json(
        {"pipeline_versions": [{"pipeline_id": "p-1", "pipeline_version_id": "v-7", "display_name": "v7"}],
         "total_size": 1})
    httpserver.expect_request(f"{api}/experiments", method="GET").respond_with_json(
        {"experiments": [{"experiment_id": "e-1", "display_name": "churn-classifier"}], "total_size": 1})
    httpserver.expect_request(f"{api}/runs", method="POST").respond_with_json(
        {"run_id": "r-42", "display_name": "churn-classifier-train-retrain", "experiment_id": "e-1"})
    monkeypatch.setenv("KFP_HOST", httpserver.url_for("").rstrip("/"))
    spec = ROOT / "specs" / "churn.yaml"
    ctx = StepContext(project=load_project(str(spec)), spec_dir=spec.parent, workdir=tmp_path, target="kubeflow",
                      log=lambda _m: None, args={"on_violation": "retrain"}, inputs={"drift_violated": "true"})
    (action,) = run_step("act", ctx)["actions"]
    assert action["started"] is True and action["run_id"] == "r-42", action
    requests = {(r.method, r.path): r for r, _ in httpserver.log}
    listed = json.loads(requests[("GET", f"{api}/pipelines")].args["filter"])
    assert listed["predicates"][0]["stringValue"] == "churn-classifier-train"
    versions = requests[("GET", f"{api}/pipelines/p-1/versions")].args
    assert (versions["sort_by"], versions["page_size"]) == ("created_at desc", "1")
    run = json.loads(requests[("POST", f"{api}/runs")].data)
    assert run["experiment_id"] == "e-1" and run["display_name"] == "churn-classifier-train-retrain"
    assert run["pipeline_version_reference"] == {"pipeline_id": "p-1", "pipeline_version_id": "v-7"}


def test_retrain_on_vertex_creates_the_train_pipeline_job(tmp_path, monkeypatch, httpserver):
    """Vertex's REST API on 127.0.0.1: the body parsed strictly into aiplatform's PipelineJob."""
    from google.cloud.aiplatform_v1 import types
    from google.protobuf import json_format
    from werkzeug import Response

    parent = "projects/acme-ml/locations/us-central1"
    received = []

    def create(request):
        job = json_format.Parse(request.get_data(as_text=True), types.PipelineJob.pb()(), ignore_unknown_fields=False)
        received.append(json_format.MessageToDict(job))
        job.name = f"{parent}/pipelineJobs/retrain-1"
        return Response(json_format.MessageToJson(job), content_type="application/json")

    httpserver.expect_request(f"/v1/{parent}/pipelineJobs", method="POST").respond_with_handler(create)
    monkeypatch.setenv("MLOPSC_VERTEX_API_ENDPOINT", httpserver.url_for("").rstrip("/"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://mlflow.acme.example")
    spec = ROOT / "specs" / "churn.yaml"
    ctx = StepContext(project=load_project(str(spec)), spec_dir=spec.parent, workdir=tmp_path, target="vertex",
                      log=lambda _m: None, args={"on_violation": "retrain"}, inputs={"drift_violated": "true"})
    (action,) = run_step("act", ctx)["actions"]
    assert action["started"] is True and action["job"] == f"{parent}/pipelineJobs/retrain-1", action
    (job,) = received
    assert job["displayName"] == "churn-classifier-train"
    assert job["pipelineSpec"]["pipelineInfo"]["name"] == "churn-classifier-train"
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://acme-ml-artifacts/pipelines"
    assert job["runtimeConfig"]["parameterValues"]["MLFLOW_TRACKING_URI"] == "https://mlflow.acme.example"
    assert job["serviceAccount"] == "pipelines@acme-ml.iam.gserviceaccount.com"
