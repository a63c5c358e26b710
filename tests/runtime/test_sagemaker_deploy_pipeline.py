"""The whole compiled SageMaker deploy pipeline, step after step in the order its definition
gives (DependsOn and `Steps.<name>` references), against moto's server: resolve-model fixes the
candidate once; staging is deployed and smoke- and load-tested; the approval step waits until a
person approves the package (UpdateModelPackage from the test while the step polls); production
is rolled out to that same version while the champion served until then. Each step runs as the
compiled argv and environment (helpers of test_sagemaker_rollout). What moto does not do (alarms,
traffic shifting, real inference) is listed there; the serving container itself is tested in
tests/containers (test_sagemaker_pipeline.py: `IMAGE serve`, /ping, /invocations).
"""

import json
import os
import re
import subprocess
import sys
import time

from test_sagemaker_rollout import (  # noqa: F401 - fixtures used by name
    GROUP,
    _local_holdout,
    _params,
    _queue_results,
    _register,
    _run,
    _step,
    moto_url,
    project,
)


def pipeline_order(definition: dict) -> list[str]:
    """A topological order of the steps: DependsOn plus the steps whose properties a step reads."""
    deps = {s["Name"]: set(s.get("DependsOn") or []) | set(re.findall(r'"Steps\.([A-Za-z0-9-]+)', json.dumps(s)))
            for s in definition["Steps"]}
    order: list[str] = []
    while len(order) < len(deps):
        ready = sorted(n for n, d in deps.items() if n not in order and d <= set(order))
        assert ready, f"a cycle among {set(deps) - set(order)}"
        order.append(ready[0])
    return order


def _approve_while_waiting(project_dir, sm, candidate: str, **params) -> subprocess.CompletedProcess:
    """Start the approval step; once it says it is waiting, approve the package as a person would."""
    argv, env, _ = _step(project_dir, "approve-production", **params)
    full_env = {**os.environ, **env, "MLOPSC_APPROVAL_POLL_SECONDS": "0.2"}
    proc = subprocess.Popen([sys.executable, "-m", "mlopsc", *argv[1:]], cwd=project_dir, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:  # the step's log, line by line, until it says how to approve
        lines.append(line)
        if "is waiting for approval for production" in line:
            assert sm.describe_model_package(ModelPackageName=candidate)["ModelApprovalStatus"] == \
                "PendingManualApproval"
            time.sleep(0.5)  # it polls meanwhile
            sm.update_model_package(ModelPackageArn=candidate, ModelApprovalStatus="Approved",
                                    ApprovalDescription="approved by alice@acme.example")
            break
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(lines) + out, err)


def test_deploy_pipeline_steps_in_order(moto_url, project):
    import boto3

    sm, cf = boto3.client("sagemaker"), boto3.client("cloudformation")
    definition = json.loads((project / "build/sagemaker/pipelines/deploy.json").read_text())
    order = pipeline_order(definition)
    assert order == ["resolve-model", "deploy-staging", "smoke-test-staging", "load-test-staging",
                     "approve-production", "deploy-production"]
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    _register(sm, "Approved", "s3://acme-ml-artifacts/churn/v1/model.tar.gz")
    proc, out = _run(project, "deploy-production", model_version="1")  # the champion serves production
    assert proc.returncode == 0, proc.stderr
    endpoint = json.loads((out / "outputs" / "outputs.json").read_text())["endpoint"]
    assert sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
    candidate = _register(sm, "PendingManualApproval", "s3://acme-ml-artifacts/churn/v2/model.tar.gz")
    _local_holdout(project)

    outputs: dict[str, dict] = {}
    for name in order:
        jsonget = {"endpoint": outputs.get("deploy-staging", {}).get("endpoint", "")}
        if name == "approve-production":
            proc = _approve_while_waiting(project, sm, candidate, **{"Std:JsonGet": jsonget})
            assert proc.returncode == 0, proc.stderr
            assert "update-model-package" in proc.stdout and "approved for production" in proc.stdout
            continue
        extra_args = ["--arg", "rps=10", "--arg", "duration=1", "--arg", "max_p95_ms=5000"] \
            if name == "load-test-staging" else []
        if name.startswith(("smoke", "load")):
            _queue_results(moto_url, [{"predictions": [0.1, 0.7, 0.2, 0.05, 0.9]}])
        proc, out = _run(project, name, extra_args=extra_args, **{"Std:JsonGet": jsonget})
        assert proc.returncode == 0, f"{name}: {proc.stderr}"
        if (out / "outputs" / "outputs.json").exists():
            outputs[name] = json.loads((out / "outputs" / "outputs.json").read_text())

    assert outputs["resolve-model"] == {"model_version": "2"}  # resolved once, used by every later step
    staging = cf.describe_stacks(StackName="churn-classifier-staging")["Stacks"][0]
    assert _params(staging)["ModelDataUrl"] == "s3://acme-ml-artifacts/churn/v2/model.tar.gz"
    production = cf.describe_stacks(StackName="churn-classifier-production")["Stacks"][0]
    assert production["StackStatus"] == "UPDATE_COMPLETE"
    assert _params(production)["ModelDataUrl"] == "s3://acme-ml-artifacts/churn/v2/model.tar.gz"
    serving = sm.describe_endpoint(EndpointName=outputs["deploy-production"]["endpoint"])
    assert serving["EndpointStatus"] == "InService"
    # moto updates the stack's Model but leaves its EndpointConfig as created (an AWS update
    # replaces it): the stack's model is what this can check
    model = {o["OutputKey"]: o["OutputValue"] for o in production["Outputs"]}["ModelName"]
    served = sm.describe_model(ModelName=model)
    assert served["PrimaryContainer"]["ModelDataUrl"] == "s3://acme-ml-artifacts/churn/v2/model.tar.gz"
    assert sm.describe_model_package(ModelPackageName=candidate)["ModelApprovalStatus"] == "Approved"
