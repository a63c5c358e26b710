"""SageMaker deploy outcomes against moto's server (CloudFormation, SageMaker, S3) and a real
MLflow SQLite store:

- a production deploy that serves points the MLflow alias `production` at the deployed model
  (the model reference inside the package's model.tar.gz), and the next evaluation's regression
  check compares with it instead of skipping ("no baseline model yet");
- a stack update that CloudFormation rolls back is a one-line failure naming the environment, the
  failure reason and the endpoint's FailureReason, with the previous endpoint config still serving.
  moto's CloudFormation never rolls back, so that one transition (UpdateStack answered without
  updating, DescribeStacks saying UPDATE_ROLLBACK_COMPLETE, the rollback's stack events, the
  endpoint's FailureReason) is answered by botocore `before-call`/`after-call` hooks on the
  clients; everything else (the stack created before, the endpoint and the config it serves) is
  moto's.
"""

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from churn_example_code import make_data
from mlopsc import api
from mlopsc.runtime.steps import StepContext, StepFailed, run_step
from servers import moto_server

ROOT = Path(__file__).resolve().parents[2]
GROUP = "churn-classifier"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:sha-abc123"
BUCKET = "acme-ml-artifacts"


class _Constant:
    def __init__(self, value):
        self.value = value

    def predict(self, df):
        return [self.value] * len(df)


@pytest.fixture()
def world(tmp_path, monkeypatch):
    """A compiled churn project under tmp_path, moto's server, and an MLflow SQLite store."""
    from mlopsc.runtime.platforms.tracking_store import embedded_tracking_uri

    (tmp_path / "specs").mkdir()
    shutil.copy(ROOT / "specs" / "churn.yaml", tmp_path / "specs" / "churn.yaml")
    shutil.copytree(ROOT / "specs" / "churn_local", tmp_path / "specs" / "churn_local")
    monkeypatch.chdir(tmp_path)
    api.write(api.compile_spec("specs/churn.yaml", ["sagemaker"]), "build")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", embedded_tracking_uri(tmp_path))
    monkeypatch.setenv("MLOPSC_SAGEMAKER_POLL_SECONDS", "0.05")
    monkeypatch.setenv("MLOPSC_WORKDIR", str(tmp_path))
    monkeypatch.setenv("MLOPSC_SAGEMAKER_STACK", "churn-classifier-production")
    monkeypatch.setenv("MLOPSC_SAGEMAKER_TEMPLATE", "cloudformation/deploy-production.json")
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    with moto_server():
        import boto3

        boto3.client("s3").create_bucket(Bucket=BUCKET)
        boto3.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
        yield tmp_path, api.load_project("specs/churn.yaml")


def _trained_package(tmp_path, project, value: float, n: int) -> tuple[str, str]:
    """A model logged to MLflow as the train step does, its model.tar.gz (model.json) on S3, and
    an Approved model package for it: (package ARN, MLflow run id)."""
    import boto3
    from mlopsc.runtime.tracking import Tracker

    tracker = Tracker(tmp_path, experiment=project.tracking.experiment)
    with tracker.start_run(run_name=f"train-{n}") as run:
        uri = tracker.log_model(_Constant(value))
    ref = {"model_uri": uri, "run_id": run.info.run_id, "experiment": "churn"}
    blob = io.BytesIO()
    with tarfile.open(fileobj=blob, mode="w:gz") as tar:
        data = json.dumps(ref).encode()
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    key = f"churn/v{n}/model.tar.gz"
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=blob.getvalue())
    arn = boto3.client("sagemaker").create_model_package(
        ModelPackageGroupName=GROUP, ModelApprovalStatus="Approved",
        InferenceSpecification={"Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/{key}"}],
                                "SupportedContentTypes": ["application/json"],
                                "SupportedResponseMIMETypes": ["application/json"]})["ModelPackageArn"]
    return arn, run.info.run_id


def _deploy(tmp_path, project, version: str, logs: list):
    from mlopsc.runtime.platforms.sagemaker_stack import deploy

    env = next(e for e in project.deployment.environments if e.name == "production")
    ctx = StepContext(project=project, spec_dir=tmp_path / "specs", workdir=tmp_path, log=logs.append,
                      inputs={"model_version": version}, target="sagemaker")
    return deploy(ctx, env, GROUP)


def test_production_deploy_sets_the_alias_the_next_evaluation_compares_with(world):
    from mlopsc.runtime.tracking import Tracker

    tmp_path, project = world
    arn, run_id = _trained_package(tmp_path, project, 0.9, 1)
    logs = []
    result = _deploy(tmp_path, project, "1", logs)
    assert result["state"] == "deployed"
    tracker = Tracker(tmp_path, experiment="churn")
    champion = tracker.version_for_alias(GROUP, "production")
    assert champion is not None and champion.run_id == run_id
    assert champion.tags["mlopsc.sagemaker.model_package"] == arn
    assert any("MLflow alias 'production'" in m for m in logs)

    # the next train pipeline's evaluation: a candidate compared with what production serves
    data = tmp_path / "validated"
    data.mkdir()
    make_data.generate(300, seed=3).to_parquet(data / "holdout.parquet")
    with tracker.start_run(run_name="candidate") as run:
        candidate = tracker.log_model(_Constant(0.1))
    (tmp_path / "model.json").write_text(json.dumps({"model_uri": candidate, "run_id": run.info.run_id}))
    ctx = StepContext(project=project, spec_dir=tmp_path / "specs", workdir=tmp_path, target="sagemaker",
                      inputs={"model": str(tmp_path / "model.json"), "data": str(data)},
                      outputs={"evaluation": str(tmp_path / "evaluation.json")}, log=lambda _m: None)
    run_step("evaluate", ctx)
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["baseline"] is not None and "auc" in report["baseline"]
    regression = next(c for c in report["checks"] if c["rule"] == "max_regression")
    assert "skipped" not in regression and regression["baseline"] == report["baseline"]["auc"]

    # a second deploy moves the alias and keeps the replaced one as previous-production
    _, run2 = _trained_package(tmp_path, project, 0.8, 2)
    _deploy(tmp_path, project, "2", [])
    assert tracker.version_for_alias(GROUP, "production").run_id == run2
    assert tracker.version_for_alias(GROUP, "previous-production").run_id == run_id


def _rolls_back(cf, sm, stack: str):
    """The one transition moto cannot make: the update is answered (not applied) and the stack
    then reads UPDATE_ROLLBACK_COMPLETE, with CloudFormation's rollback events and the endpoint's
    FailureReason."""
    reason = "Endpoint update was rolled back: alarm churn-classifier-production-ErrorRate is in ALARM"

    def update(params, **_):
        from botocore.awsrequest import AWSResponse

        return AWSResponse("http://moto/", 200, {}, None), {"StackId": stack}

    def described(parsed, **_):
        for s in parsed.get("Stacks", []):
            s["StackStatus"] = "UPDATE_ROLLBACK_COMPLETE"

    def events(parsed, **_):
        e = lambda logical, kind, status, why=None: {  # noqa: E731
            "LogicalResourceId": logical, "ResourceType": kind, "ResourceStatus": status,
            **({"ResourceStatusReason": why} if why else {})}
        parsed["StackEvents"] = [
            e(stack, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_COMPLETE"),
            e("Endpoint", "AWS::SageMaker::Endpoint", "UPDATE_FAILED", reason),
            e(stack, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", "User Initiated"),
        ] + parsed.get("StackEvents", [])

    def endpoint(parsed, **_):
        parsed["FailureReason"] = reason

    cf.meta.events.register("before-call.cloudformation.UpdateStack", update)
    cf.meta.events.register("after-call.cloudformation.DescribeStacks", described)
    cf.meta.events.register("after-call.cloudformation.DescribeStackEvents", events)
    sm.meta.events.register("after-call.sagemaker.DescribeEndpoint", endpoint)


def test_update_rolled_back_is_one_line_naming_the_environment(world, monkeypatch):
    import boto3
    from mlopsc.runtime.platforms import sagemaker_stack

    tmp_path, project = world
    _trained_package(tmp_path, project, 0.9, 1)
    first = _deploy(tmp_path, project, "1", [])
    sm = boto3.client("sagemaker")
    serving_before = sm.describe_endpoint(EndpointName=first["endpoint"])["EndpointConfigName"]
    _trained_package(tmp_path, project, 0.8, 2)

    class RollingBack:
        """The step's boto3 session, with the rollback transition hooked onto its clients."""

        def __init__(self):
            self.session = boto3.session.Session(region_name="us-east-1")
            self.clients = {name: self.session.client(name) for name in ("sagemaker", "cloudformation", "s3")}
            _rolls_back(self.clients["cloudformation"], self.clients["sagemaker"], "churn-classifier-production")

        def client(self, name):
            return self.clients.get(name) or self.session.client(name)

    monkeypatch.setattr(sagemaker_stack, "session", lambda _project: RollingBack())
    with pytest.raises(StepFailed) as failed:
        _deploy(tmp_path, project, "2", [])
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("deployment of version 2 of churn-classifier to production was rolled back "
                              "(stack churn-classifier-production: UPDATE_ROLLBACK_COMPLETE)")
    assert "reason: Endpoint (AWS::SageMaker::Endpoint): UPDATE_FAILED: Endpoint update was rolled back" in message
    assert f"endpoint {first['endpoint']}: Endpoint update was rolled back" in message  # its FailureReason
    assert message.endswith(f"endpoint {first['endpoint']} still serves its previous endpoint config {serving_before}")
    # and it really does: moto's endpoint is on the first deploy's config, serving version 1
    assert sm.describe_endpoint(EndpointName=first["endpoint"])["EndpointConfigName"] == serving_before


def test_shadow_end_time_is_set_at_deploy_and_kept_for_the_same_model():
    """The timed shadow test's `ShadowEndTime` parameter: deploy time + duration for a new model,
    the stack's previous value when the same model is deployed again (nothing to update)."""
    from datetime import UTC, datetime, timedelta

    from mlopsc.runtime.platforms.sagemaker_stack import shadow_end_time, stack_parameters

    before = datetime.now(UTC).replace(microsecond=0)
    template = json.loads(api.compile_spec(str(ROOT / "specs" / "support-assistant.yaml"), ["sagemaker"])
                          .bundles["sagemaker"]["cloudformation/deploy-production.json"])
    package = {"ModelPackageArn": "arn:p", "InferenceSpecification": {"Containers": [
        {"Image": IMAGE, "ModelDataUrl": "s3://b/v2/model.tar.gz"}]}}
    first = {p["ParameterKey"]: p for p in stack_parameters(template, package, None, 86400)}
    end = datetime.strptime(first["ShadowEndTime"]["ParameterValue"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before + timedelta(hours=24) <= end <= datetime.now(UTC) + timedelta(hours=24)
    current = {"Parameters": [{"ParameterKey": "ModelDataUrl", "ParameterValue": "s3://b/v2/model.tar.gz"},
                              {"ParameterKey": "ShadowEndTime", "ParameterValue": "2026-01-02T00:00:00Z"},
                              {"ParameterKey": "ChampionModelDataUrl", "ParameterValue": "s3://b/v1/model.tar.gz"}]}
    again = {p["ParameterKey"]: p for p in stack_parameters(template, package, current, 86400)}
    assert again["ShadowEndTime"] == {"ParameterKey": "ShadowEndTime", "UsePreviousValue": True}
    newer = dict(package, InferenceSpecification={"Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://b/v3/m.tar.gz"}]})
    renewed = {p["ParameterKey"]: p for p in stack_parameters(template, newer, current, 3600)}
    assert renewed["ShadowEndTime"]["ParameterValue"] != "2026-01-02T00:00:00Z"
    assert shadow_end_time(3600, datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T01:00:00Z"


def test_endpoint_failed_after_update_complete_names_environment_and_failure_reason(world, monkeypatch):
    """CloudFormation says UPDATE_COMPLETE but the endpoint is Failed with a FailureReason (moto's
    endpoints are always InService: DescribeEndpoint's answer is changed by an after-call hook)."""
    import boto3
    from mlopsc.runtime.platforms import sagemaker_stack

    tmp_path, project = world
    _trained_package(tmp_path, project, 0.9, 1)

    class FailingEndpoint:
        def __init__(self):
            self.session = boto3.session.Session(region_name="us-east-1")
            self.sm = self.session.client("sagemaker")

            def failed(parsed, **_):
                parsed.update(EndpointStatus="Failed", FailureReason="The primary container did not pass the ping "
                                                                     "health check")
            self.sm.meta.events.register("after-call.sagemaker.DescribeEndpoint", failed)

        def client(self, name):
            return self.sm if name == "sagemaker" else self.session.client(name)

    monkeypatch.setattr(sagemaker_stack, "session", lambda _project: FailingEndpoint())
    with pytest.raises(StepFailed) as failed:
        _deploy(tmp_path, project, "1", [])
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("deployment of version 1 of churn-classifier to production: stack "
                              "churn-classifier-production finished, but endpoint ")
    assert "is Failed on endpoint config" in message
    assert "(FailureReason: The primary container did not pass the ping health check)" in message
