"""The approval step waits: it polls the registry until a person approves or rejects the version,
or `registry.approval.timeout` runs out. MLflow (a real SQLite store, the alias or tag set from
another thread, as a person would from their machine) and SageMaker (moto's server, the
package's ModelApprovalStatus changed by UpdateModelPackage from another thread)."""

import dataclasses
import threading
import time
from pathlib import Path

import pytest
from mlopsc.api import load_project
from mlopsc.runtime.steps import StepContext, StepFailed, run_step
from servers import moto_server

ROOT = Path(__file__).resolve().parents[2]


def _with_timeout(project, seconds: int):
    approval = dataclasses.replace(project.registry.approval, timeout_seconds=seconds)
    return dataclasses.replace(project, registry=dataclasses.replace(project.registry, approval=approval))


class _Constant:
    def predict(self, df):
        return [0.5] * len(df)


def _later(delay: float, action) -> threading.Thread:
    def run():
        time.sleep(delay)
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _acting_on_prompt(logs: list, action):
    """A log that records, and starts `action` shortly after the step says it is waiting: the
    person reads the message, then approves (the step must be polling by then)."""
    def log(message):
        logs.append(message)
        if "is waiting for approval" in message:
            _later(0.3, action)
    return log


@pytest.fixture()
def mlflow_registry(tmp_path, monkeypatch):
    """A real MLflow SQLite store with version 1 of churn-local pending approval for production."""
    from mlopsc.runtime.platforms.tracking_store import embedded_tracking_uri
    from mlopsc.runtime.tracking import Tracker

    project = load_project(str(ROOT / "specs" / "churn-local.yaml"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", embedded_tracking_uri(tmp_path))
    monkeypatch.setenv("MLOPSC_APPROVAL_POLL_SECONDS", "0.1")
    monkeypatch.setenv("MLOPSC_APPROVE", "1")  # a local run's switch: it does not approve a cloud step
    tracker = Tracker(tmp_path, experiment=project.tracking.experiment)
    with tracker.start_run(run_name="train"):
        uri = tracker.log_model(_Constant())
    tracker.register(uri, "churn-local", approval_required_for=("production",))
    return project, tracker, tmp_path


def _ctx(project, workdir, target, log):
    return StepContext(project=project, spec_dir=ROOT / "specs", workdir=workdir, log=log,
                       args={"environment": "production"}, inputs={"model_version": "1"}, target=target)


@pytest.mark.parametrize("target", ["kubeflow", "vertex"])
def test_mlflow_alias_set_later_approves(mlflow_registry, target):
    project, tracker, workdir = mlflow_registry
    logs = []
    log = _acting_on_prompt(logs, lambda: tracker.set_alias("churn-local", "approved-production", "1"))
    started = time.monotonic()
    assert run_step("approve", _ctx(_with_timeout(project, 30), workdir, target, log)) == {
        "version": "1", "approved": True}
    assert 0.3 < time.monotonic() - started < 10
    tags = tracker.client.get_model_version("churn-local", "1").tags
    assert tags["mlopsc.approval"] == "approved" and tags["mlopsc.approved_by"] == "alias approved-production"
    waiting = [m for m in logs if "is waiting for approval for production" in m]
    assert len(waiting) == 1  # said once, not at every poll
    assert "set_registered_model_alias('churn-local', 'approved-production', '1')" in waiting[0]
    assert "up to 30s" in waiting[0]


def test_mlflow_rejection_tag_fails_naming_the_environment(mlflow_registry):
    project, tracker, workdir = mlflow_registry
    log = _acting_on_prompt([], lambda: tracker.set_version_tags(
        # who and why first: the step decides as soon as it sees the approval tag
        "churn-local", "1", {"mlopsc.rejected_by": "bob: drift", "mlopsc.approval": "rejected"}))
    with pytest.raises(StepFailed) as failed:
        run_step("approve", _ctx(_with_timeout(project, 30), workdir, "kubeflow", log))
    assert str(failed.value) == "version 1 of churn-local was rejected for production (bob: drift)"


def test_mlflow_timeout_fails_naming_environment_and_wait(mlflow_registry):
    project, tracker, workdir = mlflow_registry
    started = time.monotonic()
    with pytest.raises(StepFailed) as failed:
        run_step("approve", _ctx(_with_timeout(project, 1), workdir, "kubeflow", [].append))
    assert 1 <= time.monotonic() - started < 5
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("approval for production timed out after 1s: version 1 of churn-local")
    assert tracker.client.get_model_version("churn-local", "1").tags["mlopsc.approval"] == "pending"


def test_wait_polls_at_an_interval_and_stops_at_the_timeout():
    """With a fake clock: 24h waits poll every 30 s and stop after 24h, having said how once."""
    from mlopsc.runtime.platforms.approval_wait import poll_interval, wait_for_decision

    now = [0.0]
    sleeps, logs = [], []

    def sleep(s):
        sleeps.append(s)
        now[0] += s

    ctx = StepContext(project=None, spec_dir=ROOT, log=logs.append)
    with pytest.raises(StepFailed, match=r"^approval for staging timed out after 1d: v was neither"):
        wait_for_decision(ctx, lambda: (None, ""), what="v", environment="staging", how="do X",
                          timeout_s=86400, clock=lambda: now[0], sleep=sleep)
    assert poll_interval(86400) == 30.0 and set(sleeps) == {30.0} and len(sleeps) == 2880
    assert len(logs) == 1 and logs[0].endswith("do X")


# ---------------------------------------------------------------- SageMaker: ModelApprovalStatus


@pytest.fixture()
def sagemaker_package(monkeypatch):
    monkeypatch.setenv("MLOPSC_APPROVAL_POLL_SECONDS", "0.1")
    for key in ("MLOPSC_APPROVE", "MLOPSC_APPROVER", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    with moto_server():
        import boto3

        sm = boto3.client("sagemaker")
        sm.create_model_package_group(ModelPackageGroupName="churn-classifier")
        arn = sm.create_model_package(
            ModelPackageGroupName="churn-classifier", ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={"Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/c:1",
                                                    "ModelDataUrl": "s3://b/model.tar.gz"}],
                                    "SupportedContentTypes": ["application/json"],
                                    "SupportedResponseMIMETypes": ["application/json"]})["ModelPackageArn"]
        yield load_project(str(ROOT / "specs" / "churn.yaml")), sm, arn


def _sm_ctx(project, log, tmp_path):
    return StepContext(project=project, spec_dir=ROOT / "specs", workdir=tmp_path, log=log,
                       args={"environment": "production"}, inputs={"model_version": "1"}, target="sagemaker")


def test_sagemaker_update_model_package_later_approves(sagemaker_package, tmp_path):
    project, sm, arn = sagemaker_package
    logs = []
    log = _acting_on_prompt(logs, lambda: sm.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="alice: looks good"))
    result = run_step("approve", _sm_ctx(_with_timeout(project, 30), log, tmp_path))
    assert result == {"version": "1", "approved": True, "model_package": arn}
    waiting = [m for m in logs if "is waiting for approval for production" in m]
    assert len(waiting) == 1
    assert f"aws sagemaker update-model-package --model-package-arn {arn} --model-approval-status Approved" in waiting[0]
    assert "approved for production (alice: looks good)" in logs[-1]


def test_sagemaker_rejected_later_fails(sagemaker_package, tmp_path):
    project, sm, arn = sagemaker_package
    log = _acting_on_prompt([], lambda: sm.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription="bob: bias"))
    with pytest.raises(StepFailed) as failed:
        run_step("approve", _sm_ctx(_with_timeout(project, 30), log, tmp_path))
    assert str(failed.value) == f"version 1 of churn-classifier ({arn}) was rejected for production (bob: bias)"


def test_sagemaker_timeout(sagemaker_package, tmp_path):
    project, sm, arn = sagemaker_package
    with pytest.raises(StepFailed, match=r"^approval for production timed out after 1s: version 1 of churn-classifier"):
        run_step("approve", _sm_ctx(_with_timeout(project, 1), [].append, tmp_path))
    assert sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "PendingManualApproval"


# ---------------------------------------------------------------- the spec field


def test_approval_timeout_from_the_spec(tmp_path):
    from mlopsc import api

    text = (ROOT / "specs" / "churn.yaml").read_text()
    assert load_project(str(ROOT / "specs" / "churn.yaml")).registry.approval.timeout_seconds == 86400
    spec = tmp_path / "churn.yaml"
    spec.write_text(text.replace("    required_for: [production]\n", "    required_for: [production]\n    timeout: 4h\n"))
    assert load_project(str(spec)).registry.approval.timeout_seconds == 4 * 3600
    spec.write_text(text.replace("    required_for: [production]\n", "    required_for: [production]\n    timeout: 4 hours\n"))
    errors = [d for d in api.validate(str(spec)) if d.severity == "error"]
    line = text[:text.index("required_for: [production]")].count("\n") + 2  # the timeout's line
    assert [(d.line, d.code) for d in errors][:1] == [(line, errors[0].code)] and "4 hours" in errors[0].message
