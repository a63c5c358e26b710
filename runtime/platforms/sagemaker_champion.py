"""After a SageMaker deploy serves: the MLflow registry alias named after the environment.

The train pipeline's evaluation compares a candidate with `evals.baseline` (an environment, e.g.
`production`) through the MLflow alias of that name, on every target. On SageMaker the deployed
thing is a model package; its `model.tar.gz` holds the step's model reference (`model.json`, the
MLflow `model_uri` the train step logged). So a deploy that serves points the alias
`<environment>` at the MLflow version of that model (registering it under the registry model when
the SageMaker train pipeline registered only the package) and keeps the one it replaces as
`previous-<environment>`, as a local rollout does. The version is tagged with the package's ARN.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

from mlopsc import ir
from mlopsc.runtime.steps import StepContext, StepFailed

PACKAGE_TAG = "mlopsc.sagemaker.model_package"


def package_model_ref(aws: Any, package: dict) -> dict:
    """The `model.json` inside the package's `model.tar.gz` on S3."""
    url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    bucket, _, key = url.removeprefix("s3://").partition("/")
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        member = next((m for m in tar.getmembers() if m.name.lstrip("./") == "model.json"), None)
        if member is None:
            raise StepFailed(f"{url} holds no model.json (not a model the mlopsc train step wrote)")
        return json.loads(tar.extractfile(member).read().decode("utf-8"))


def mlflow_version(tracker: Any, model: str, ref: dict, arn: str) -> str:
    """The MLflow version of `model` whose source is the reference's model (created when none is)."""
    from mlflow.exceptions import MlflowException

    try:
        versions = tracker.client.search_model_versions(f"name='{model}'")
    except MlflowException:
        versions = []
    tagged = [v for v in versions if v.tags.get(PACKAGE_TAG) == arn]
    same_run = [v for v in versions if ref.get("run_id") and v.run_id == ref.get("run_id")]
    found = (tagged or same_run or [None])[0]
    if found is None:
        try:
            tracker.client.get_registered_model(model)
        except MlflowException:
            tracker.client.create_registered_model(model)
        found = tracker.client.create_model_version(model, ref["model_uri"], run_id=ref.get("run_id"))
    tracker.client.set_model_version_tag(model, str(found.version), PACKAGE_TAG, arn)
    return str(found.version)


def record_champion(ctx: StepContext, aws: Any, env: ir.Environment, model: str, package: dict) -> str | None:
    """Point the alias `<env>` at the deployed model (and `previous-<env>` at the one it replaced).
    Returns the MLflow version; the deploy itself has succeeded, so a failure here is a warning."""
    from mlopsc.runtime import platforms

    arn = package["ModelPackageArn"]
    try:
        ref = package_model_ref(aws, package)
        tracker = platforms.current(ctx).tracker(ctx)
        version = mlflow_version(tracker, model, ref, arn)
        champion = tracker.version_for_alias(model, env.name)
        if champion is not None and str(champion.version) != version:
            tracker.set_alias(model, f"previous-{env.name}", str(champion.version))
        tracker.set_alias(model, env.name, version)
    except Exception as e:  # S3, MLflow: the endpoint serves; say what the next evaluation lacks
        ctx.log(f"warning: {env.name} serves {arn}, but the MLflow alias {env.name!r} was not set "
                f"({type(e).__name__}: {e}); the next evaluation cannot compare with it")
        return None
    ctx.log(f"MLflow alias {env.name!r} of {model} -> version {version} ({arn})")
    return version
