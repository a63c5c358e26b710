"""`mlopsc submit --target kubeflow` through `kfp.Client` against a KFP v2beta1 API server on
127.0.0.1 that validates every request with the `kfp-server-api` models (kfp_api_server.py)."""

import io
import json
import os
import shutil
import subprocess
import sys

import pytest
from kfp_api_server import KfpApiServer, Rejected, strict_model
from mlopsc import api

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture()
def kfp_api():
    with KfpApiServer() as server:
        yield server
    assert server.state.errors == []  # every request the client sent was valid


@pytest.fixture()
def churn(tmp_path, monkeypatch):
    (tmp_path / "specs").mkdir()
    shutil.copy(os.path.join(ROOT, "specs", "churn.yaml"), tmp_path / "specs" / "churn.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/kfp/context.json of this machine
    return tmp_path / "specs" / "churn.yaml"


def _submit(spec, url, **options):
    from mlopsc.targets.kubeflow.submit import submit

    files = api.compile_spec(str(spec), ["kubeflow"]).bundles["kubeflow"]
    return submit(api.load_project(str(spec)), files, host=url, out=io.StringIO(), **options)


def test_strict_model_rejects_unknown_and_bad_enum():
    with pytest.raises(Rejected, match="unknown field"):
        strict_model("V2beta1Experiment", {"display_name": "x", "nmespace": "y"})
    with pytest.raises(Rejected, match="RecurringRunMode"):
        strict_model("V2beta1RecurringRun", {"display_name": "x", "mode": "ON"})


def test_first_submit_uploads_runs_and_schedules(kfp_api, churn, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.acme.example")
    results = _submit(churn, kfp_api.url, namespace="team-churn")
    state = kfp_api.state
    assert sorted(p["display_name"] for p in state.pipelines.values()) == [
        "churn-classifier-deploy", "churn-classifier-monitor", "churn-classifier-train"]
    assert {p["namespace"] for p in state.pipelines.values()} == {"team-churn"}
    assert [e["display_name"] for e in state.experiments.values()] == ["churn-classifier"]
    (run,) = state.runs
    train_versions = [v for v in state.versions.values() if v["display_name"].startswith("churn-classifier-train-")]
    assert run["pipeline_version_reference"]["pipeline_version_id"] == train_versions[0]["pipeline_version_id"]
    # ${env:NAME} run parameters come from the submitting environment
    assert run["runtime_config"]["parameters"] == {"MLFLOW_TRACKING_URI": "http://mlflow.acme.example"}
    schedules = sorted(state.recurring.values(), key=lambda r: r["display_name"])
    assert [(r["display_name"], r["trigger"]["cron_schedule"]["cron"]) for r in schedules] == [
        ("churn-classifier-monitor", "0 0 6 * * *"), ("churn-classifier-train", "0 0 3 * * 0")]
    assert {r["runtime_config"]["parameters"]["MLFLOW_TRACKING_URI"] for r in schedules} == {"http://mlflow.acme.example"}
    actions = {r["pipeline"]: r["action"] for r in results}
    assert actions["recurring run churn-classifier-train"] == "created"
    assert {a for p, a in actions.items() if p.startswith("churn-classifier-")} == {"created"}


def test_resubmit_updates_rather_than_duplicates(kfp_api, churn, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    _submit(churn, kfp_api.url)
    state = kfp_api.state
    before_versions, before_schedules = len(state.versions), dict(state.recurring)
    second = _submit(churn, kfp_api.url)  # same spec: nothing new but the run
    assert len(state.versions) == before_versions and state.recurring == before_schedules
    assert {r["action"] for r in second if r["pipeline"].startswith("churn-classifier-")} == {"unchanged"}
    assert len(state.runs) == 2

    churn.write_text(churn.read_text().replace("{cpu: 4, memory: 16Gi,", "{cpu: 6, memory: 16Gi,"))
    third = {r["pipeline"].rsplit("-", 1)[0]: r["action"] for r in _submit(churn, kfp_api.url)
             if r["pipeline"].startswith("churn-classifier-")}
    assert third["churn-classifier-train"] == "new-version"
    assert third["churn-classifier-deploy"] == "unchanged"
    assert len(state.pipelines) == 3  # a new version, not a new pipeline
    train = [r for r in state.recurring.values() if r["display_name"] == "churn-classifier-train"]
    assert len(train) == 1  # replaced, not duplicated
    newest = max((v for v in state.versions.values() if v["display_name"].startswith("churn-classifier-train-")),
                 key=lambda v: int(v["pipeline_version_id"].split("-")[1]))
    assert train[0]["pipeline_version_reference"]["pipeline_version_id"] == newest["pipeline_version_id"]
    assert state.runs[-1]["pipeline_version_reference"]["pipeline_version_id"] == newest["pipeline_version_id"]


def test_cli_submit_kubeflow(kfp_api, churn, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cmd = [sys.executable, "-m", "mlopsc", "submit", "specs/churn.yaml", "--target", "kubeflow", "--host", kfp_api.url]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "created: churn-classifier-train-" in "\n".join(lines)
    assert any(line.startswith("started: run churn-classifier-train-") for line in lines)
    assert "Traceback" not in proc.stderr


def test_cli_submit_rejected_is_one_line(churn, monkeypatch):
    """A request the API refuses (no permission in the namespace) is one line, no traceback."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with KfpApiServer() as server:
        server.state.forbidden_namespaces.add("locked")
        cmd = [sys.executable, "-m", "mlopsc", "submit", "specs/churn.yaml", "--target", "kubeflow",
               "--host", server.url, "--namespace", "locked"]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: kubeflow rejected the request: HTTP 403 Forbidden:"), last
    assert "PermissionDenied" in last


def test_host_is_a_kubeflow_option(churn):
    cmd = [sys.executable, "-m", "mlopsc", "submit", "specs/churn.yaml", "--target", "sagemaker", "--host", "http://x"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    assert proc.returncode == 2 and "--host is an option of `--target kubeflow` only" in proc.stderr


def test_dry_run_calls_nothing(churn):
    from mlopsc.targets.kubeflow.submit import submit

    files = api.compile_spec(str(churn), ["kubeflow"]).bundles["kubeflow"]
    out = io.StringIO()
    results = submit(api.load_project(str(churn)), files, dry_run=True, out=out, client=object())
    assert [r["action"] for r in results] == ["dry-run"] * 3
    ops = [json.loads(line)["operation"] for line in out.getvalue().splitlines()]
    assert ops.count("CreateRecurringRun") == 2 and ops.count("CreateRun") == 1


def test_cli_without_host_or_server_is_one_line(churn, monkeypatch):
    for key in ("KF_PIPELINES_ENDPOINT", "KUBERNETES_SERVICE_HOST", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(key, raising=False)
    cmd = [sys.executable, "-m", "mlopsc", "submit", "specs/churn.yaml", "--target", "kubeflow"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    assert proc.returncode == 2 and "needs the KFP API server: pass --host URL" in proc.stderr
    with KfpApiServer() as server:
        url = server.url
    # the server is gone: nothing listens there any more
    proc = subprocess.run([*cmd, "--host", url], capture_output=True, text=True, env=os.environ)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("Error: cannot reach the kubeflow API:")
