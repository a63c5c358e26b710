"""SageMaker at run time: the deploy pipeline's approve, deploy / rollout and endpoint tests.

`mlopsc step deploy|rollout` on SageMaker (the compiled deploy pipeline sets
`--target sagemaker`, `MLOPSC_SAGEMAKER_STACK` and `MLOPSC_SAGEMAKER_TEMPLATE`; the work is
in `sagemaker_stack`):

1. resolves the model version in the SageMaker model registry: the model package group is the
   registry model's resource name; `latest` (or empty) is the newest package that is `Approved`
   when the environment requires approval, else the newest that is not `Rejected` (staging tests
   the candidate before anyone approves it); a number is that `ModelPackageVersion`; an ARN is
   that package. An environment that requires approval refuses a package that is not `Approved`.
2. reads the template the compiler wrote, `cloudformation/deploy-<env>.json`. A relative
   `MLOPSC_SAGEMAKER_TEMPLATE` is looked up, in this order, under the working directory
   (`MLOPSC_WORKDIR`, else the current directory: the project root in the image, where
   `--spec specs/...` resolves too), under `build/sagemaker/` there (the default
   `mlopsc compile --target sagemaker` output), and under the spec's directory.
3. creates the stack, or updates it, with the parameters the template declares: `ImageUri` and
   `ModelDataUrl` from the package's first container; `ChampionModelDataUrl` (shadow, A/B) keeps
   the stack's current value, and on the first deployment is the candidate itself; parameters with
   a `Default` are passed with it (what CloudFormation does with an omitted one, but explicit: the
   stack holds the compiled values even if someone changed them by hand). "No updates are to be
   performed" is success, unchanged. A stack left in `ROLLBACK_COMPLETE` by a failed first
   creation holds no resources and cannot be updated: it is deleted and created again. A stack
   with an operation in progress stops the step (another deployment is running).
4. waits until the stack settles (`MLOPSC_SAGEMAKER_POLL_SECONDS` between polls, default 15).
   `CREATE_COMPLETE` / `UPDATE_COMPLETE`: the `endpoint` output is the endpoint's name (the
   stack's `EndpointName` output). `UPDATE_ROLLBACK_COMPLETE` / `ROLLBACK_COMPLETE` (the endpoint's
   `AutoRollbackConfiguration` alarms, or CloudFormation's own rollback) and the `*_FAILED` states
   stop the step with the stack's first failure reason, the endpoint's `FailureReason`, and the
   alarms that went to ALARM during the update. The wait has no limit of its own: the processing
   job's `MaxRuntimeInSeconds` bounds it.

`mlopsc step approve` on SageMaker: an `Approved` package passes; a `Rejected` one fails; a
`PendingManualApproval` one is approved (`ModelApprovalStatus=Approved`, the approver in
`ApprovalDescription`) by the step only when an approver runs it, as in a local run:
`MLOPSC_APPROVE=1`, with `MLOPSC_APPROVER` naming the person. Otherwise the step says once how to
approve (SageMaker Studio, or UpdateModelPackage) and polls the package's `ModelApprovalStatus`
until Approved, Rejected or `registry.approval.timeout` (`approval_wait`): an unattended pipeline
never approves itself.

`mlopsc step smoke_test|load_test` on SageMaker: the `endpoint` input is the endpoint's name. The
smoke test passes when `DescribeEndpoint` says `InService` and `InvokeEndpoint`
(`application/json`, `{"instances": [...]}`) returns one prediction per instance; the load test is
the local one's pacing and pass rule (p95 within `max_p95_ms`, no errors) over `InvokeEndpoint`,
for the full `duration` (the local-run cap does not apply: the job's `MaxRuntimeInSeconds` does).

Clients, regions and AWS errors: see `aws`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlopsc import ir
from mlopsc.runtime.platforms import base
from mlopsc.runtime.platforms.aws import (
    aws_errors,
    error_code,
    error_message,
    package_group,
    package_version,
    resolve_package,
    session,
)
from mlopsc.runtime.steps import StepContext, StepFailed


class Platform(base.Platform):
    name = "sagemaker"
    # PipelineExecutionStatus: a step that reads it while it runs sees Executing, after it Succeeded.
    succeeded_states = frozenset({"Executing", "Succeeded"})
    # The training contract: the job's FailureReason is what the container writes here.
    failure_file = Path("/opt/ml/output/failure")

    def approve(self, ctx: StepContext, model: str, environment: str) -> dict:
        return approve(ctx, model, environment)

    def resolve_model(self, ctx: StepContext, model: str, requested: str | None) -> str:
        """The model package version: `latest` is the newest one not rejected."""
        return resolve_model(ctx, model, requested)

    def deploy(self, ctx: StepContext, env: ir.Environment, model: str) -> dict:
        from mlopsc.runtime.platforms.sagemaker_stack import deploy

        return deploy(ctx, env, model)

    def smoke_test(self, ctx: StepContext, endpoint: str, instances: list[dict]) -> dict:
        return smoke_test(ctx, endpoint, instances)

    def load_test(self, ctx: StepContext, endpoint: str, instances: list[dict], *, rps: float,
                  duration_s: float, max_p95_ms: float | None) -> dict:
        return load_test(ctx, endpoint, instances, rps=rps, duration_s=duration_s, max_p95_ms=max_p95_ms)


# ---------------------------------------------------------------- approval


@aws_errors
def resolve_model(ctx: StepContext, model: str, requested: str | None) -> str:
    sm = session(ctx.project).client("sagemaker")
    return str(package_version(resolve_package(sm, package_group(model), requested, approved_only=False)))


@aws_errors
def approve(ctx: StepContext, model: str, environment: str) -> dict:
    from mlopsc.runtime.platforms.approval_wait import timeout_seconds, wait_for_decision

    sm = session(ctx.project).client("sagemaker")
    group = package_group(model)
    package = resolve_package(sm, group, ctx.inputs.get("model_version"), approved_only=False)
    arn, version, status = package["ModelPackageArn"], package_version(package), package.get("ModelApprovalStatus")
    result = {"version": version, "approved": True, "model_package": arn}
    if status == "Approved":
        ctx.log(f"version {version} of {group} is already approved ({package.get('ApprovalDescription') or arn})")
        return result
    if status == "Rejected":
        raise StepFailed(f"version {version} of {group} was rejected for {environment} "
                         f"({package.get('ApprovalDescription') or arn}); it is not deployed")
    if os.environ.get("MLOPSC_APPROVE", "").lower() in ("1", "true", "yes"):
        approve_package(ctx, sm, arn, f"version {version} of {group}", environment)
        return result
    detail = wait_for_decision(ctx, lambda: package_decision(sm, arn), what=f"version {version} of {group} ({arn})",
                               environment=environment, how=how_to_approve(arn),
                               timeout_s=timeout_seconds(ctx.project))
    ctx.log(f"version {version} of {group} was approved for {environment} ({detail})")
    return result


def package_decision(sm, arn: str) -> tuple[str | None, str]:
    """(approved | rejected | None, ApprovalDescription) from the package's ModelApprovalStatus."""
    package = sm.describe_model_package(ModelPackageName=arn)
    status = {"Approved": "approved", "Rejected": "rejected"}.get(package.get("ModelApprovalStatus", ""))
    return status, package.get("ApprovalDescription") or arn


def how_to_approve(arn: str) -> str:
    return (f"approve in SageMaker Studio, or call UpdateModelPackage: `aws sagemaker update-model-package "
            f"--model-package-arn {arn} --model-approval-status Approved --approval-description 'approved by <you>'` "
            "(`--model-approval-status Rejected` rejects it)")


def approve_package(ctx: StepContext, sm, arn: str, what: str, environment: str) -> None:
    """An approver who runs the step says so (`MLOPSC_APPROVE=1`, `MLOPSC_APPROVER`), as in a local run."""
    from botocore.exceptions import ClientError

    approver = os.environ.get("MLOPSC_APPROVER") or os.environ.get("USER") or "mlopsc step approve"
    description = f"approved for {environment} by {approver} (mlopsc)"[:1024]
    try:
        sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved",
                                ApprovalDescription=description)
    except ClientError as e:
        raise StepFailed(f"cannot approve {arn}: {error_message(e)}") from None
    ctx.log(f"approved {what} for {environment} ({approver})")


# ---------------------------------------------------------------- calling the endpoint


def runtime_client(ctx: StepContext, retries: bool = True, pool: int = 10):
    from botocore.config import Config

    config = Config(read_timeout=30, connect_timeout=10, max_pool_connections=pool,
                    retries=None if retries else {"total_max_attempts": 1})
    return session(ctx.project).client("sagemaker-runtime", config=config)


def predict(rt, endpoint: str, instances: list) -> tuple[bool, str | None]:
    """InvokeEndpoint with `{"instances": [...]}`: (one prediction per instance, what went wrong)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = rt.invoke_endpoint(EndpointName=endpoint, ContentType="application/json",
                                      Accept="application/json", Body=json.dumps({"instances": instances}))
        raw = response["Body"].read()
    except ClientError as e:
        return False, f"{error_code(e) or 'error'}: {error_message(e)}"[:500]
    except BotoCoreError as e:
        return False, str(e)[:500]
    try:
        out = json.loads(raw)
    except ValueError:
        return False, f"the answer is not JSON: {raw[:200]!r}"
    ok = isinstance(out, dict) and len(out.get("predictions") or []) == len(instances)
    return ok, None if ok else f"expected {len(instances)} predictions, got: {str(out)[:400]}"


@aws_errors
def smoke_test(ctx: StepContext, endpoint: str, instances: list) -> dict:
    """`DescribeEndpoint` says InService, and `InvokeEndpoint` returns one prediction per instance
    (the local smoke test's `/health` and `/predict`)."""
    from botocore.exceptions import BotoCoreError, ClientError

    checks: list[dict] = []
    try:
        status = session(ctx.project).client("sagemaker").describe_endpoint(EndpointName=endpoint).get(
            "EndpointStatus")
        checks.append({"check": "endpoint", "passed": status == "InService", "status": status,
                       "detail": None if status == "InService" else f"endpoint {endpoint} is {status}"})
    except ClientError as e:
        checks.append({"check": "endpoint", "passed": False, "detail": error_message(e)})
    except BotoCoreError as e:
        checks.append({"check": "endpoint", "passed": False, "detail": str(e)})
    if checks[0]["passed"]:
        ok, detail = predict(runtime_client(ctx), endpoint, list(instances))
        checks.append({"check": "predict", "passed": ok, "detail": detail})
    return {"endpoint": endpoint, "passed": all(c["passed"] for c in checks), "checks": checks}


@aws_errors
def load_test(ctx: StepContext, endpoint: str, instances: list, *, rps: float, duration_s: float,
              max_p95_ms: float | None = None, workers: int = 4) -> dict:
    """The local load test's pacing and rules through `InvokeEndpoint`: an AWS error counts as its
    HTTP status (599 when there is none); botocore does not retry (an error is an error)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from mlopsc.runtime.traffic import paced

    rt = runtime_client(ctx, retries=False, pool=workers)  # clients are thread-safe; one pool for the workers

    def client():
        def send(body: bytes) -> int:
            try:
                rt.invoke_endpoint(EndpointName=endpoint, ContentType="application/json",
                                   Accept="application/json", Body=body)["Body"].read()
                return 200
            except ClientError as e:
                return int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 599)
            except BotoCoreError:
                return 599
        return send

    return {"endpoint": endpoint, **paced(client, instances, rps=rps, duration_s=duration_s,
                                          max_p95_ms=max_p95_ms, workers=workers)}
