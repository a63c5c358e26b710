"""Model versions and approval in the MLflow registry (the local platform's, and the cloud
platforms' that keep their models in MLflow)."""

from __future__ import annotations

from typing import Any

from mlopsc.runtime.steps import StepContext, StepFailed


def resolve_version(tracker: Any, model: str, requested: str | None) -> str:
    """`latest` (or empty): the newest registered version; otherwise the number given."""
    from mlflow.exceptions import MlflowException

    try:
        versions = tracker.client.search_model_versions(f"name='{model}'")
    except MlflowException:
        versions = []
    if not requested or requested == "latest":
        if not versions:
            raise StepFailed(f"model {model!r} has no registered version to deploy (run the train pipeline first)")
        return str(max(int(v.version) for v in versions))
    if not any(str(v.version) == str(requested) for v in versions):
        raise StepFailed(f"model {model!r} has no version {requested}")
    return str(requested)


def already_approved(ctx: StepContext, tracker: Any, model: str, version: str) -> bool:
    mv = tracker.client.get_model_version(model, version)
    if mv.tags.get("mlopsc.approval") != "approved":
        return False
    ctx.log(f"version {version} of {model} is already approved (by {mv.tags.get('mlopsc.approved_by', '?')})")
    return True


def require_approved(tracker: Any, model: str, version: str, environment: str) -> None:
    """An environment that requires approval refuses a version that is neither approved nor exempt."""
    tags = tracker.client.get_model_version(model, version).tags
    if tags.get("mlopsc.approval") not in ("approved", "not_required"):
        raise StepFailed(f"version {version} of {model} is not approved for {environment}")


def approve_by_alias(ctx: StepContext, tracker: Any, model: str, environment: str) -> dict:
    """Unattended pipelines: a person approves by pointing the registry alias
    `approved-<environment>` at the version; the step records it, or stops saying how."""
    version = resolve_version(tracker, model, ctx.inputs.get("model_version"))
    if already_approved(ctx, tracker, model, version):
        return {"version": version, "approved": True}
    found = tracker.version_for_alias(model, f"approved-{environment}")
    if found is not None and str(found.version) == version:
        tracker.approve(model, version, approver=f"alias approved-{environment}")
        return {"version": version, "approved": True}
    raise StepFailed(f"version {version} of {model} is waiting for approval for {environment}: set the registry "
                     f"alias approved-{environment} to version {version}, then rerun the deploy pipeline")
