"""Shadow rollout: a challenger InferenceService and an Istio VirtualService that mirrors to it.

No Istio CRD ships in /work/shared/reference, so the VirtualService is checked against a JSON
Schema WRITTEN HERE BY HAND from the field names and types of Istio's published API reference
(networking.istio.io/v1 VirtualService, HTTPRoute, HTTPRouteDestination, Destination,
PortSelector, Percent). It covers what we emit (hosts, gateways, http[].name,
http[].route[].destination.host/port.number, weight, mirror, mirrorPercentage.value) and rejects
unknown fields there; it is our reading of the reference, not Istio's own validation. The
challenger InferenceService is checked against the real KServe CRD like the other manifests.
"""

import copy

import jsonschema
import pytest
import yaml
from mlopsc.targets.kubeflow import kserve, shadow
from test_kserve import _validate

_DESTINATION = {
    "type": "object", "required": ["host"], "additionalProperties": False,
    "properties": {
        "host": {"type": "string", "minLength": 1},
        "subset": {"type": "string"},
        "port": {"type": "object", "additionalProperties": False,
                 "properties": {"number": {"type": "integer", "minimum": 0, "maximum": 4294967295}}},
    },
}
_HTTP_ROUTE_FIELDS = {  # every HTTPRoute field in the reference; the ones we emit get real schemas
    "name": {"type": "string"},
    "route": {"type": "array", "items": {
        "type": "object", "required": ["destination"], "additionalProperties": False,
        "properties": {"destination": _DESTINATION, "weight": {"type": "integer", "minimum": 0, "maximum": 100},
                       "headers": {"type": "object"}}}},
    "mirror": _DESTINATION,
    "mirrorPercentage": {"type": "object", "additionalProperties": False, "required": ["value"],
                         "properties": {"value": {"type": "number", "minimum": 0, "maximum": 100}}},
    **{f: {} for f in ("match", "redirect", "directResponse", "delegate", "rewrite", "timeout", "retries",
                       "fault", "mirrors", "corsPolicy", "headers")},
}
VIRTUAL_SERVICE = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "networking.istio.io/v1"},
        "kind": {"const": "VirtualService"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "hosts": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "gateways": {"type": "array", "items": {"type": "string"}},
                "exportTo": {"type": "array", "items": {"type": "string"}},
                "http": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                                    "properties": _HTTP_ROUTE_FIELDS}},
                "tls": {"type": "array"}, "tcp": {"type": "array"},
            },
        },
    },
}


@pytest.fixture
def production(projects):
    sa = projects["support-assistant"]
    env = sa.deployment.environments[-1]
    assert env.strategy.type == "shadow"
    return sa, env


def test_virtual_service_matches_istio_fields(production):
    sa, env = production
    vs = yaml.safe_load(yaml.safe_dump(shadow.virtual_service(sa, env)))
    jsonschema.Draft7Validator(VIRTUAL_SERVICE).validate(vs)
    (http,) = vs["spec"]["http"]
    # everything goes to the champion; `sample` (0.1) of it is mirrored to the challenger
    (route,) = http["route"]
    assert route["weight"] == 100
    assert route["destination"]["host"] == "support-assistant-production.llm.svc.cluster.local"
    assert vs["spec"]["hosts"] == [route["destination"]["host"]] and vs["spec"]["gateways"] == ["mesh"]
    assert http["mirrorPercentage"]["value"] == pytest.approx(env.strategy.sample * 100) == 10.0
    challenger = shadow.challenger_service(sa, env)["metadata"]["name"]
    assert challenger == "support-assistant-production-shadow"
    assert http["mirror"] == {"host": f"{challenger}-predictor.llm.svc.cluster.local", "port": {"number": 80}}
    # not KServe's own VirtualService name (KServe names those after the InferenceServices)
    assert vs["metadata"]["name"] not in (challenger, kserve.service_name(sa, env))


@pytest.mark.parametrize("break_it", [
    lambda vs: vs["spec"]["http"][0]["mirrorPercentage"].update(value="10%"),
    lambda vs: vs["spec"]["http"][0]["route"][0].update(weight=150),
    lambda vs: vs["spec"]["http"][0]["mirror"].pop("host"),
    lambda vs: vs["spec"]["http"][0].update(mirror_percent=10),
    lambda vs: vs["spec"]["http"][0]["route"][0]["destination"].update(port=80),
])
def test_virtual_service_schema_rejects_broken(production, break_it):
    vs = copy.deepcopy(shadow.virtual_service(*production))
    break_it(vs)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(VIRTUAL_SERVICE).validate(vs)


def test_challenger_is_a_valid_raw_inference_service(production, isvc_schema):
    sa, env = production
    challenger = shadow.challenger_service(sa, env)
    _validate(isvc_schema, yaml.safe_load(yaml.safe_dump(challenger)))
    assert challenger["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    pred = challenger["spec"]["predictor"]
    assert pred["minReplicas"] >= 1 and "canaryTrafficPercent" not in pred
    # the champion template the runtime applies is unchanged by the shadow files
    champion = kserve.inference_service(sa, env)
    assert champion["metadata"]["name"] == "support-assistant-production"
    assert champion["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"
    assert pred["model"] == champion["spec"]["predictor"]["model"]


def test_rollout_step_carries_the_shadow_contract(production):
    sa, env = production
    step = sa.pipeline("deploy").step(f"deploy-{env.name}")
    args = dict(step.args)
    assert args["strategy"] == "shadow" and float(args["sample"]) == 0.1
    assert int(args["duration"]) == 24 * 3600
    assert float(args["max_error_rate"]) == 0.02 and float(args["max_p99_latency_ms"]) == 4000
