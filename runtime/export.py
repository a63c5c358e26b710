"""The Vertex deploy pipeline's own actions: `export_model` and `prepare_endpoint`.

`export_model` resolves the registry version once (`latest` -> the newest registered version)
and writes a reference to it: `{"model", "version", "model_uri", "image"}`, with the serving
container in the artifact's KFP metadata (`containerSpec`, what GCPC's model upload reads from a
`google.UnmanagedContainerModel`). `model_uri` is MLflow's download URI of the version: the
model directory in the tracking server's artifact store.

`prepare_endpoint` (create or read the environment's endpoint, compute the first traffic split)
needs the Vertex API inside the run; it stops with a clear message until cloud rollout is
implemented in the runtime, like the rollout step on Kubeflow and Vertex.
"""

from __future__ import annotations

from mlopsc.runtime.steps import StepContext, StepFailed, step_tracker, write_json

HEALTH_ROUTE, PREDICT_ROUTE = "/health", "/predict"  # the routes `mlopsc serve` answers


def export_model(ctx: StepContext) -> dict:
    from mlopsc.runtime.deploy import resolve_version

    model = ctx.args.get("model") or ctx.project.registry.model
    tracker = step_tracker(ctx)
    version = resolve_version(tracker, model, ctx.inputs.get("model_version"))
    model_uri = tracker.client.get_model_version_download_uri(model, version)
    image = ctx.inputs.get("image", "")
    write_json(ctx.output("model"), {"model": model, "version": version, "model_uri": model_uri, "image": image})
    ctx.artifact_metadata["model"] = {"containerSpec": {
        "imageUri": image, "healthRoute": HEALTH_ROUTE, "predictRoute": PREDICT_ROUTE}}
    ctx.log(f"model {model} version {version}: {model_uri}")
    return {"model": model, "version": version, "model_uri": model_uri}


def prepare_endpoint(ctx: StepContext) -> dict:
    raise StepFailed(f"preparing the {ctx.args.get('environment', '')!r} endpoint on the {ctx.target} target "
                     "(create it, read and split its traffic) is not implemented in the mlopsc runtime yet: "
                     "only a local run and SageMaker deploy")
