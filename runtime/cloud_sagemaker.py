"""The deploy pipeline's steps on SageMaker: approve, and deploy / rollout through CloudFormation.

`mlopsc step deploy|rollout` with `MLOPSC_TARGET=sagemaker` (the compiled deploy pipeline sets it,
with `MLOPSC_SAGEMAKER_STACK` and `MLOPSC_SAGEMAKER_TEMPLATE`):

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
`ApprovalDescription`) only when an approver says so, as in a local run: `MLOPSC_APPROVE=1`, with
`MLOPSC_APPROVER` naming the person. Otherwise the step fails saying how to approve (SageMaker
Studio, or `aws sagemaker update-model-package`), so an unattended pipeline never approves itself.

`mlopsc step smoke_test|load_test` on SageMaker: the `endpoint` input is the endpoint's name. The
smoke test passes when `DescribeEndpoint` says `InService` and `InvokeEndpoint`
(`application/json`, `{"instances": [...]}`) returns one prediction per instance; the load test is
the local one's pacing and pass rule (p95 within `max_p95_ms`, no errors) over `InvokeEndpoint`,
for the full `duration` (the local-run cap does not apply: the job's `MaxRuntimeInSeconds` does).

boto3 is imported inside the functions: the runtime's other actions do not need it. The AWS
endpoint is botocore's (`AWS_ENDPOINT_URL` and friends), the region `AWS_REGION`,
`AWS_DEFAULT_REGION`, else `targets.sagemaker.region` from the spec. An AWS error the steps do
not expect (no credentials, no connection, access denied) stops the step with its message.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlopsc import ir
from mlopsc.runtime.steps import StepContext, StepFailed, write_json

TEMPLATE_BODY_LIMIT = 51_200  # CloudFormation's TemplateBody limit; larger templates need S3
SETTLED_OK = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
ROLLED_BACK = ("ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
CHAMPION_PARAM = "ChampionModelDataUrl"


# ---------------------------------------------------------------- clients and names


def _session(ctx: StepContext):
    import boto3
    from mlopsc.targets.sagemaker.settings import settings

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or settings(ctx.project).region
    return boto3.session.Session(region_name=region)


def package_group(model: str) -> str:
    from mlopsc.targets.sagemaker.expressions import resource_name

    return resource_name(model)


def _error_code(e: Exception) -> str:
    return getattr(e, "response", {}).get("Error", {}).get("Code", "")


def _error_message(e: Exception) -> str:
    return getattr(e, "response", {}).get("Error", {}).get("Message", "") or str(e)


# ---------------------------------------------------------------- the model registry


def _packages(sm, group: str) -> list[dict]:
    """The group's packages, newest version first."""
    from botocore.exceptions import ClientError

    out: list[dict] = []
    try:
        for page in sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
            out += page.get("ModelPackageSummaryList", [])
    except ClientError as e:
        raise StepFailed(f"cannot list model package group {group!r}: {_error_message(e)}") from None
    return sorted(out, key=lambda p: int(p.get("ModelPackageVersion") or 0), reverse=True)


def resolve_package(sm, group: str, requested: str | None, approved_only: bool) -> dict:
    """The package (DescribeModelPackage) for `latest`, a version number, or an ARN."""
    from botocore.exceptions import ClientError

    requested = (requested or "").strip().strip('"')
    if requested.startswith("arn:"):
        arn = requested
    else:
        packages = _packages(sm, group)
        if not requested or requested == "latest":
            usable = [p for p in packages if (p.get("ModelApprovalStatus") == "Approved" if approved_only
                                              else p.get("ModelApprovalStatus") != "Rejected")]
            if not usable:
                what = "approved" if approved_only else "registered (and not rejected)"
                raise StepFailed(f"model package group {group!r} has no {what} version to deploy"
                                 + (" (approve one first)" if approved_only and packages else
                                    " (run the train pipeline first)"))
            arn = usable[0]["ModelPackageArn"]
        else:
            found = [p for p in packages if str(p.get("ModelPackageVersion")) == requested]
            if not found:
                raise StepFailed(f"model package group {group!r} has no version {requested}")
            arn = found[0]["ModelPackageArn"]
    try:
        return sm.describe_model_package(ModelPackageName=arn)
    except ClientError as e:
        raise StepFailed(f"cannot read model package {arn}: {_error_message(e)}") from None


def _version(package: dict) -> str:
    return str(package.get("ModelPackageVersion") or package["ModelPackageArn"].rsplit("/", 1)[-1])


def _aws_errors(fn):
    """AWS errors the step does not handle itself become `StepFailed` (one message, no traceback)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except ClientError as e:
            raise StepFailed(f"AWS refused {e.operation_name}: {_error_message(e)}") from None
        except BotoCoreError as e:
            raise StepFailed(f"AWS: {e}") from None

    return wrapper


@_aws_errors
def approve(ctx: StepContext, model: str, environment: str) -> dict:
    sm = _session(ctx).client("sagemaker")
    group = package_group(model)
    package = resolve_package(sm, group, ctx.inputs.get("model_version"), approved_only=False)
    arn, version, status = package["ModelPackageArn"], _version(package), package.get("ModelApprovalStatus")
    if status == "Approved":
        ctx.log(f"version {version} of {group} is already approved ({package.get('ApprovalDescription') or arn})")
        return {"version": version, "approved": True, "model_package": arn}
    if status == "Rejected":
        raise StepFailed(f"version {version} of {group} was rejected ({package.get('ApprovalDescription') or arn}); "
                         f"it is not deployed to {environment}")
    if os.environ.get("MLOPSC_APPROVE", "").lower() not in ("1", "true", "yes"):
        raise StepFailed(
            f"version {version} of {group} is waiting for approval for {environment} ({status}): approve "
            f"{arn} in SageMaker Studio, or `aws sagemaker update-model-package --model-package-arn {arn} "
            f"--model-approval-status Approved --approval-description 'approved by <you>'`, then rerun the "
            "deploy pipeline (or run this step with MLOPSC_APPROVE=1 MLOPSC_APPROVER=<you>)")
    approver = os.environ.get("MLOPSC_APPROVER") or os.environ.get("USER") or "mlopsc step approve"
    description = f"approved for {environment} by {approver} (mlopsc)"[:1024]
    from botocore.exceptions import ClientError

    try:
        sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved",
                                ApprovalDescription=description)
    except ClientError as e:
        raise StepFailed(f"cannot approve {arn}: {_error_message(e)}") from None
    ctx.log(f"approved version {version} of {group} for {environment} ({approver})")
    return {"version": version, "approved": True, "model_package": arn}


# ---------------------------------------------------------------- the template and its parameters


def template_candidates(ctx: StepContext, relative: str) -> list[Path]:
    path = Path(relative)
    if path.is_absolute():
        return [path]
    work = Path(os.environ.get("MLOPSC_WORKDIR") or os.getcwd())
    return [work / path, work / "build" / "sagemaker" / path, ctx.spec_dir / path]


def read_template(ctx: StepContext, relative: str) -> tuple[str, dict]:
    candidates = template_candidates(ctx, relative)
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise StepFailed(f"deployment template {relative} not found (looked in: "
                         f"{', '.join(str(p) for p in candidates)}); ship the compiled "
                         "`mlopsc compile --target sagemaker` output in the image")
    body = found.read_text(encoding="utf-8")
    if len(body.encode("utf-8")) > TEMPLATE_BODY_LIMIT:
        raise StepFailed(f"{found} is larger than CloudFormation's {TEMPLATE_BODY_LIMIT}-byte TemplateBody limit")
    try:
        return body, json.loads(body)
    except ValueError as e:
        raise StepFailed(f"{found} is not JSON: {e}") from None


def stack_parameters(template: dict, package: dict, current: dict | None) -> list[dict]:
    """CreateStack/UpdateStack `Parameters` for what the template declares."""
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers or not containers[0].get("ModelDataUrl"):
        raise StepFailed(f"model package {package['ModelPackageArn']} has no container with a ModelDataUrl")
    known = {"ImageUri": containers[0].get("Image"), "ModelDataUrl": containers[0]["ModelDataUrl"]}
    previous = {p["ParameterKey"]: p.get("ParameterValue") for p in (current or {}).get("Parameters", [])}
    out: list[dict] = []
    for name, decl in sorted((template.get("Parameters") or {}).items()):
        if name == CHAMPION_PARAM:
            if name in previous:
                out.append({"ParameterKey": name, "UsePreviousValue": True})
            else:  # first deployment: no champion yet, the candidate serves both variants
                out.append({"ParameterKey": name, "ParameterValue": known["ModelDataUrl"]})
        elif known.get(name):
            out.append({"ParameterKey": name, "ParameterValue": known[name]})
        elif "Default" in decl:  # named explicitly: the stack holds exactly the compiled defaults
            out.append({"ParameterKey": name, "ParameterValue": str(decl["Default"])})
        else:
            raise StepFailed(f"the deployment template declares parameter {name!r} without a default, "
                             "and mlopsc has no value for it")
    return out


# ---------------------------------------------------------------- the stack


def _describe(cf, stack: str) -> dict | None:
    from botocore.exceptions import ClientError

    try:
        return cf.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as e:
        if _error_code(e) == "ValidationError" and "does not exist" in _error_message(e):
            return None
        raise StepFailed(f"cannot read stack {stack}: {_error_message(e)}") from None


def _wait(cf, stack: str, log: Callable[[str], None], poll: float) -> dict:
    last = None
    while True:
        current = _describe(cf, stack)
        if current is None:
            raise StepFailed(f"stack {stack} disappeared while mlopsc waited for it")
        status = current["StackStatus"]
        if status != last:
            log(f"  stack {stack}: {status}")
            last = status
        if not status.endswith("_IN_PROGRESS"):
            return current
        time.sleep(poll)


def failure_reasons(events: list[dict], stack: str) -> list[str]:
    """The failures of the latest operation (events newest first, as DescribeStackEvents gives
    them), oldest first; cancellations caused by the first failure are left out."""
    out: list[str] = []
    for e in events:
        if (e.get("LogicalResourceId") == stack and e.get("ResourceType") == "AWS::CloudFormation::Stack"
                and e.get("ResourceStatus") in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS")):
            break  # the start of this operation
        status, reason = e.get("ResourceStatus", ""), e.get("ResourceStatusReason") or ""
        if status.endswith("_FAILED") and reason and "cancelled" not in reason.lower():
            out.append(f"{e.get('LogicalResourceId')} ({e.get('ResourceType')}): {status}: {reason}")
    return list(reversed(out))


def _events(cf, stack: str, limit: int = 500) -> list[dict]:
    from botocore.exceptions import BotoCoreError, ClientError

    out: list[dict] = []
    try:
        for page in cf.get_paginator("describe_stack_events").paginate(StackName=stack):
            out += page.get("StackEvents", [])
            if len(out) >= limit:
                break
    except (BotoCoreError, ClientError):
        pass
    return out


def alarms_fired(session, cf, stack: str, since: datetime) -> list[str]:
    """The stack's CloudWatch alarms that went to ALARM since `since` (best effort)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        resources = cf.describe_stack_resources(StackName=stack)["StackResources"]
        names = sorted(r["PhysicalResourceId"] for r in resources
                       if r.get("ResourceType") == "AWS::CloudWatch::Alarm" and r.get("PhysicalResourceId"))
        if not names:
            return []
        cw = session.client("cloudwatch")
        fired = []
        for name in names:
            history = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate", StartDate=since)
            if any("to ALARM" in (h.get("HistorySummary") or "") for h in history.get("AlarmHistoryItems", [])):
                fired.append(name)
        return fired
    except (BotoCoreError, ClientError):
        return []


def endpoint_failure(sm, stack: dict) -> list[str]:
    """The endpoint's own `FailureReason` (an auto-rollback names its alarm there), best effort."""
    from botocore.exceptions import BotoCoreError, ClientError

    name = endpoint_name(stack)
    if not name:
        return []
    try:
        reason = sm.describe_endpoint(EndpointName=name).get("FailureReason")
    except (BotoCoreError, ClientError):
        return []
    return [f"endpoint {name}: {reason}"] if reason else []


def outcome_message(stack: str, status: str, version: str, group: str, reasons: list[str],
                    alarms: list[str]) -> str:
    if status in ROLLED_BACK:
        head = (f"deployment of version {version} of {group} was rolled back (stack {stack}: {status})")
        tail = ("; the endpoint keeps its previous configuration" if status == "UPDATE_ROLLBACK_COMPLETE"
                else "; the stack holds no endpoint (the next deploy recreates it)")
    else:
        head = f"deployment of version {version} of {group} failed (stack {stack}: {status})"
        tail = "; the stack needs attention in the CloudFormation console before the next deploy"
    parts = [head]
    if alarms:
        parts.append("alarms in ALARM during the update: " + ", ".join(alarms))
    if reasons:
        parts.append("reason: " + "; ".join(reasons))
    return "; ".join(parts) + tail


@_aws_errors
def deploy(ctx: StepContext, env: ir.Environment, model: str) -> dict:
    """The `deploy` and `rollout` actions on SageMaker (the strategy lives in the template)."""
    from botocore.exceptions import ClientError

    stack = os.environ.get("MLOPSC_SAGEMAKER_STACK")
    relative = os.environ.get("MLOPSC_SAGEMAKER_TEMPLATE")
    if not stack or not relative:
        raise StepFailed("MLOPSC_SAGEMAKER_STACK and MLOPSC_SAGEMAKER_TEMPLATE must be set (the compiled "
                         "SageMaker deploy pipeline sets both)")
    poll = float(os.environ.get("MLOPSC_SAGEMAKER_POLL_SECONDS", "15"))
    session = _session(ctx)
    sm, cf = session.client("sagemaker"), session.client("cloudformation")
    group = package_group(model)
    package = resolve_package(sm, group, ctx.inputs.get("model_version"), approved_only=env.requires_approval)
    version, arn = _version(package), package["ModelPackageArn"]
    if env.requires_approval and package.get("ModelApprovalStatus") != "Approved":
        raise StepFailed(f"version {version} of {group} is not approved for {env.name} "
                         f"({package.get('ModelApprovalStatus')}: {arn})")
    body, template = read_template(ctx, relative)
    current = _describe(cf, stack)
    if current is not None and current["StackStatus"] == "ROLLBACK_COMPLETE":
        ctx.log(f"stack {stack} is ROLLBACK_COMPLETE from a failed first creation (it holds no resources): "
                "deleting it to create it again")
        cf.delete_stack(StackName=stack)
        gone = _wait_deleted(cf, stack, poll)
        if not gone:
            raise StepFailed(f"stack {stack} could not be deleted (see the CloudFormation console)")
        current = None
    if current is not None and current["StackStatus"].endswith("_IN_PROGRESS"):
        raise StepFailed(f"stack {stack} is {current['StackStatus']}: another deployment is running; "
                         "rerun when it has finished")
    params = stack_parameters(template, package, current)
    tags = [{"Key": "mlopsc:project", "Value": ctx.project.name}, {"Key": "mlopsc:environment", "Value": env.name}]
    since = datetime.now(UTC)
    record: dict[str, Any] = {"environment": env.name, "model": group, "version": version, "model_package": arn,
                              "stack": stack, "strategy": env.strategy.type}
    try:
        if current is None:
            ctx.log(f"creating stack {stack} for version {version} of {group} ({relative})")
            cf.create_stack(StackName=stack, TemplateBody=body, Parameters=params, Tags=tags)
            state = "deployed"
        else:
            ctx.log(f"updating stack {stack} to version {version} of {group} ({env.strategy.type} rollout)")
            cf.update_stack(StackName=stack, TemplateBody=body, Parameters=params, Tags=tags)
            state = "updated"
    except ClientError as e:
        if "No updates are to be performed" in _error_message(e):
            ctx.log(f"stack {stack} already serves version {version} of {group} (unchanged)")
            return _done(ctx, stack, current, {**record, "state": "unchanged"})
        raise StepFailed(f"CloudFormation refused stack {stack}: {_error_message(e)}") from None
    final = _wait(cf, stack, ctx.log, poll)
    status = final["StackStatus"]
    if status not in SETTLED_OK:
        reasons = failure_reasons(_events(cf, stack), stack)[:1] + endpoint_failure(sm, final)
        alarms = alarms_fired(session, cf, stack, since)
        raise StepFailed(outcome_message(stack, status, version, group, reasons, alarms))
    ctx.log(f"version {version} of {group} serves {env.name} ({status})")
    return _done(ctx, stack, final, {**record, "state": state})


def _wait_deleted(cf, stack: str, poll: float) -> bool:
    while True:
        current = _describe(cf, stack)
        if current is None or current["StackStatus"] == "DELETE_COMPLETE":
            return True
        if current["StackStatus"] == "DELETE_FAILED":
            return False
        time.sleep(poll)


def endpoint_name(stack: dict) -> str | None:
    outputs = {o["OutputKey"]: o.get("OutputValue") for o in stack.get("Outputs") or []}
    params = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters") or []}
    return outputs.get("EndpointName") or params.get("EndpointName")


def _done(ctx: StepContext, stack: str, described: dict | None, record: dict) -> dict:
    name = endpoint_name(described or {})
    if not name:
        raise StepFailed(f"stack {stack} has no EndpointName output")
    record["endpoint"] = name
    if "endpoint" in ctx.outputs:
        write_json(ctx.output("endpoint"), name)
    return record


# ---------------------------------------------------------------- tests after a deploy


def _runtime(ctx: StepContext, retries: bool = True, pool: int = 10):
    from botocore.config import Config

    config = Config(read_timeout=30, connect_timeout=10, max_pool_connections=pool,
                    retries=None if retries else {"total_max_attempts": 1})
    return _session(ctx).client("sagemaker-runtime", config=config)


def _predict(rt, endpoint: str, instances: list) -> tuple[bool, str | None]:
    """InvokeEndpoint with `{"instances": [...]}`: (one prediction per instance, what went wrong)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = rt.invoke_endpoint(EndpointName=endpoint, ContentType="application/json",
                                      Accept="application/json", Body=json.dumps({"instances": instances}))
        raw = response["Body"].read()
    except ClientError as e:
        return False, f"{_error_code(e) or 'error'}: {_error_message(e)}"[:500]
    except BotoCoreError as e:
        return False, str(e)[:500]
    try:
        out = json.loads(raw)
    except ValueError:
        return False, f"the answer is not JSON: {raw[:200]!r}"
    ok = isinstance(out, dict) and len(out.get("predictions") or []) == len(instances)
    return ok, None if ok else f"expected {len(instances)} predictions, got: {str(out)[:400]}"


@_aws_errors
def smoke_test(ctx: StepContext, endpoint: str, instances: list) -> dict:
    """`DescribeEndpoint` says InService, and `InvokeEndpoint` returns one prediction per instance
    (the local smoke test's `/health` and `/predict`)."""
    from botocore.exceptions import BotoCoreError, ClientError

    checks: list[dict] = []
    try:
        status = _session(ctx).client("sagemaker").describe_endpoint(EndpointName=endpoint).get("EndpointStatus")
        checks.append({"check": "endpoint", "passed": status == "InService", "status": status,
                       "detail": None if status == "InService" else f"endpoint {endpoint} is {status}"})
    except ClientError as e:
        checks.append({"check": "endpoint", "passed": False, "detail": _error_message(e)})
    except BotoCoreError as e:
        checks.append({"check": "endpoint", "passed": False, "detail": str(e)})
    if checks[0]["passed"]:
        ok, detail = _predict(_runtime(ctx), endpoint, list(instances))
        checks.append({"check": "predict", "passed": ok, "detail": detail})
    return {"endpoint": endpoint, "passed": all(c["passed"] for c in checks), "checks": checks}


@_aws_errors
def load_test(ctx: StepContext, endpoint: str, instances: list, *, rps: float, duration_s: float,
              max_p95_ms: float | None = None, workers: int = 4) -> dict:
    """The local load test's pacing and rules through `InvokeEndpoint`: an AWS error counts as its
    HTTP status (599 when there is none); botocore does not retry (an error is an error)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from mlopsc.runtime.traffic import paced

    rt = _runtime(ctx, retries=False, pool=workers)  # clients are thread-safe; one pool for the workers

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
