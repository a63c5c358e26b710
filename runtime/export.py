"""The Vertex deploy pipeline's own actions: `export_model` and `prepare_endpoint`.

`export_model` resolves the registry version once (`latest` -> the newest registered version)
and writes a reference to it: `{"model", "version", "model_uri", "image"}`, with the serving
container in the artifact's KFP metadata (`containerSpec`, what GCPC's model upload reads from a
`google.UnmanagedContainerModel`). `model_uri` is MLflow's download URI of the version: the
model directory in the tracking server's artifact store.

`prepare_endpoint` (create or read the environment's endpoint, compute the first traffic split)
is the platform's (`runtime/platforms`): on Vertex it stops with a clear message until cloud
rollout is implemented in the runtime, like the deploy step on Kubeflow and Vertex.
"""

from __future__ import annotations

from mlopsc.runtime import platforms
from mlopsc.runtime.platforms.mlflow_registry import resolve_version
from mlopsc.runtime.steps import StepContext, StepFailed, write_json

HEALTH_ROUTE, PREDICT_ROUTE = "/health", "/predict"  # the routes `mlopsc serve` answers
# what KServe's storage initializer downloads into /mnt/models (it cannot read MLflow's proxied
# `mlflow-artifacts:` store, nor a path on the tracking server's disk)
KSERVE_SCHEMES = ("s3://", "gs://", "pvc://", "hdfs://", "webhdfs://", "https://", "http://", "hf://", "oci://")


def export_model(ctx: StepContext) -> dict:
    model = ctx.args.get("model") or ctx.project.registry.model
    tracker = platforms.current(ctx).tracker(ctx)
    version = resolve_version(tracker, model, ctx.inputs.get("model_version"))
    model_uri = tracker.client.get_model_version_download_uri(model, version)
    image = ctx.inputs.get("image", "")
    write_json(ctx.output("model"), {"model": model, "version": version, "model_uri": model_uri, "image": image})
    ctx.artifact_metadata["model"] = {"containerSpec": {
        "imageUri": image, "healthRoute": HEALTH_ROUTE, "predictRoute": PREDICT_ROUTE}}
    ctx.log(f"model {model} version {version}: {model_uri}")
    return {"model": model, "version": version, "model_uri": model_uri}


def kserve_storage_uri(tracker, model: str, version: str) -> str:
    """The registered version's MLflow model directory (MLmodel, the flavor's files, the feature
    transform pickled by value with the user's code) as KServe's `storageUri`: the version's own
    artifact location in the tracking server's object store, which KServe mounts at /mnt/models."""
    uri = tracker.client.get_model_version_download_uri(model, version)
    if not str(uri).startswith(KSERVE_SCHEMES):
        raise StepFailed(f"version {version} of {model} is stored at {uri}, which KServe cannot download: run the "
                         "MLflow server with an object-store artifact root (--default-artifact-root s3://... or "
                         "gs://... and --no-serve-artifacts) so model versions have a URI KServe reads")
    return str(uri)


def prepare_endpoint(ctx: StepContext) -> dict:
    name = ctx.args.get("environment")
    dep = ctx.project.deployment
    env = next((e for e in (dep.environments if dep else ()) if e.name == name), None)
    if env is None:
        raise StepFailed(f"the spec has no deployment environment {name!r}")
    return platforms.current(ctx).prepare_endpoint(ctx, env, ctx.args.get("model") or ctx.project.registry.model)
