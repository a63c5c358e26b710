"""Vertex AI at run time: tracking, data and alerts as every platform; approval through the
MLflow registry alias `approved-<environment>`; the deploy pipeline's endpoint, rollout and
endpoint tests through aiplatform's API (`vertex_api`).

- `prepare_endpoint`: the environment's endpoint by the id mlopsc chose (created when missing,
  with its display name, labels and, for shadow, request-response logging); outputs the
  endpoint (a `google.VertexEndpoint` artifact), its current split (`previous_split`) and the
  first split of the new model (`traffic_split`).
- `deploy` / `rollout`: `vertex_rollout` (upload, deploy, walk the split, roll back).
- `smoke_test`: the endpoint has a deployed model and a split, and `predict` returns one
  prediction per instance. `load_test`: the local load test's pacing and rules over `predict`.
  Their `endpoint` input is the endpoint's resource name (the rollout step's output).
"""

from __future__ import annotations

import json

from mlopsc import ir
from mlopsc.runtime.platforms import base
from mlopsc.runtime.platforms import vertex_api as api
from mlopsc.runtime.steps import StepContext, StepFailed, write_json


class Platform(base.Platform):
    name = "vertex"

    def approve(self, ctx: StepContext, model: str, environment: str) -> dict:
        from mlopsc.runtime.platforms.mlflow_registry import approve_by_alias

        return approve_by_alias(ctx, self.tracker(ctx), model, environment)

    def prepare_endpoint(self, ctx: StepContext, env: ir.Environment, model: str) -> dict:
        return prepare_endpoint(ctx, env)

    def deploy(self, ctx: StepContext, env: ir.Environment, model: str) -> dict:
        from mlopsc.runtime.platforms.vertex_rollout import deploy

        return deploy(ctx, env, model)

    def smoke_test(self, ctx: StepContext, endpoint: str, instances: list[dict]) -> dict:
        return smoke_test(ctx, endpoint, instances)

    def load_test(self, ctx: StepContext, endpoint: str, instances: list[dict], *, rps: float,
                  duration_s: float, max_p95_ms: float | None) -> dict:
        return load_test(ctx, endpoint, instances, rps=rps, duration_s=duration_s, max_p95_ms=max_p95_ms)


def endpoint_to_create(ctx: StepContext, where: api.Where):
    from google.cloud.aiplatform_v1 import types

    endpoint = types.Endpoint(display_name=ctx.args.get("endpoint_display_name") or where.endpoint_id,
                              labels=json.loads(ctx.args.get("endpoint_labels") or "{}"))
    logging = request_logging_config(ctx)
    if logging is not None:
        endpoint.predict_request_response_logging_config = logging
    return endpoint


def request_logging_config(ctx: StepContext):
    """The compiled request-response logging (`request_logging_*` args), or None."""
    from google.cloud.aiplatform_v1 import types

    if not ctx.args.get("request_logging_bigquery"):
        return None
    return types.PredictRequestResponseLoggingConfig(
        enabled=True, sampling_rate=float(ctx.args.get("request_logging_sampling_rate") or 1.0),
        bigquery_destination=types.BigQueryDestination(output_uri=ctx.args["request_logging_bigquery"]))


def with_request_logging(ctx: StepContext, endpoints, endpoint):
    """An existing endpoint with the request-response logging the spec asks for (the monitored
    environment's captures, a shadow's sample): updated when it differs, else as it is."""
    from google.protobuf import field_mask_pb2

    wanted = request_logging_config(ctx)
    have = endpoint.predict_request_response_logging_config
    if wanted is None or (have.enabled and have.sampling_rate == wanted.sampling_rate
                              and have.bigquery_destination.output_uri == wanted.bigquery_destination.output_uri):
        return endpoint
    endpoint.predict_request_response_logging_config = wanted
    updated = endpoints.update_endpoint(
        endpoint=endpoint, update_mask=field_mask_pb2.FieldMask(paths=["predict_request_response_logging_config"]))
    ctx.log(f"request-response logging of {endpoint.name}: sampling rate {wanted.sampling_rate:g} into "
            f"{wanted.bigquery_destination.output_uri}")
    return updated


@api.api_errors("vertex endpoint")
def ensure_endpoint(ctx: StepContext, where: api.Where):
    """The endpoint, created (and waited for) when it does not exist yet."""
    from google.api_core import exceptions
    from google.cloud.aiplatform_v1 import types

    endpoints = api.client("endpoint", where.region)
    try:
        return with_request_logging(ctx, endpoints, endpoints.get_endpoint(name=where.endpoint))
    except exceptions.NotFound:
        pass
    op = endpoints.create_endpoint(request=types.CreateEndpointRequest(
        parent=where.parent, endpoint_id=where.endpoint_id, endpoint=endpoint_to_create(ctx, where)))
    created = api.wait(op, f"creating endpoint {where.endpoint}")
    ctx.log(f"created endpoint {created.name}")
    return created


def prepare_endpoint(ctx: StepContext, env: ir.Environment) -> dict:
    where = api.Where.from_ctx(ctx)
    endpoint = ensure_endpoint(ctx, where)
    previous = {k: int(v) for k, v in endpoint.traffic_split.items()}
    first = api.split_with(previous, api.NEW_MODEL, int(ctx.args.get("traffic_percent") or 100))
    uri = f"https://{api.api_endpoint(where.region).removeprefix('https://')}/v1/{endpoint.name}"
    ctx.artifact_metadata["endpoint"] = {"resourceName": endpoint.name}
    for name, value in (("endpoint", {"resourceName": endpoint.name, "uri": uri}),
                        ("previous_split", previous), ("traffic_split", first)):
        if name in ctx.outputs:
            write_json(ctx.output(name), value)
    ctx.log(f"{env.name}: endpoint {endpoint.name}, serving {api.describe_split(previous)}")
    return {"endpoint": endpoint.name, "previous_split": previous, "traffic_split": first}


# ---------------------------------------------------------------- calling the endpoint


def predict(endpoint: str, region: str, instances: list) -> tuple[bool, str | None]:
    """`predict` with the instances: (one prediction per instance, what went wrong)."""
    from google.api_core import exceptions
    from google.protobuf import json_format, struct_pb2

    values = [json_format.ParseDict(i, struct_pb2.Value()) for i in instances]
    try:
        response = api.client("prediction", region).predict(endpoint=endpoint, instances=values)
    except exceptions.GoogleAPICallError as e:
        return False, api.one_line(e)
    n = len(response.predictions)
    return n == len(instances), None if n == len(instances) else f"expected {len(instances)} predictions, got {n}"


@api.api_errors("vertex smoke test")
def smoke_test(ctx: StepContext, endpoint: str, instances: list) -> dict:
    where = api.Where.from_ctx(ctx, endpoint)
    found = api.client("endpoint", where.region).get_endpoint(name=where.endpoint)
    serving = sum(int(v) for v in found.traffic_split.values())
    checks = [{"check": "endpoint", "passed": bool(found.deployed_models) and serving == 100,
               "detail": None if found.deployed_models else f"no model is deployed to {where.endpoint}"}]
    if checks[0]["passed"]:
        ok, detail = predict(where.endpoint, where.region, list(instances))
        checks.append({"check": "predict", "passed": ok, "detail": detail})
    return {"endpoint": where.endpoint, "passed": all(c["passed"] for c in checks), "checks": checks}


def load_test(ctx: StepContext, endpoint: str, instances: list, *, rps: float, duration_s: float,
              max_p95_ms: float | None = None, workers: int = 4) -> dict:
    """The local load test's pacing and rules through `predict`: an API error counts as its HTTP
    status (599 when there is none)."""
    from google.api_core import exceptions
    from google.protobuf import json_format, struct_pb2
    from mlopsc.runtime.traffic import paced

    where = api.Where.from_ctx(ctx, endpoint)
    predictions = api.client("prediction", where.region)

    def client():
        def send(body: bytes) -> int:
            values = [json_format.ParseDict(i, struct_pb2.Value()) for i in json.loads(body)["instances"]]
            try:
                predictions.predict(endpoint=where.endpoint, instances=values, timeout=30)
                return 200
            except exceptions.GoogleAPICallError as e:
                return int(getattr(e, "code", None) or 599)
            except exceptions.GoogleAPIError:
                return 599
        return send

    if not instances:
        raise StepFailed("no instances to send")
    return {"endpoint": where.endpoint, **paced(client, instances, rps=rps, duration_s=duration_s,
                                                 max_p95_ms=max_p95_ms, workers=workers)}
