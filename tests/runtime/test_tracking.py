import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from churn_example_code import customer_activity, make_data, train
from mlflow import MlflowClient
from mlopsc.runtime import datafiles, tracking
from mlopsc.runtime.serving import ModelServer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("project")
    path = datafiles.write(make_data.generate(3000, seed=0), workdir / "data" / "customers.parquet")
    df = customer_activity(datafiles.read(path))
    model, metrics = train(df, {"lr": 0.005, "epochs": 6, "hidden": [32, 16], "batch_size": 512})
    tracker = tracking.Tracker(workdir, experiment="churn")
    lineage = tracking.lineage_tags(git_commit="0123abc", git_dirty=False, spec_hash="sha256:spec",
                                    data_versions={"customers": tracking.content_hash(path)})
    with tracker.start_run(run_name="train", tags=lineage) as run:
        tracker.log_params({"lr": 0.005, "hidden": [32, 16]})
        tracker.log_metrics(metrics)
        model_uri = tracker.log_model(model, input_example=make_data.generate(3, seed=9).drop(columns=["churned"]))
    version = tracker.register(
        model_uri, "churn-classifier", tags={**lineage, **tracking.lineage_tags(run_id=run.info.run_id)},
        aliases=("candidate",), approval_required_for=("production",),
    )
    return {"workdir": workdir, "tracker": tracker, "run": run, "version": version, "metrics": metrics, "path": path,
                "model": model}


def test_store_defaults_live_under_the_workdir(trained):
    workdir = trained["workdir"]
    assert trained["tracker"].tracking_uri == "sqlite:///" + str((workdir / ".mlopsc" / "mlflow.db").resolve())
    assert (workdir / ".mlopsc" / "mlflow.db").is_file()
    assert any((workdir / ".mlopsc" / "mlruns").rglob("MLmodel"))


def test_run_has_params_metrics_and_lineage(trained):
    client = MlflowClient(trained["tracker"].tracking_uri)
    run = client.get_run(trained["run"].info.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.005", "hidden": "[32,16]"}
    assert run.data.metrics["val_auc"] == pytest.approx(trained["metrics"]["val_auc"])
    assert run.data.tags["mlopsc.git_commit"] == "0123abc"
    assert run.data.tags["mlopsc.spec_hash"] == "sha256:spec"
    assert run.data.tags["mlopsc.data.customers"] == tracking.content_hash(trained["path"])
    assert client.get_experiment(run.info.experiment_id).name == "churn"


def test_registered_version_is_pending_approval_with_lineage_and_alias(trained):
    client = MlflowClient(trained["tracker"].tracking_uri)
    v = client.get_model_version_by_alias("churn-classifier", "candidate")
    assert str(v.version) == str(trained["version"].version) == "1"
    assert v.tags["mlopsc.approval"] == "pending"
    assert v.tags["mlopsc.approval.required_for"] == "production"
    assert v.tags["mlopsc.run_id"] == trained["run"].info.run_id
    assert v.tags["mlopsc.git_commit"] == "0123abc"
    assert trained["tracker"].version_for_alias("churn-classifier", "production") is None
    with pytest.raises(ValueError, match="needs approval"):
        trained["tracker"].register("models:/x", "churn-classifier", aliases=("production",),
                                    approval_required_for=("production",))


def test_approval_sets_the_environment_alias(trained):
    tracker = trained["tracker"]
    v = tracker.approve("churn-classifier", trained["version"].version, alias="production", approver="alice")
    assert v.tags["mlopsc.approval"] == "approved" and v.tags["mlopsc.approved_by"] == "alice"
    assert str(tracker.version_for_alias("churn-classifier", "production").version) == "1"


def test_registered_model_loads_and_serves_over_http(trained):
    tracker = trained["tracker"]
    batch = make_data.generate(5, seed=4).drop(columns=["churned"])
    loaded = tracker.load_model("models:/churn-classifier@candidate")
    expected = trained["model"].predict(batch)
    assert loaded.predict(batch).tolist() == pytest.approx(expected.tolist())
    server = ModelServer.from_model_uri("models:/churn-classifier@candidate", tracking_uri=tracker.tracking_uri,
                                        name="churn-classifier", version="1")
    with server:
        body = json.dumps({"instances": batch.to_dict("records")}).encode()
        req = urllib.request.Request(server.url + "/predict", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            out = json.loads(resp.read())
        # JSON has no int/float distinction and may carry nulls: the served model must take both
        odd = [{"customer_id": "x", "tenure_months": None, "monthly_spend": 25, "orders_30d": 2, "plan": "pro"}]
        req = urllib.request.Request(server.url + "/predict", data=json.dumps({"instances": odd}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert 0 <= json.loads(resp.read())["predictions"][0] <= 1
    assert out["predictions"] == pytest.approx(expected.tolist(), rel=1e-5)
    assert out["version"] == "1"


def test_git_commit_and_content_hash(tmp_path):
    assert tracking.git_commit(tmp_path) == (None, False)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f.txt").write_text("x")
    subprocess.run(["git", "-C", str(tmp_path), "add", "f.txt"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "m"],
                   check=True)
    head, dirty = tracking.git_commit(tmp_path)
    assert len(head) == 40 and dirty is False
    (tmp_path / "f.txt").write_text("y")
    assert tracking.git_commit(tmp_path)[1] is True
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "a").write_bytes(b"1")
    h1 = tracking.content_hash(d)
    (d / "sub" / "a").write_bytes(b"2")
    assert tracking.content_hash(d) != h1 and h1.startswith("sha256:")


def _mlmodel(tracker, model_uri) -> dict:
    import mlflow
    import yaml

    mlflow.set_tracking_uri(tracker.tracking_uri)
    local = mlflow.artifacts.download_artifacts(model_uri)
    return yaml.safe_load((Path(local) / "MLmodel").read_text()), Path(local)


@pytest.fixture
def own_store(monkeypatch):
    """mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI, which steps take as the orchestrator's
    store: restore it so later tests do not write into this test's store."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def test_a_model_of_the_spec_framework_is_logged_with_its_flavor_and_a_signature(tmp_path, own_store):
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1, 0, 1, 0]})
    estimator = LogisticRegression().fit(x, [0, 0, 1, 1])
    tracker = tracking.Tracker(tmp_path, experiment="flavors")
    with tracker.start_run(run_name="train"):
        sk_uri = tracker.log_model(estimator, input_example=x.head(2), framework="sklearn")
        other_uri = tracker.log_model(_Half(), name="other", input_example=x.head(2), framework="sklearn")
    mlmodel, _ = _mlmodel(tracker, sk_uri)
    assert "sklearn" in mlmodel["flavors"] and mlmodel["signature"]["inputs"]
    other, _ = _mlmodel(tracker, other_uri)  # not an estimator: a pyfunc, still with a signature
    assert "sklearn" not in other["flavors"] and other["flavors"]["python_function"]["loader_module"] == \
        "mlflow.pyfunc.model"
    assert json.loads(other["signature"]["inputs"]) == [
        {"name": "a", "type": "any", "required": False}, {"name": "b", "type": "any", "required": False}]


class _Half:
    def predict(self, df):
        return [0.5] * len(df)


def test_the_feature_transform_travels_with_the_model_and_it_loads_without_mlopsc(tmp_path, own_store):
    import pandas as pd
    from mlopsc.runtime.steps import load_callable

    code = tmp_path / "code"
    code.mkdir()
    (code / "feats.py").write_text("def doubled(df):\n    out = df.copy()\n    out['x2'] = out['x'] * 2\n"
                                   "    return out\n")
    (code / "model.py").write_text("class UsesX2:\n    def predict(self, df):\n        return list(df['x2'] + 1)\n"
                                   "\ndef make():\n    return UsesX2()\n")
    transform = load_callable("feats.py:doubled", code)
    model = load_callable("model.py:make", code)()
    tracker = tracking.Tracker(tmp_path / "work", experiment="transforms")
    with tracker.start_run(run_name="train"):
        uri = tracker.log_model(model, input_example=pd.DataFrame({"x": [1.0, 2.0]}), framework="pytorch",
                                transforms=((transform, ("x2",)),), code_paths=[str(code / "feats.py")])
    mlmodel, local = _mlmodel(tracker, uri)
    assert (local / "code" / "feats.py").is_file()
    script = ("import sys; sys.modules['mlopsc'] = None\n"  # mlopsc cannot be imported where it is served
              "import json, mlflow.pyfunc, pandas as pd\n"
              f"m = mlflow.pyfunc.load_model({str(local)!r})\n"
              "print(json.dumps([float(v) for v in m.predict(pd.DataFrame({'x': [3, 5]}))]))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == [7.0, 11.0]  # the transform ran before the model
