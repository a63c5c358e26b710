"""Deploy / rollout on SageMaker: the compiled CloudFormation stack, created or updated and
waited for (the strategy, blue/green with its alarms, lives in the template). See
`platforms.sagemaker` for the steps' contract."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlopsc import ir
from mlopsc.runtime.platforms.aws import (
    aws_errors,
    error_code,
    error_message,
    package_group,
    package_version,
    resolve_package,
    session,
)
from mlopsc.runtime.platforms.sagemaker_champion import record_champion
from mlopsc.runtime.steps import StepContext, StepFailed

TEMPLATE_BODY_LIMIT = 51_200  # CloudFormation's TemplateBody limit; larger templates need S3
SETTLED_OK = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
ROLLED_BACK = ("ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
CHAMPION_PARAM = "ChampionModelDataUrl"
SHADOW_END_PARAM = "ShadowEndTime"  # targets/sagemaker/shadow_test.py


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


def shadow_end_time(duration_s: int | None, now: datetime | None = None) -> str:
    """A timed shadow test's `Schedule.EndTime`: this deploy's time plus `strategy.duration`."""
    from datetime import timedelta

    end = (now or datetime.now(UTC)) + timedelta(seconds=duration_s or 0)
    return end.strftime("%Y-%m-%dT%H:%M:%SZ")


def stack_parameters(template: dict, package: dict, current: dict | None, shadow_s: int | None = None) -> list[dict]:
    """CreateStack/UpdateStack `Parameters` for what the template declares. A timed shadow test
    keeps its end time while the same model is redeployed, and starts anew for a new one."""
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
        elif name == SHADOW_END_PARAM:
            if name in previous and previous.get("ModelDataUrl") == known["ModelDataUrl"]:
                out.append({"ParameterKey": name, "UsePreviousValue": True})
            else:
                out.append({"ParameterKey": name, "ParameterValue": shadow_end_time(shadow_s)})
        elif known.get(name):
            out.append({"ParameterKey": name, "ParameterValue": known[name]})
        elif "Default" in decl:  # named explicitly: the stack holds exactly the compiled defaults
            out.append({"ParameterKey": name, "ParameterValue": str(decl["Default"])})
        else:
            raise StepFailed(f"the deployment template declares parameter {name!r} without a default, "
                             "and mlopsc has no value for it")
    return out


# ---------------------------------------------------------------- reading the stack


def describe(cf, stack: str) -> dict | None:
    from botocore.exceptions import ClientError

    try:
        return cf.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as e:
        if error_code(e) == "ValidationError" and "does not exist" in error_message(e):
            return None
        raise StepFailed(f"cannot read stack {stack}: {error_message(e)}") from None


def wait(cf, stack: str, log: Callable[[str], None], poll: float) -> dict:
    last = None
    while True:
        current = describe(cf, stack)
        if current is None:
            raise StepFailed(f"stack {stack} disappeared while mlopsc waited for it")
        status = current["StackStatus"]
        if status != last:
            log(f"  stack {stack}: {status}")
            last = status
        if not status.endswith("_IN_PROGRESS"):
            return current
        time.sleep(poll)


def wait_deleted(cf, stack: str, poll: float) -> bool:
    while True:
        current = describe(cf, stack)
        if current is None or current["StackStatus"] == "DELETE_COMPLETE":
            return True
        if current["StackStatus"] == "DELETE_FAILED":
            return False
        time.sleep(poll)


def endpoint_name(stack: dict) -> str | None:
    outputs = {o["OutputKey"]: o.get("OutputValue") for o in stack.get("Outputs") or []}
    params = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters") or []}
    return outputs.get("EndpointName") or params.get("EndpointName")


# ---------------------------------------------------------------- why it failed


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


def events(cf, stack: str, limit: int = 500) -> list[dict]:
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


def alarms_fired(aws, cf, stack: str, since: datetime) -> list[str]:
    """The stack's CloudWatch alarms that went to ALARM since `since` (best effort)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        resources = cf.describe_stack_resources(StackName=stack)["StackResources"]
        names = sorted(r["PhysicalResourceId"] for r in resources
                       if r.get("ResourceType") == "AWS::CloudWatch::Alarm" and r.get("PhysicalResourceId"))
        if not names:
            return []
        cw = aws.client("cloudwatch")
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
                    alarms: list[str], *, environment: str = "", serving: str | None = None) -> str:
    """One line: what failed where, why, and what serves now (`serving`, when it was read)."""
    where = f" to {environment}" if environment else ""
    if status in ROLLED_BACK:
        head = f"deployment of version {version} of {group}{where} was rolled back (stack {stack}: {status})"
        tail = ("; the endpoint keeps its previous configuration" if status == "UPDATE_ROLLBACK_COMPLETE"
                else "; the stack holds no endpoint (the next deploy recreates it)")
    else:
        head = f"deployment of version {version} of {group}{where} failed (stack {stack}: {status})"
        tail = "; the stack needs attention in the CloudFormation console before the next deploy"
    if serving:
        tail = f"; {serving}"
    parts = [head]
    if alarms:
        parts.append("alarms in ALARM during the update: " + ", ".join(alarms))
    if reasons:
        parts.append("reason: " + "; ".join(reasons))
    return "; ".join(parts) + tail


def serving_config(sm, stack: dict | None) -> tuple[str | None, str | None]:
    """(endpoint name, the endpoint config it serves now), best effort."""
    from botocore.exceptions import BotoCoreError, ClientError

    name = endpoint_name(stack or {})
    if not name:
        return None, None
    try:
        return name, sm.describe_endpoint(EndpointName=name).get("EndpointConfigName")
    except (BotoCoreError, ClientError):
        return name, None


def still_serving(sm, final: dict, before: str | None) -> str | None:
    """After a rollback: which endpoint config serves, compared with the one before the update."""
    name, after = serving_config(sm, final)
    if not (name and after):
        return None
    if after == before:
        return f"endpoint {name} still serves its previous endpoint config {after}"
    return f"endpoint {name} serves endpoint config {after} (before the update: {before or 'none'})"


# ---------------------------------------------------------------- the deploy


@aws_errors
def deploy(ctx: StepContext, env: ir.Environment, model: str) -> dict:
    """The `deploy` and `rollout` actions on SageMaker (the strategy lives in the template)."""
    stack, relative = stack_and_template()
    poll = float(os.environ.get("MLOPSC_SAGEMAKER_POLL_SECONDS", "15"))
    aws = session(ctx.project)
    sm, cf = aws.client("sagemaker"), aws.client("cloudformation")
    group = package_group(model)
    package = resolve_package(sm, group, ctx.inputs.get("model_version"), approved_only=env.requires_approval)
    version, arn = package_version(package), package["ModelPackageArn"]
    if env.requires_approval and package.get("ModelApprovalStatus") != "Approved":
        raise StepFailed(f"version {version} of {group} is not approved for {env.name} "
                         f"({package.get('ModelApprovalStatus')}: {arn})")
    body, template = read_template(ctx, relative)
    current = updatable(ctx, cf, stack, poll)
    record: dict[str, Any] = {"environment": env.name, "model": group, "version": version, "model_package": arn,
                              "stack": stack, "strategy": env.strategy.type}
    since = datetime.now(UTC)
    _, before = serving_config(sm, current)
    params = stack_parameters(template, package, current, env.strategy.duration_seconds)
    state = submit(ctx, cf, stack, body, params, current, env,
                   f"version {version} of {group}", relative)
    if state == "unchanged":
        record_champion(ctx, aws, env, model, package)
        return finished(stack, current, {**record, "state": state})
    final = wait(cf, stack, ctx.log, poll)
    status = final["StackStatus"]
    if status not in SETTLED_OK:
        reasons = failure_reasons(events(cf, stack), stack)[:1] + endpoint_failure(sm, final)
        raise StepFailed(outcome_message(stack, status, version, group, reasons,
                                         alarms_fired(aws, cf, stack, since), environment=env.name,
                                         serving=still_serving(sm, final, before)))
    check_serving(sm, cf, stack, final, f"version {version} of {group}", env.name)
    ctx.log(f"version {version} of {group} serves {env.name} ({status})")
    record_champion(ctx, aws, env, model, package)
    return finished(stack, final, {**record, "state": state})


def check_serving(sm, cf, stack: str, described: dict, what: str, environment: str = "") -> None:
    """UPDATE_COMPLETE says CloudFormation is done, not what serves: the endpoint must be
    InService on the endpoint config this stack just made."""
    name = endpoint_name(described)
    # the resource's physical id is the config's ARN (what `Ref` returns); the endpoint names it
    config = cf.describe_stack_resource(StackName=stack, LogicalResourceId="EndpointConfig")[
        "StackResourceDetail"]["PhysicalResourceId"].rsplit("endpoint-config/", 1)[-1]
    endpoint = sm.describe_endpoint(EndpointName=name) if name else {}
    serving, status = endpoint.get("EndpointConfigName"), endpoint.get("EndpointStatus")
    if status != "InService" or serving != config:
        where = f" to {environment}" if environment else ""
        reason = f" (FailureReason: {endpoint['FailureReason']})" if endpoint.get("FailureReason") else ""
        raise StepFailed(f"deployment of {what}{where}: stack {stack} finished, but endpoint {name} is {status} "
                         f"on endpoint config {serving}, not {config}{reason}: it does not serve")


def stack_and_template() -> tuple[str, str]:
    stack = os.environ.get("MLOPSC_SAGEMAKER_STACK")
    relative = os.environ.get("MLOPSC_SAGEMAKER_TEMPLATE")
    if not stack or not relative:
        raise StepFailed("MLOPSC_SAGEMAKER_STACK and MLOPSC_SAGEMAKER_TEMPLATE must be set (the compiled "
                         "SageMaker deploy pipeline sets both)")
    return stack, relative


def updatable(ctx: StepContext, cf, stack: str, poll: float) -> dict | None:
    """The stack as it can be created or updated now: None to create it."""
    current = describe(cf, stack)
    if current is not None and current["StackStatus"] == "ROLLBACK_COMPLETE":
        ctx.log(f"stack {stack} is ROLLBACK_COMPLETE from a failed first creation (it holds no resources): "
                "deleting it to create it again")
        cf.delete_stack(StackName=stack)
        if not wait_deleted(cf, stack, poll):
            raise StepFailed(f"stack {stack} could not be deleted (see the CloudFormation console)")
        return None
    if current is not None and current["StackStatus"].endswith("_IN_PROGRESS"):
        raise StepFailed(f"stack {stack} is {current['StackStatus']}: another deployment is running; "
                         "rerun when it has finished")
    return current


def submit(ctx: StepContext, cf, stack: str, body: str, params: list[dict], current: dict | None,
           env: ir.Environment, what: str, relative: str) -> str:
    """CreateStack or UpdateStack; "unchanged" when CloudFormation has nothing to do."""
    from botocore.exceptions import ClientError

    tags = [{"Key": "mlopsc:project", "Value": ctx.project.name}, {"Key": "mlopsc:environment", "Value": env.name}]
    try:
        if current is None:
            ctx.log(f"creating stack {stack} for {what} ({relative})")
            cf.create_stack(StackName=stack, TemplateBody=body, Parameters=params, Tags=tags)
            return "deployed"
        ctx.log(f"updating stack {stack} to {what} ({env.strategy.type} rollout)")
        cf.update_stack(StackName=stack, TemplateBody=body, Parameters=params, Tags=tags)
        return "updated"
    except ClientError as e:
        if "No updates are to be performed" in error_message(e):
            ctx.log(f"stack {stack} already serves {what} (unchanged)")
            return "unchanged"
        raise StepFailed(f"CloudFormation refused stack {stack}: {error_message(e)}") from None


def finished(stack: str, described: dict | None, record: dict) -> dict:
    name = endpoint_name(described or {})
    if not name:
        raise StepFailed(f"stack {stack} has no EndpointName output")
    record["endpoint"] = name
    return record
