"""`triggers.data: retrain` and `triggers.code: retrain` on every target.

- data: SageMaker gets an EventBridge rule per S3 prefix of the spec's datasets that starts the
  train pipeline when an object is written there (`cloudformation/data-trigger.json`; the bucket
  must send events to EventBridge). Kubeflow, Vertex and local have no data-arrival mechanism
  mlopsc can compile to, so they get a W702 saying so (a schedule retrains on new data instead).
- code: a GitHub Actions workflow (paths relative to where `mlopsc compile` runs: the repository root) (`ci/train-on-code-change.yaml`) that, on a push to the default
  branch touching the training code, the feature transforms or the spec, builds the step image and
  starts the train pipeline on the target (`mlopsc run --pipeline train` for local).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.emit import json_text, yaml_text

from . import tags
from .base import OutputFile, note

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

KNOWN_TARGETS = ("kubeflow", "local", "sagemaker", "vertex")
NO_DATA_TRIGGER = {
    "kubeflow": "KFP has no data-arrival trigger (only recurring runs)",
    "vertex": "Vertex AI pipelines start from no storage event (an Eventarc trigger needs a Cloud Run or "
              "Workflows receiver mlopsc does not generate)",
    "local": "nothing watches the local data files",
}


def check(target: str, project: ir.Project) -> list[Diagnostic]:
    t = project.triggers
    if t is None or t.data != "retrain" or target not in KNOWN_TARGETS:
        return []
    if target == "sagemaker":
        others = [d.name for d in s3_datasets(project, want_s3=False)]
        if not others:
            return []
        return [note(target, t.span, "`triggers.data: retrain` watches S3 datasets only; "
                                     f"{', '.join(others)} start no run when they change")]
    return [note(target, t.span, f"`triggers.data: retrain` is not compiled: {NO_DATA_TRIGGER[target]}; "
                                 "set `triggers.schedule` to retrain on new data periodically")]


def files(target: str, project: ir.Project) -> list[OutputFile]:
    t = project.triggers
    if t is None or target not in KNOWN_TARGETS or not project.training:
        return []
    out = []
    if t.data == "retrain" and target == "sagemaker" and s3_datasets(project):
        template = tags.tag_resources(data_trigger_template(project), tags.aws_tags(project), tags.AWS_TAGGABLE)
        out.append(OutputFile("cloudformation/data-trigger.json", json_text(template)))
    if t.code == "retrain":
        out.append(OutputFile("ci/train-on-code-change.yaml", yaml_text(code_workflow(target, project))))
    return out


def s3_datasets(project: ir.Project, want_s3: bool = True) -> list[ir.Dataset]:
    datasets = project.data.datasets if project.data else ()
    return [d for d in datasets if d.uri.startswith("s3://") == want_s3]


def data_trigger_template(project: ir.Project) -> dict[str, Any]:
    from mlopsc.targets.sagemaker.expressions import logical_id, pipeline_name

    name = pipeline_name(project.name, "train")
    resources, seen = {}, set()
    for ds in s3_datasets(project):
        bucket, _, key = ds.uri[len("s3://"):].partition("/")  # a file's key, or a folder's prefix
        if (bucket, key) in seen:
            continue
        seen.add((bucket, key))
        key_filter = [{"prefix": key}]
        resources[logical_id(ds.name, "data", "trigger")] = {"Type": "AWS::Events::Rule", "Properties": {
            "Description": f"start {name} when {ds.name} changes ({ds.uri})",
            "State": "ENABLED",
            "EventPattern": {"source": ["aws.s3"], "detail-type": ["Object Created"],
                             "detail": {"bucket": {"name": [bucket]}, "object": {"key": key_filter}}},
            "Targets": [{
                "Id": "train-pipeline",
                "Arn": {"Fn::Sub": f"arn:${{AWS::Partition}}:sagemaker:${{AWS::Region}}:${{AWS::AccountId}}:"
                                   f"pipeline/{name}"},
                "RoleArn": {"Ref": "EventsRoleArn"},
                "SageMakerPipelineParameters": {"PipelineParameterList": [
                    {"Name": "image", "Value": {"Ref": "ImageUri"}}]},
            }],
        }}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"mlopsc: EventBridge rules that start the {project.name} train pipeline when its "
                       f"data changes (triggers.data: retrain); generated from {PurePosixPath(project.spec_path).name}, "
                       "do not edit. The buckets must send events to EventBridge.",
        "Parameters": {
            "EventsRoleArn": {"Type": "String",
                              "Description": "role EventBridge assumes (sagemaker:StartPipelineExecution)"},
            "ImageUri": {"Type": "String", "Description": "image the triggered runs use (tag or digest)"},
        },
        "Resources": resources,
    }


def code_paths(project: ir.Project) -> list[str]:
    """What a push must touch to retrain: the spec, the training entrypoint, the transforms."""
    base = PurePosixPath(project.spec_path).parent
    files = {PurePosixPath(project.spec_path).as_posix()}
    entries = [project.training.entrypoint] + [v.transform for v in (project.features.views if project.features
                                                                     else ()) if v.transform]
    for entry in entries:
        files.add((base / entry.partition(":")[0]).as_posix())
    return sorted(files)


def code_workflow(target: str, project: ir.Project) -> dict[str, Any]:
    from mlopsc.init import ACTIONS

    spec = PurePosixPath(project.spec_path).as_posix()
    if target == "local":
        commands = [{"name": "Run the train pipeline", "run": f"mlopsc run {spec} --pipeline train"}]
    else:
        commands = [{"name": "Build and push the step image", "run": f"mlopsc build {spec} --target {target} --push"},
                    {"name": "Start the train pipeline", "run": f"mlopsc submit {spec} --target {target}"}]
    checkout, python = ACTIONS["checkout"], ACTIONS["setup_python"]
    steps = [{"uses": f"actions/checkout@{checkout['sha']}", "with": {"persist-credentials": False}},
             {"uses": f"actions/setup-python@{python['sha']}", "with": {"python-version": "3.11"}},
             {"name": "Install mlopsc", "run": "python -m pip install mlopsc"}, *commands]
    return {
        "name": f"{project.name}: train on code change ({target})",
        "on": {"push": {"branches": ["main", "master"], "paths": code_paths(project)}},
        "permissions": {"contents": "read", "id-token": "write"},  # id-token: the cloud's OIDC login
        "concurrency": {"group": f"train-{project.name}-{target}", "cancel-in-progress": False},
        "jobs": {"train": {"name": "train on code change", "runs-on": "ubuntu-24.04", "timeout-minutes": 60,
                           "steps": steps}},
    }
