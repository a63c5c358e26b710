"""Create or update the compiled pipelines in SageMaker: idempotent, with `endpoint_url` and `dry_run`.

boto3 is imported inside `submit` only, so compiling never needs it.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from mlopsc import ir

from ..tags import aws_tags
from .expressions import pipeline_name, resource_name
from .settings import settings


def with_env_defaults(project: ir.Project, definition: str) -> str:
    """The definition with each `${env:NAME}` parameter defaulting to the submitting environment's
    value, so scheduled executions (which pass no parameters) reach the same tracking server. The
    compiled file keeps an empty default: it holds no machine's settings."""
    import os

    from mlopsc.references import env_refs

    found = {n: os.environ[n] for n in env_refs(project) if os.environ.get(n)}
    if not found:
        return definition
    doc = json.loads(definition)
    for param in doc.get("Parameters", []):
        if param["Name"] in found:
            param["DefaultValue"] = found[param["Name"]]
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def requests(project: ir.Project, compiled_files: dict[str, str]) -> list[dict[str, Any]]:
    """The CreatePipeline/UpdatePipeline request bodies for every compiled `pipelines/<name>.json`."""
    s = settings(project)
    out = []
    for path in sorted(compiled_files):
        if not (path.startswith("pipelines/") and path.endswith(".json")):
            continue
        name = path.removeprefix("pipelines/").removesuffix(".json")
        pipeline = project.pipeline(name)
        out.append({
            "PipelineName": pipeline_name(project.name, name),
            "PipelineDisplayName": pipeline_name(project.name, name),
            "PipelineDescription": (pipeline.description if pipeline else name)[:3072],
            "PipelineDefinition": with_env_defaults(project, compiled_files[path]),
            "RoleArn": s.role,
            "Tags": aws_tags(project),
        })
    return out


def submit(project: ir.Project, compiled_files: dict[str, str], endpoint_url: str | None = None,
           dry_run: bool = False, region: str | None = None, out: TextIO | None = None,
           client: Any = None) -> list[dict[str, str]]:
    """Upsert every pipeline (and the model package group the train pipeline registers into).

    Returns one `{"pipeline", "action", "arn"}` per pipeline; `action` is created, updated,
    unchanged (the stored definition already equals the compiled one) or dry-run.
    """
    out = out or sys.stdout
    bodies = requests(project, compiled_files)
    group = resource_name(project.registry.model)
    if dry_run:
        for body in bodies:
            out.write(json.dumps({"operation": "CreatePipeline|UpdatePipeline", "request": body},
                                 indent=2, sort_keys=True) + "\n")
        return [{"pipeline": b["PipelineName"], "action": "dry-run", "arn": ""} for b in bodies]

    if client is None:
        import boto3  # only here: compiling never imports boto3

        client = boto3.client("sagemaker", region_name=region or settings(project).region, endpoint_url=endpoint_url)
    _ensure_group(client, group, project)
    results = []
    for body in bodies:
        action, arn = _upsert(client, body)
        out.write(f"{action}: {body['PipelineName']} {arn}\n")
        results.append({"pipeline": body["PipelineName"], "action": action, "arn": arn})
    return results


def _is_missing(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    text = str(exc)
    return code in ("ResourceNotFound", "ResourceNotFoundException", "ValidationException") and (
        "does not exist" in text or "not found" in text.lower() or "could not find" in text.lower() or code.startswith("ResourceNotFound"))


def _upsert(client: Any, body: dict[str, Any]) -> tuple[str, str]:
    try:
        current = client.describe_pipeline(PipelineName=body["PipelineName"])
    except Exception as exc:  # botocore.exceptions.ClientError; botocore is not imported here
        if not _is_missing(exc):
            raise
        arn = client.create_pipeline(**body, ClientRequestToken=_token(body))["PipelineArn"]
        return "created", arn
    if current.get("PipelineDefinition") == body["PipelineDefinition"] and current.get("RoleArn") == body["RoleArn"]:
        return "unchanged", current["PipelineArn"]
    update = {k: v for k, v in body.items() if k != "Tags"}
    arn = client.update_pipeline(**update)["PipelineArn"]
    return "updated", arn


def _ensure_group(client: Any, group: str, project: ir.Project) -> None:
    try:
        client.describe_model_package_group(ModelPackageGroupName=group)
    except Exception as exc:
        if not _is_missing(exc):
            raise
        client.create_model_package_group(ModelPackageGroupName=group,
                                          ModelPackageGroupDescription=f"{project.registry.model} (mlopsc)")


def _token(body: dict[str, Any]) -> str:
    """A ClientRequestToken (32-128 chars) from the request itself, so a retried create is idempotent."""
    import hashlib

    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
