"""The spec's name and labels as each platform's tags, so billing groups a project's resources.

Every target tags every resource it compiles: Kubernetes labels on pods, InferenceServices,
VirtualServices and the gateway's objects; AWS tags on SageMaker jobs, model packages,
CloudFormation resources; GCP labels on pipeline jobs, schedules, models, endpoints and the
Cloud Run gateway; compose labels locally. Where a platform restricts a label, `notes` says so
(W702) at the spec's `labels` line instead of dropping or rewriting it silently.
"""

from __future__ import annotations

import re

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic

from .base import note

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

PROJECT_KEYS = {"k8s": "mlopsc.dev/project", "aws": "mlopsc:project", "compose": "dev.mlopsc.project"}
# A Kubernetes label name or value: at most 63 characters, alphanumeric at both ends.
_K8S = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
# AWS tags: letters, digits, spaces and _ . : / = + - @; keys up to 128, values up to 256 characters.
_AWS = re.compile(r"^[\w .:/=+\-@]*$")
_GCP = re.compile(r"[^a-z0-9_-]")


def k8s_labels(project: ir.Project) -> dict[str, str]:
    """The project name and every spec label Kubernetes accepts (the others: `notes`)."""
    found = {k: v for k, v in project.labels if _K8S.match(k) and _K8S.match(v)}
    return {PROJECT_KEYS["k8s"]: _k8s_value(project.name), **found}


def _k8s_value(text: str) -> str:
    return text if _K8S.match(text) else ""


def aws_tags(project: ir.Project) -> list[dict[str, str]]:
    """`[{Key, Value}]`: the project name, then every spec label AWS accepts, sorted by key."""
    found = [{"Key": k, "Value": v} for k, v in project.labels if _aws_ok(k, v)]
    return [{"Key": PROJECT_KEYS["aws"], "Value": project.name}] + found


def _aws_ok(key: str, value: str) -> bool:
    return (len(key) <= 128 and len(value) <= 256 and bool(_AWS.match(key)) and bool(_AWS.match(value))
            and not key.lower().startswith("aws:"))


def gcp_label(text: str) -> str:
    """GCP's label form: lowercase, [a-z0-9_-], at most 63 characters."""
    return _GCP.sub("-", str(text).lower())[:63]


def compose_labels(project: ir.Project) -> dict[str, str]:
    return {PROJECT_KEYS["compose"]: project.name, **dict(project.labels)}


def notes(target: str, project: ir.Project) -> list[Diagnostic]:
    """W702 at `labels` for each label the target's platform cannot carry as written."""
    span = project.labels_span if project.labels_span != ir.NO_SPAN else project.span
    found = []
    for key, value in project.labels:
        why = _restriction(target, key, value)
        if why:
            found.append(note(target, span, f"label `{key}: {value}` {why}"))
    if target == "sagemaker" and project.labels and (project.deployment or any(p.schedule for p in project.pipelines)):
        found.append(note(target, span, "EventBridge Scheduler schedules and Application Auto Scaling targets take "
                                        "no tags (CloudFormation has none for them); they cost nothing themselves, "
                                        "and the pipeline runs and endpoints they start or scale carry the labels"))
    if target == "kubeflow" and project.labels and any(p.schedule for p in project.pipelines):
        found.append(note(target, span, "KFP recurring runs (schedules/*.recurring-run.json) take no labels (the "
                                        "KFP API has none for them); the pods of the runs they start carry them"))
    return found


def _restriction(target: str, key: str, value: str) -> str | None:
    if target == "kubeflow" and not (_K8S.match(key) and _K8S.match(value)):
        return ("is not applied: Kubernetes label names and values are at most 63 characters of "
                "[A-Za-z0-9_.-], alphanumeric at both ends")
    if target == "sagemaker" and not _aws_ok(key, value):
        return ("is not applied: AWS tags take letters, digits, spaces and _.:/=+-@ (keys up to 128, "
                "values up to 256 characters) and no `aws:` prefix")
    if target == "vertex" and (gcp_label(key), gcp_label(value)) != (key, value):
        return (f"is applied as `{gcp_label(key)}: {gcp_label(value)}`: GCP labels are lowercase "
                "[a-z0-9_-], at most 63 characters")
    return None


def tag_resources(template: dict[str, Any], tags: list[dict[str, str]], taggable: frozenset[str]) -> dict[str, Any]:
    """A CloudFormation template with `Tags` on every resource whose type takes a list of tags."""
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") in taggable:
            props = resource.setdefault("Properties", {})
            props["Tags"] = merged_tags(tags, props.get("Tags") or [])
    return template


def merged_tags(tags: list[dict[str, str]], own: list[dict[str, str]]) -> list[dict[str, str]]:
    """`tags`, then the resource's own tags (e.g. its environment), a key once (the resource's wins)."""
    by_key = {t["Key"]: dict(t) for t in tags}
    by_key.update({t["Key"]: dict(t) for t in own})
    return list(by_key.values())


# CloudFormation types that take `Tags: [{Key, Value}]` (Scheduler schedules and Application Auto
# Scaling targets and policies take none; what they start or scale is tagged).
AWS_TAGGABLE = frozenset({
    "AWS::CloudWatch::Alarm", "AWS::Events::Rule", "AWS::SNS::Topic", "AWS::SageMaker::DataQualityJobDefinition",
    "AWS::SageMaker::Endpoint", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Model",
    "AWS::SageMaker::ModelQualityJobDefinition", "AWS::SageMaker::MonitoringSchedule",
})
# SageMaker pipeline step types whose request (CreateProcessingJob, CreateTrainingJob,
# CreateHyperParameterTuningJob: its training jobs inherit them, CreateModelPackage) takes Tags.
SAGEMAKER_TAGGED_STEPS = frozenset({"Processing", "Training", "Tuning", "RegisterModel"})


def tag_steps(steps: list[dict[str, Any]], tags: list[dict[str, str]]) -> None:
    """Add `Tags` to the arguments of every job-creating step, inside conditions too."""
    for step in steps:
        args = step.get("Arguments")
        if not isinstance(args, dict):
            continue
        if step.get("Type") in SAGEMAKER_TAGGED_STEPS:
            args["Tags"] = merged_tags(tags, args.get("Tags") or [])
        for branch in ("IfSteps", "ElseSteps"):
            tag_steps(args.get(branch) or [], tags)
