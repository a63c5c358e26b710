"""The Vertex rollout step: upload the exported model, deploy it to the environment's endpoint and
walk the endpoint's traffic split, rolling back to the previous split when a rule trips.

1. The Model: the export step's directory (`artifactUri`) with the compiled serving container
   (`containerSpec`, image from the export step). A Model of the same registry version uploaded
   before (labels `mlopsc-model`, `mlopsc-version`) is reused, so a staging and a production
   deploy, or a rerun, upload it once.
2. The endpoint's split before the deploy is the one to restore (`previous`). DeployModel puts the
   new model at the strategy's first percent (canary: its first step, blue/green: 0, A/B: the
   challenger share, direct or an endpoint with nothing deployed: 100).
3. Each step waits the strategy's interval (`MLOPSC_VERTEX_STEP_SECONDS` overrides it), then
   reads the new deployed model's error rate and p99 latency from Cloud Monitoring's PromQL API
   (`vertex_metrics`) and checks the rollback rules (`rollout.breached_rule`).
4. Promoted: 100% to the new model, the models it replaced undeployed. A tripped rule, or metrics
   that cannot be read: the previous split restored, the new model undeployed, and the step fails
   saying which rule tripped. A deploy that fails or never finishes changes no traffic: the step
   fails saying so, the previous split still serving.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from mlopsc import ir
from mlopsc.runtime.platforms import vertex_api as api
from mlopsc.runtime.platforms import vertex_metrics
from mlopsc.runtime.rollout import breached_rule
from mlopsc.runtime.steps import StepContext, StepFailed


def exported_model(ctx: StepContext) -> dict:
    """The export step's `{"model", "version", "model_uri", "image"}` (the `model` input artifact)."""
    ref = ctx.inputs.get("model")
    if not ref:
        raise StepFailed("the vertex rollout step needs the export step's model (input `model`)")
    path = Path(ref)
    try:
        found = json.loads(path.read_text() if path.is_file() else ref)
    except (OSError, ValueError) as e:
        raise StepFailed(f"cannot read the exported model reference {ref}: {e}") from None
    if not found.get("model_uri") or not found.get("image"):
        raise StepFailed(f"the exported model reference has no model_uri or image: {found}")
    if not str(found["model_uri"]).startswith("gs://"):
        raise StepFailed(f"the exported model is at {found['model_uri']}, not in Cloud Storage: a Vertex Model's "
                         "artifactUri must be a gs:// directory (give the tracking server a gs:// artifact store)")
    return found


def schedule(strategy: ir.Strategy, has_champion: bool) -> tuple[int, tuple[int, ...]]:
    """(the new model's percent at deploy time, the percents walked after it)."""
    if not has_champion or strategy.type == "direct":
        return 100, ()
    if strategy.type == "canary":
        return strategy.steps[0], tuple(strategy.steps[1:])
    if strategy.type == "blue_green":
        return 0, (100,)
    if strategy.type == "ab_test":
        return round((strategy.split or 0.5) * 100), ()
    raise StepFailed(f"a {strategy.type} rollout is not walked by the vertex rollout step: Vertex endpoints "
                     "cannot mirror traffic")


def step_seconds(strategy: ir.Strategy) -> float:
    override = os.environ.get("MLOPSC_VERTEX_STEP_SECONDS")
    if override:
        return float(override)
    if strategy.type == "ab_test" and strategy.duration_seconds:
        return float(strategy.duration_seconds)
    return float(strategy.interval_seconds)


@api.api_errors("vertex model upload")
def upload(ctx: StepContext, where: api.Where, exported: dict) -> str:
    """The Model resource of this registry version: reused when uploaded before, else uploaded."""
    from google.cloud.aiplatform_v1 import types

    models = api.client("model", where.region)
    labels = {**json.loads(ctx.args.get("model_labels") or "{}"), "mlopsc-version": str(exported["version"])}
    wanted = f'labels.mlopsc-model="{labels.get("mlopsc-model", exported["model"])}" AND ' \
             f'labels.mlopsc-version="{labels["mlopsc-version"]}"'
    for found in models.list_models(request=types.ListModelsRequest(parent=where.parent, filter=wanted)):
        ctx.log(f"reusing {found.name} (version {exported['version']} was uploaded before)")
        return found.name
    container = {**json.loads(ctx.args.get("serving_container") or "{}"), "imageUri": exported["image"]}
    model = types.Model(display_name=exported["model"], artifact_uri=exported["model_uri"], labels=labels,
                        container_spec=types.ModelContainerSpec.from_json(json.dumps(container)))
    op = models.upload_model(request=types.UploadModelRequest(parent=where.parent, model=model))
    name = api.wait(op, f"uploading {exported['model_uri']}").model
    ctx.log(f"uploaded {name} from {exported['model_uri']}")
    return name


def deployed_model(ctx: StepContext, model_name: str):
    from google.cloud.aiplatform_v1 import types

    def arg(key: str, default: str | None = None) -> str | None:
        return ctx.args.get(key) or default

    spec = types.MachineSpec(machine_type=arg("machine_type", "n1-standard-2"))
    if arg("accelerator_type"):
        spec.accelerator_type = arg("accelerator_type")
        spec.accelerator_count = int(arg("accelerator_count", "1"))
    return types.DeployedModel(
        model=model_name, display_name=arg("deployed_model_display_name") or model_name.rsplit("/", 1)[-1],
        enable_access_logging=True,
        dedicated_resources=types.DedicatedResources(machine_spec=spec, min_replica_count=int(arg("min_replicas", "1")),
                                                     max_replica_count=int(arg("max_replicas", "1"))))


@api.api_errors("vertex endpoint")
def current_split(where: api.Where) -> dict[str, int]:
    return {k: int(v) for k, v in api.client("endpoint", where.region).get_endpoint(name=where.endpoint)
            .traffic_split.items()}


def deploy_new(ctx: StepContext, where: api.Where, model_name: str, first: int, previous: dict[str, int],
               env: str) -> str:
    """DeployModel with the new model at `first` percent; its deployed model id."""
    from google.cloud.aiplatform_v1 import types

    split = api.split_with(previous, api.NEW_MODEL, first)
    request = types.DeployModelRequest(endpoint=where.endpoint, deployed_model=deployed_model(ctx, model_name),
                                       traffic_split=split)
    what = f"{env}: deploying {model_name} to {where.endpoint}"
    try:
        op = api.client("endpoint", where.region).deploy_model(request=request)
        deployed = api.wait(op, what).deployed_model
    except StepFailed as e:
        raise StepFailed(f"{e}; the previous split ({api.describe_split(previous)}) still serves") from None
    except Exception as e:  # noqa: BLE001 - the API's errors, as one line naming the environment
        raise StepFailed(f"{what} failed: {api.one_line(e)}; the previous split "
                         f"({api.describe_split(previous)}) still serves") from None
    ctx.log(f"deployed {deployed.id} at {first}% of {where.endpoint_id}")
    return deployed.id


@api.api_errors("vertex traffic split")
def set_split(where: api.Where, split: dict[str, int]) -> None:
    from google.cloud.aiplatform_v1 import types
    from google.protobuf import field_mask_pb2

    api.client("endpoint", where.region).update_endpoint(request=types.UpdateEndpointRequest(
        endpoint=types.Endpoint(name=where.endpoint, traffic_split=split),
        update_mask=field_mask_pb2.FieldMask(paths=["traffic_split"])))


@api.api_errors("vertex undeploy")
def undeploy(where: api.Where, deployed_id: str, split: dict[str, int]) -> None:
    """Undeploy `deployed_id`, leaving `split` (which must not name it) serving."""
    from google.cloud.aiplatform_v1 import types

    op = api.client("endpoint", where.region).undeploy_model(request=types.UndeployModelRequest(
        endpoint=where.endpoint, deployed_model_id=deployed_id, traffic_split=split))
    api.wait(op, f"undeploying {deployed_id} from {where.endpoint}")


def check(where: api.Where, env: ir.Environment, deployed_id: str, window_s: float) -> str | None:
    """The tripped rule's description, or None; metrics that cannot be read are StepFailed."""
    if env.rollback is None:
        return None
    error_rate, p99_ms = vertex_metrics.read(where, deployed_id, window_s)
    return breached_rule(env.rollback, error_rate, p99_ms)


def walk(ctx: StepContext, env: ir.Environment, where: api.Where, deployed_id: str,
         previous: dict[str, int], first: int, steps: tuple[int, ...]) -> list[dict]:
    """Check the first percent, then each later one; roll back and fail on a breach."""
    history, seconds = [], step_seconds(env.strategy)
    for i, percent in enumerate((first, *steps)):
        if i:
            set_split(where, api.split_with(previous, deployed_id, percent))
        if percent == 0:
            continue  # blue/green's idle green: no traffic to judge
        ctx.log(f"{env.name}: {deployed_id} at {percent}%, checking the rollback rules in {seconds:g} s")
        time.sleep(seconds)
        try:
            tripped = check(where, env, deployed_id, seconds)
        except StepFailed as e:
            tripped, unreadable = None, str(e)
        else:
            unreadable = None
        history.append({"percent": percent, "tripped": tripped, "metrics_error": unreadable})
        if tripped or unreadable:
            undeploy(where, deployed_id, previous)
            why = f"rule tripped: {tripped}" if tripped else f"cannot read the metrics: {unreadable}"
            raise StepFailed(f"{env.name}: rolled back {deployed_id} at {percent}% ({why}); the previous split "
                             f"({api.describe_split(previous)}) serves again")
    return history


def deploy(ctx: StepContext, env: ir.Environment, model: str) -> dict:
    """Every failure is one line that starts with the environment's name."""
    try:
        return deploy_and_walk(ctx, env)
    except StepFailed as e:
        if str(e).startswith(f"{env.name}: "):
            raise
        raise StepFailed(f"{env.name}: {e}") from None


def deploy_and_walk(ctx: StepContext, env: ir.Environment) -> dict:
    where = api.Where.from_ctx(ctx)
    exported = exported_model(ctx)
    previous = current_split(where)
    first, steps = schedule(env.strategy, bool(previous))
    model_name = upload(ctx, where, exported)
    deployed_id = deploy_new(ctx, where, model_name, first, previous, env.name)
    history = walk(ctx, env, where, deployed_id, previous, first, steps) if previous else []
    state = "completed" if env.strategy.type == "ab_test" else "promoted"
    if state == "promoted":
        set_split(where, {deployed_id: 100})
        for old in sorted(previous):
            undeploy(where, old, {deployed_id: 100})
    ctx.log(f"{env.name}: {deployed_id} (version {exported['version']}) {state} on {where.endpoint}")
    return {"endpoint": where.endpoint, "version": str(exported["version"]), "state": state,
            "deployed_model_id": deployed_id, "model": model_name, "previous_split": previous, "history": history}
