"""The deploy pipeline's SageMaker steps (`approve`, `deploy`, `rollout`) against moto's server.

Each step runs as `python -m mlopsc step ...` with exactly the argv and environment of the
compiled `pipelines/deploy.json` step (`ContainerEntrypoint`, `Environment`), with `Get` /
`Std:Join` resolved to concrete values and the container's `/opt/ml/processing/output` mapped to
a temporary directory. The compiled bundle is written where `mlopsc compile --target sagemaker`
puts it by default (`build/sagemaker/` under the working directory).

What moto 5.2's server does with the churn templates, and so what these tests do NOT show:
- `AWS::CloudWatch::Alarm`, `AWS::ApplicationAutoScaling::ScalableTarget` and
  `AWS::ApplicationAutoScaling::ScalingPolicy` are skipped ("No Moto CloudFormation support"):
  the stack reaches CREATE_COMPLETE without them, so the rollback alarms and autoscaling are
  never created here.
- `AWS::SageMaker::Endpoint` is created but its `DeploymentConfig` (blue/green CANARY/LINEAR,
  `AutoRollbackConfiguration`) is ignored and so is its `EndpointName` property (moto names it
  `<stack>-Endpoint-<suffix>`); the step reports the stack's `EndpointName` output, whatever it is.
- moto's CloudFormation never rolls a stack back: `UPDATE_ROLLBACK_COMPLETE` / `ROLLBACK_COMPLETE`
  and the alarm that caused them cannot be produced. The message the step gives then is tested
  on its own (`test_rollback_message_names_the_first_failure_and_the_alarms`) from events shaped
  like CloudFormation's, not against a server; the alarm-history lookup is untested.
- No endpoint serves anything: moto's `InvokeEndpoint` answers any endpoint name (existing or not)
  with the results queued through `/moto-api/static/sagemaker/endpoint-results`, else a static
  non-JSON body. The smoke tests below queue the answer; a missing endpoint shows in the smoke
  test's `DescribeEndpoint` check. The spec's holdout dataset (`s3://...`) is pointed at a local
  file in those tests: the runtime reads local datasets only.
"""

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINER_OUT = "/opt/ml/processing/output"
GROUP = "churn-classifier"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:sha-abc123"


@pytest.fixture()
def moto_url(monkeypatch):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).read()
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": url}.items():
            monkeypatch.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "MLOPSC_APPROVE", "MLOPSC_APPROVER"):
            monkeypatch.delenv(key, raising=False)
        yield url
    finally:
        server.stop()


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A project directory with the spec and its compiled SageMaker bundle under build/."""
    from mlopsc import api

    (tmp_path / "specs").mkdir()
    shutil.copy(ROOT / "specs" / "churn.yaml", tmp_path / "specs" / "churn.yaml")
    monkeypatch.chdir(tmp_path)
    result = api.compile_spec("specs/churn.yaml", ["sagemaker"])
    api.write(result, "build")
    return tmp_path


def _resolve(value, params):
    """A pipeline expression with concrete values: `Get Parameters.x`, `Std:Join`, and `Std:JsonGet`
    (`params["Std:JsonGet"]`: the property files' values, by path)."""
    if isinstance(value, str):
        return value
    if "Std:JsonGet" in value:
        return params["Std:JsonGet"][value["Std:JsonGet"]["Path"]]
    if "Get" in value:
        kind, _, name = value["Get"].partition(".")
        assert kind == "Parameters", value
        return params[name]
    join = value["Std:Join"]
    return join["On"].join(_resolve(v, params) for v in join["Values"])


def _step(project_dir: Path, name: str, **params):
    """(argv, env) of the compiled deploy pipeline's step `name`, resolved for this machine."""
    definition = json.loads((project_dir / "build" / "sagemaker" / "pipelines" / "deploy.json").read_text())
    values = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    values.update(params)
    step = next(s for s in definition["Steps"] if s["Name"] == name)
    if '"Path": "model_version"' in json.dumps(step["Arguments"]["AppSpecification"]):
        # as SageMaker does: the version resolve-model fixed, read from its property file
        values["Std:JsonGet"] = {**values.get("Std:JsonGet", {}),
                                 "model_version": _resolved_version(project_dir, **params)}
    argv = [_resolve(v, values) for v in step["Arguments"]["AppSpecification"]["ContainerEntrypoint"]]
    out = project_dir / "container-output" / name
    argv = [a.replace(CONTAINER_OUT, str(out)) for a in argv]
    # the step image keeps the spec at a fixed path; on this machine it lies in the project directory
    spec = argv.index("--spec") + 1
    assert argv[spec] == "/opt/mlopsc/project/churn.yaml"
    argv[spec] = str(project_dir / "specs" / "churn.yaml")
    env = {k: _resolve(v, values) for k, v in step["Arguments"]["Environment"].items()}
    assert argv[:2] == ["mlopsc", "step"]
    return argv, env, out


def _resolved_version(project_dir: Path, **params) -> str:
    proc, out = _run(project_dir, "resolve-model", **params)
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "outputs" / "outputs.json").read_text())["model_version"]


def _run(project_dir: Path, name: str, extra_env=None, extra_args=(), **params):
    argv, env, out = _step(project_dir, name, **params)
    argv = [*argv, *extra_args]
    full_env = {**os.environ, **env, "MLOPSC_SAGEMAKER_POLL_SECONDS": "0.1", **(extra_env or {})}
    proc = subprocess.run([sys.executable, "-m", "mlopsc", *argv[1:]], cwd=project_dir, env=full_env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, out


def _register(sm, status: str, data: str) -> str:
    return sm.create_model_package(
        ModelPackageGroupName=GROUP, ModelApprovalStatus=status,
        InferenceSpecification={"Containers": [{"Image": IMAGE, "ModelDataUrl": data}],
                                "SupportedContentTypes": ["application/json"],
                                "SupportedResponseMIMETypes": ["application/json"]})["ModelPackageArn"]


def _params(stack: dict) -> dict:
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


def test_rollout_creates_then_keeps_then_updates_the_stack(moto_url, project):
    import boto3

    sm, cf = boto3.client("sagemaker"), boto3.client("cloudformation")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    _register(sm, "Approved", "s3://acme-ml-artifacts/churn/v1/model.tar.gz")

    # the production step exactly as compiled: rollout of `latest` (the newest Approved package)
    argv, env, _ = _step(project, "deploy-production")
    assert argv[argv.index("--target") + 1] == "sagemaker"
    assert env["MLOPSC_SAGEMAKER_STACK"] == "churn-classifier-production"
    # `latest` was resolved once by resolve-model: the rollout takes that version number
    assert "model_version=1" in argv and argv[2] == "rollout"
    proc, out = _run(project, "deploy-production")
    assert proc.returncode == 0, proc.stderr
    assert "creating stack churn-classifier-production for version 1" in proc.stdout

    stack = cf.describe_stacks(StackName="churn-classifier-production")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    template = json.loads((project / "build/sagemaker/cloudformation/deploy-production.json").read_text())
    assert set(_params(stack)) == set(template["Parameters"])
    assert _params(stack)["ImageUri"] == IMAGE
    assert _params(stack)["ModelDataUrl"] == "s3://acme-ml-artifacts/churn/v1/model.tar.gz"
    assert _params(stack)["EndpointName"] == "churn-classifier-production"  # the template's default
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == {"mlopsc:project": "churn-classifier",
                                                             "mlopsc:environment": "production"}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    # the endpoint output, in the SageMaker property file (PATH#KEY) the next steps read
    report = json.loads((out / "outputs" / "outputs.json").read_text())
    assert report == {"endpoint": outputs["EndpointName"]}
    endpoint = sm.describe_endpoint(EndpointName=report["endpoint"])
    assert endpoint["EndpointStatus"] == "InService"
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    assert (variant["VariantName"], variant["InstanceType"]) == ("AllTraffic", "ml.m5.large")
    model = sm.describe_model(ModelName=outputs["ModelName"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://acme-ml-artifacts/churn/v1/model.tar.gz"
    assert model["PrimaryContainer"]["Image"] == IMAGE

    # the same version again: CloudFormation has nothing to do; the step says so and succeeds
    (out / "outputs" / "outputs.json").unlink()
    proc, out = _run(project, "deploy-production")
    assert proc.returncode == 0, proc.stderr
    assert "unchanged" in proc.stdout
    assert json.loads((out / "outputs" / "outputs.json").read_text()) == {"endpoint": outputs["EndpointName"]}
    assert cf.describe_stacks(StackName="churn-classifier-production")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"

    # a newer approved version: the stack is updated to it
    _register(sm, "Approved", "s3://acme-ml-artifacts/churn/v2/model.tar.gz")
    proc, out = _run(project, "deploy-production")
    assert proc.returncode == 0, proc.stderr
    assert "updating stack churn-classifier-production to version 2" in proc.stdout
    stack = cf.describe_stacks(StackName="churn-classifier-production")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert _params(stack)["ModelDataUrl"] == "s3://acme-ml-artifacts/churn/v2/model.tar.gz"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert json.loads((out / "outputs" / "outputs.json").read_text()) == {"endpoint": outputs["EndpointName"]}
    assert (sm.describe_model(ModelName=outputs["ModelName"])["PrimaryContainer"]["ModelDataUrl"]
            == "s3://acme-ml-artifacts/churn/v2/model.tar.gz")


def test_staging_then_approval_then_production(moto_url, project):
    """The deploy pipeline's order: staging takes the pending candidate; production waits for approval."""
    import boto3

    sm, cf = boto3.client("sagemaker"), boto3.client("cloudformation")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    _register(sm, "Approved", "s3://acme-ml-artifacts/churn/v1/model.tar.gz")
    candidate = _register(sm, "PendingManualApproval", "s3://acme-ml-artifacts/churn/v2/model.tar.gz")

    proc, out = _run(project, "deploy-staging")  # `deploy`, direct; staging requires no approval
    assert proc.returncode == 0, proc.stderr
    stack = cf.describe_stacks(StackName="churn-classifier-staging")["Stacks"][0]
    assert _params(stack)["ModelDataUrl"] == "s3://acme-ml-artifacts/churn/v2/model.tar.gz"
    assert json.loads((out / "outputs" / "outputs.json").read_text())["endpoint"] == next(
        o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "EndpointName")

    # production refuses a version nobody approved
    proc, _ = _run(project, "deploy-production", model_version="2")
    assert proc.returncode == 1 and "version 2 of churn-classifier is not approved for production" in proc.stderr

    # the approve step without an approver: it says how to approve, waits for the spec's
    # registry.approval.timeout (1s here), fails naming the environment, and changes nothing
    spec = project / "specs" / "churn.yaml"
    spec.write_text(spec.read_text().replace("    required_for: [production]\n",
                                             "    required_for: [production]\n    timeout: 1s\n"))
    proc, _ = _run(project, "approve-production")
    assert proc.returncode == 1
    assert "is waiting for approval for production" in proc.stdout and "update-model-package" in proc.stdout
    assert "approval for production timed out after 1s" in proc.stderr and candidate in proc.stderr
    assert sm.describe_model_package(ModelPackageName=candidate)["ModelApprovalStatus"] == "PendingManualApproval"

    # with an approver: the package is Approved, the approver in ApprovalDescription
    proc, _ = _run(project, "approve-production", {"MLOPSC_APPROVE": "1", "MLOPSC_APPROVER": "alice@acme.example"})
    assert proc.returncode == 0, proc.stderr
    package = sm.describe_model_package(ModelPackageName=candidate)
    assert package["ModelApprovalStatus"] == "Approved"
    assert "alice@acme.example" in package["ApprovalDescription"]
    proc, _ = _run(project, "approve-production")  # approved already: passes without an approver
    assert proc.returncode == 0 and "already approved" in proc.stdout

    proc, _ = _run(project, "deploy-production")
    assert proc.returncode == 0, proc.stderr
    stack = cf.describe_stacks(StackName="churn-classifier-production")["Stacks"][0]
    assert _params(stack)["ModelDataUrl"] == "s3://acme-ml-artifacts/churn/v2/model.tar.gz"


def test_missing_template_and_empty_registry_fail_clearly(moto_url, project):
    import boto3

    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    proc, _ = _run(project, "resolve-model")  # the deploy pipeline's first step
    assert proc.returncode == 1 and "has no registered (and not rejected) version to deploy" in proc.stderr
    _register(sm, "Approved", "s3://acme-ml-artifacts/churn/v1/model.tar.gz")
    shutil.rmtree(project / "build" / "sagemaker" / "cloudformation")  # the pipeline file stays
    proc, out = _run(project, "deploy-production")
    assert proc.returncode == 1
    assert "deployment template cloudformation/deploy-production.json not found" in proc.stderr
    assert str(project / "build" / "sagemaker" / "cloudformation" / "deploy-production.json") in proc.stderr
    assert not (out / "outputs" / "outputs.json").exists()


def test_rollback_message_names_the_first_failure_and_the_alarms():
    """Not against a server (moto never rolls back): events shaped like DescribeStackEvents',
    newest first, for an update that the endpoint's AutoRollbackConfiguration undid."""
    from mlopsc.runtime.platforms.sagemaker_stack import failure_reasons, outcome_message

    stack = "churn-classifier-production"

    def event(logical, kind, status, reason=None):
        e = {"LogicalResourceId": logical, "ResourceType": kind, "ResourceStatus": status}
        if reason:
            e["ResourceStatusReason"] = reason
        return e

    events = [
        event(stack, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_COMPLETE"),
        event("Endpoint", "AWS::SageMaker::Endpoint", "UPDATE_COMPLETE"),
        event(stack, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_IN_PROGRESS",
              "The following resource(s) failed to update: [Endpoint]."),
        event("ScalableTarget", "AWS::ApplicationAutoScaling::ScalableTarget", "UPDATE_FAILED",
              "Resource update cancelled"),
        event("Endpoint", "AWS::SageMaker::Endpoint", "UPDATE_FAILED",
              "Endpoint update was rolled back: alarm ErrorRateAlarm-1A2B is in ALARM"),
        event("Model", "AWS::SageMaker::Model", "UPDATE_COMPLETE"),
        event(stack, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", "User Initiated"),
        event("Endpoint", "AWS::SageMaker::Endpoint", "CREATE_FAILED", "an older operation's failure"),
    ]
    reasons = failure_reasons(events, stack)
    assert reasons == [("Endpoint (AWS::SageMaker::Endpoint): UPDATE_FAILED: Endpoint update was rolled back: "
                        "alarm ErrorRateAlarm-1A2B is in ALARM")]
    message = outcome_message(stack, "UPDATE_ROLLBACK_COMPLETE", "7", "churn-classifier", reasons,
                              ["churn-classifier-production-ErrorRateAlarm-1A2B"])
    assert message.startswith("deployment of version 7 of churn-classifier was rolled back "
                              "(stack churn-classifier-production: UPDATE_ROLLBACK_COMPLETE)")
    assert "alarms in ALARM during the update: churn-classifier-production-ErrorRateAlarm-1A2B" in message
    assert "reason: Endpoint (AWS::SageMaker::Endpoint)" in message
    assert message.endswith("the endpoint keeps its previous configuration")


HOLDOUT = "s3://acme-ml/churn/holdout.parquet"


def _local_holdout(project_dir: Path) -> None:
    """The spec's holdout dataset as a local file (after compiling: the compiled bundle is unchanged)."""
    import pandas as pd

    spec = project_dir / "specs" / "churn.yaml"
    assert HOLDOUT in spec.read_text()
    pd.DataFrame({"tenure": [1, 5, 12, 30, 2, 7], "plan": ["a", "b", "a", "c", "b", "a"],
                  "churned": [1, 0, 0, 0, 1, 0]}).to_parquet(project_dir / "specs" / "holdout.parquet")
    spec.write_text(spec.read_text().replace(HOLDOUT, "holdout.parquet"))


def _queue_results(url: str, bodies: list) -> None:
    payload = {"results": [{"Body": json.dumps(b), "ContentType": "application/json"} for b in bodies]}
    request = urllib.request.Request(f"{url}/moto-api/static/sagemaker/endpoint-results", method="POST",
                                     data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()


def _deployed_staging(sm, project_dir: Path) -> str:
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    _register(sm, "Approved", "s3://acme-ml-artifacts/churn/v1/model.tar.gz")
    proc, out = _run(project_dir, "deploy-staging")
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "outputs" / "outputs.json").read_text())["endpoint"]


def test_smoke_test_invokes_the_sagemaker_endpoint(moto_url, project):
    import boto3

    endpoint = _deployed_staging(boto3.client("sagemaker"), project)
    _local_holdout(project)
    argv, env, _ = _step(project, "smoke-test-staging", **{"Std:JsonGet": {"endpoint": endpoint}})
    assert argv[argv.index("--target") + 1] == "sagemaker" and f"endpoint={endpoint}" in argv

    # one answer queued: five instances in, five predictions out
    _queue_results(moto_url, [{"predictions": [0.1, 0.7, 0.2, 0.05, 0.9]}])
    proc, _ = _run(project, "smoke-test-staging", **{"Std:JsonGet": {"endpoint": endpoint}})
    assert proc.returncode == 0, proc.stderr
    assert "ok   endpoint" in proc.stdout and "ok   predict" in proc.stdout


def test_smoke_test_of_a_missing_endpoint_fails(moto_url, project):
    _local_holdout(project)
    _queue_results(moto_url, [{"predictions": [0, 0, 0, 0, 0]}])  # moto would answer anyway
    proc, _ = _run(project, "smoke-test-staging", **{"Std:JsonGet": {"endpoint": "no-such-endpoint"}})
    assert proc.returncode == 1
    assert "smoke test of staging failed at no-such-endpoint" in proc.stderr
    assert "FAIL endpoint" in proc.stdout and "no-such-endpoint" in proc.stdout


def test_load_test_invokes_the_sagemaker_endpoint(moto_url, project):
    import boto3

    endpoint = _deployed_staging(boto3.client("sagemaker"), project)
    _local_holdout(project)
    argv, _, _ = _step(project, "load-test-staging", **{"Std:JsonGet": {"endpoint": endpoint}})
    assert {"rps=50", "duration=120", "max_p95_ms=100.0"} <= set(argv)
    # the compiled 120 s at 50 rps, shortened for the test (later `--arg`s win); no local-run cap
    proc, _ = _run(project, "load-test-staging", {"MLOPSC_LOAD_TEST_MAX_SECONDS": "0.1"},
                   extra_args=["--arg", "rps=20", "--arg", "duration=1", "--arg", "max_p95_ms=5000"],
                   **{"Std:JsonGet": {"endpoint": endpoint}})
    assert proc.returncode == 0, proc.stderr
    assert "load test: 20 requests" in proc.stdout and "errors 0" in proc.stdout
    assert "shortened" not in proc.stdout


def test_a_deploy_checks_which_config_the_endpoint_serves(moto_url, project):
    """UPDATE_COMPLETE is not enough: an endpoint serving another config fails the check."""
    import boto3
    from mlopsc.runtime.platforms.sagemaker_stack import check_serving
    from mlopsc.runtime.steps import StepFailed

    sm, cf = boto3.client("sagemaker"), boto3.client("cloudformation")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    _register(sm, "Approved", "s3://acme-ml-artifacts/churn/v1/model.tar.gz")
    proc, _ = _run(project, "deploy-production")
    assert proc.returncode == 0, proc.stderr
    stack = cf.describe_stacks(StackName="churn-classifier-production")["Stacks"][0]
    check_serving(sm, cf, "churn-classifier-production", stack, "version 1")  # as deployed: passes
    endpoint = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["EndpointName"]
    model = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["ModelName"]
    sm.create_endpoint_config(EndpointConfigName="hand-made", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    # someone changed it by hand (moto has no UpdateEndpoint: the same name recreated on another config)
    sm.delete_endpoint(EndpointName=endpoint)
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName="hand-made")
    with pytest.raises(StepFailed, match=r"is InService on endpoint config hand-made, not churn-classifier-"):
        check_serving(sm, cf, "churn-classifier-production", stack, "version 1")
