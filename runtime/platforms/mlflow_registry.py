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
    `approved-<environment>` at the version (or rejects by tagging it `mlopsc.approval=rejected`);
    the step says how once, then polls the registry until a decision or the spec's timeout."""
    from mlopsc.runtime.platforms.approval_wait import timeout_seconds, wait_for_decision

    version = resolve_version(tracker, model, ctx.inputs.get("model_version"))
    if already_approved(ctx, tracker, model, version):
        return {"version": version, "approved": True}
    approver = wait_for_decision(
        ctx, lambda: alias_decision(tracker, model, version, environment),
        what=f"version {version} of {model}", environment=environment,
        how=how_to_approve(tracker, model, version, environment), timeout_s=timeout_seconds(ctx.project))
    tracker.approve(model, version, approver=approver)
    ctx.log(f"approved version {version} of {model} for {environment} ({approver})")
    return {"version": version, "approved": True}


def alias_decision(tracker: Any, model: str, version: str, environment: str) -> tuple[str | None, str]:
    """(approved | rejected | None, who or why) from the version's tags and the approval alias."""
    tags = tracker.client.get_model_version(model, version).tags
    state = tags.get("mlopsc.approval")
    if state == "approved":
        return "approved", tags.get("mlopsc.approved_by", "tag mlopsc.approval")
    if state == "rejected":
        return "rejected", tags.get("mlopsc.rejected_by", "tag mlopsc.approval=rejected")
    found = tracker.version_for_alias(model, f"approved-{environment}")
    if found is not None and str(found.version) == version:
        return "approved", f"alias approved-{environment}"
    return None, ""


def how_to_approve(tracker: Any, model: str, version: str, environment: str) -> str:
    """The exact MLflow calls that approve or reject the version, against this tracking server."""
    uri = getattr(tracker, "tracking_uri", None) or "$MLFLOW_TRACKING_URI"
    client = f"mlflow.MlflowClient({uri!r})"
    return (f"approve with `python -c \"import mlflow; {client}.set_registered_model_alias({model!r}, "
            f"'approved-{environment}', {version!r})\"`; reject with `python -c \"import mlflow; "
            f"{client}.set_model_version_tag({model!r}, {version!r}, 'mlopsc.approval', 'rejected')\"`")
