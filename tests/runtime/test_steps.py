"""The step actions end to end on the bundled churn example: real files, torch, MLflow."""

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from churn_example_code import EXAMPLE, make_data
from mlflow import MlflowClient
from mlopsc import ir
from mlopsc.api import load_project
from mlopsc.runtime import datafiles, steps

SPEC = Path(__file__).with_name("churn_local.mlops.yaml")


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("churn")
    shutil.copy(SPEC, root / "mlops.yaml")
    shutil.copy(EXAMPLE / "features.py", root / "features.py")
    shutil.copy(EXAMPLE / "train.py", root / "train.py")
    datafiles.write(make_data.generate(4000, seed=0), root / "data" / "customers.parquet")
    datafiles.write(make_data.generate(1500, seed=1, id_offset=10**6), root / "data" / "holdout.parquet")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "."], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init"],
                   check=True)
    return root


def load(root, monkeypatch):
    monkeypatch.chdir(root)
    return load_project("mlops.yaml")


def ctx(project, root, step, inputs=None, outputs=(), args=None, log=None):
    return steps.StepContext(
        project=project, spec_dir=root, args=dict(args or {}), inputs=dict(inputs or {}),
        outputs={o: f".mlopsc/runs/train/{step}/{o}" for o in outputs},
        log=log if log is not None else (lambda _msg: None),
    )


def out(root, step, name):
    return str(root / ".mlopsc" / "runs" / "train" / step / name)


@pytest.fixture(scope="module")
def trained(project_dir):
    mp = pytest.MonkeyPatch()
    try:
        # an earlier test's mlflow.set_tracking_uri exported its store; the steps would take it as
        # the orchestrator's choice instead of the project's own store
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        project = load(project_dir, mp)
        root = project_dir
        steps.run_step("validate", ctx(project, root, "validate-data", outputs=("data", "report")))
        steps.run_step("features", ctx(project, root, "build-features", {"data": out(root, "validate-data", "data")},
                                       ("features",)))
        trained = steps.run_step("train", ctx(project, root, "train",
                                              {"data": out(root, "build-features", "features"),
                                               "git_commit": "unknown"}, ("model", "metrics")))
        gate = steps.run_step("evaluate", ctx(project, root, "evaluate",
                                              {"model": out(root, "train", "model"),
                                               "data": out(root, "validate-data", "data")},
                                              ("evaluation", "passed")))
        reg = steps.run_step("register", ctx(project, root, "register",
                                             {"model": out(root, "train", "model"),
                                              "evaluation": out(root, "evaluate", "evaluation"),
                                              "git_commit": "unknown"},
                                             ("model_version",), {"model": "churn-local", "approval": "pending"}))
        yield {"project": project, "root": root, "train": trained, "gate": gate, "register": reg}
    finally:
        mp.undo()


def test_train_pipeline_registers_a_pending_version_with_lineage(trained):
    root, project = trained["root"], trained["project"]
    assert trained["gate"]["passed"] is True
    assert trained["register"] == {"model": "churn-local", "version": "1", "approval": "pending"}
    client = MlflowClient("sqlite:///" + str((root / ".mlopsc" / "mlflow.db").resolve()))
    v = client.get_model_version_by_alias("churn-local", "candidate")
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert v.tags["mlopsc.git_commit"] == head
    assert v.tags["mlopsc.spec_hash"] == project.spec_hash
    assert v.tags["mlopsc.data.customers"].startswith("sha256:")
    assert v.tags["mlopsc.data.holdout"].startswith("sha256:")
    assert v.tags["mlopsc.run_id"] == trained["train"]["run_id"]
    assert v.tags["mlopsc.approval"] == "pending"
    run = client.get_run(trained["train"]["run_id"])
    assert run.data.metrics["val_auc"] > 0.85
    assert run.data.params["hidden"] == "[32,16]"
    evaluation = json.loads(Path(out(root, "evaluate", "evaluation")).read_text())
    assert evaluation["passed"] is True and set(evaluation["slices"]["plan"]) == {"basic", "pro", "enterprise"}
    assert json.loads(Path(out(root, "evaluate", "passed")).read_text()) is True
    assert json.loads(Path(out(root, "register", "model_version")).read_text()) == "1"
    assert sorted(p.name for p in Path(out(root, "build-features", "features")).iterdir()) == [
        "customers.parquet", "holdout.parquet", "versions.json"]


def test_a_bad_batch_stops_at_validate_with_the_failures(trained, tmp_path, monkeypatch):
    root = tmp_path / "bad"
    shutil.copytree(trained["root"], root, ignore=shutil.ignore_patterns(".mlopsc", ".git"))
    datafiles.write(make_data.corrupt(make_data.generate(4000, seed=0)), root / "data" / "customers.parquet")
    project = load(root, monkeypatch)
    with pytest.raises(steps.StepFailed) as err:
        steps.run_step("validate", ctx(project, root, "validate-data", outputs=("data", "report")))
    msg = str(err.value)
    assert "column 'customer_id': nullable: 3 rows null" in msg
    assert "column 'tenure_months': min: 5 rows below 0 (e.g. -1 at row 3)" in msg
    assert "column 'orders_30d': missing" in msg
    assert "column 'plan': values: 1 row not one of" in msg
    assert not Path(out(root, "validate-data", "data")).exists()
    report = json.loads(Path(out(root, "validate-data", "report")).read_text())
    assert report["passed"] is False and report["datasets"][1]["passed"] is True


def test_a_model_below_its_threshold_is_not_registered(trained, monkeypatch):
    root, project = trained["root"], trained["project"]
    monkeypatch.chdir(root)
    strict = dataclasses.replace(project, evals=dataclasses.replace(
        project.evals, thresholds=(ir.Threshold("auc", 0.999, None),)))
    result = steps.run_step("evaluate", ctx(strict, root, "evaluate-strict",
                                            {"model": out(root, "train", "model"),
                                             "data": out(root, "validate-data", "data")},
                                            ("evaluation", "passed")))
    assert result["passed"] is False
    assert result["failures"][0].startswith("auc 0.9") and "below the minimum 0.999" in result["failures"][0]
    evaluation = {"evaluation": out(root, "evaluate-strict", "evaluation")}
    with pytest.raises(steps.StepFailed, match="below the minimum 0.999"):
        steps.run_step("fail", ctx(strict, root, "gate-failed", evaluation, args={"message": "gate failed"}))
    with pytest.raises(steps.StepFailed, match="refusing to register"):
        steps.run_step("register", ctx(strict, root, "register-strict",
                                       {"model": out(root, "train", "model"), **evaluation}, ("model_version",)))
    client = MlflowClient("sqlite:///" + str((root / ".mlopsc" / "mlflow.db").resolve()))
    assert [str(v.version) for v in client.search_model_versions("name='churn-local'")] == ["1"]


def test_evaluate_compares_with_the_champion_once_there_is_one(trained, monkeypatch):
    from mlopsc.runtime.tracking import Tracker

    root, project = trained["root"], trained["project"]
    monkeypatch.chdir(root)
    Tracker(root, "churn").approve("churn-local", "1", alias="production")
    result = steps.run_step("evaluate", ctx(project, root, "evaluate-again",
                                            {"model": out(root, "train", "model"),
                                             "data": out(root, "validate-data", "data")},
                                            ("evaluation", "passed")))
    assert result["passed"] is True
    report = json.loads(Path(out(root, "evaluate-again", "evaluation")).read_text())
    regression = report["checks"][-1]
    assert regression["rule"] == "max_regression" and "skipped" not in regression
    assert regression["baseline"] == pytest.approx(report["metrics"]["auc"])  # the same model


def test_drift_step_trips_on_shifted_data_only(trained, monkeypatch):
    root, project = trained["root"], trained["project"]
    monkeypatch.chdir(root)
    results = {}
    for name, frame in (("same", make_data.generate(4000, seed=5)),
                        ("shifted", make_data.generate(4000, seed=5, drift=0.5))):
        path = datafiles.write(frame, root / "incoming" / f"{name}.parquet")
        c = steps.StepContext(project=project, spec_dir=root, args={"data": str(path)},
                              outputs={"report": f".mlopsc/runs/monitor/{name}/report",
                                       "violated": f".mlopsc/runs/monitor/{name}/violated"},
                              log=lambda _m: None)
        results[name] = steps.run_step("drift", c)
    assert results["same"]["drifted"] is False
    assert results["shifted"]["drifted"] is True
    assert results["shifted"]["drifted_features"] == ["tenure_months", "monthly_spend", "plan"]
    base = root / ".mlopsc" / "runs" / "monitor" / "shifted"
    assert json.loads((base / "violated").read_text()) is True
    assert json.loads((base / "report").read_text())["method"] == "psi"
    assert "<svg" in (base / "report.html").read_text()
