"""`llm.gateway` as a LiteLLM proxy: config.yaml content, and Deployment/Service/ConfigMap shapes.

The Kubernetes Python client's models are not installed (and not worth the dependency), so the
three objects are checked against small JSON Schemas WRITTEN HERE from the Kubernetes API
reference (apps/v1 Deployment, v1 Service, v1 ConfigMap): the fields we emit, with
`additionalProperties: false` where we emit them, plus one policy of ours: container env may only
come from a Secret (`valueFrom.secretKeyRef`), never a literal `value`.
LiteLLM's config keys were checked against LiteLLM's proxy documentation (config.yaml
sections, caching `cache_params`, budgets); LiteLLM itself is not installed and not run here.
"""

import copy
import hashlib

import jsonschema
import pytest
import yaml
from mlopsc.targets.kubeflow import gateway, kserve

_META = {"type": "object", "required": ["name", "namespace"], "additionalProperties": False,
         "properties": {"name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
                        "namespace": {"type": "string"}, "labels": {"type": "object",
                                                                     "additionalProperties": {"type": "string"}},
                        "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}}
_PORT_REF = {"type": ["integer", "string"]}
_PROBE = {"type": "object", "properties": {
    "httpGet": {"type": "object", "required": ["port"], "additionalProperties": False,
                "properties": {"path": {"type": "string"}, "port": _PORT_REF}},
    "periodSeconds": {"type": "integer", "minimum": 1}}, "additionalProperties": False}
_ENV = {"type": "object", "required": ["name", "valueFrom"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                       "valueFrom": {"type": "object", "required": ["secretKeyRef"], "additionalProperties": False,
                                     "properties": {"secretKeyRef": {
                                         "type": "object", "required": ["name", "key"], "additionalProperties": False,
                                         "properties": {"name": {"type": "string"}, "key": {"type": "string"},
                                                        "optional": {"type": "boolean"}}}}}}}
_QUANTITIES = {"type": "object", "additionalProperties": {"type": "string"}}
_CONTAINER = {"type": "object", "required": ["name", "image"], "additionalProperties": False, "properties": {
    "name": {"type": "string"}, "image": {"type": "string"},
    "args": {"type": "array", "items": {"type": "string"}},
    "env": {"type": "array", "items": _ENV},
    "ports": {"type": "array", "items": {"type": "object", "required": ["containerPort"], "additionalProperties": False,
                                         "properties": {"containerPort": {"type": "integer"}, "name": {"type": "string"},
                                                        "protocol": {"enum": ["TCP", "UDP", "SCTP"]}}}},
    "livenessProbe": _PROBE, "readinessProbe": _PROBE,
    "resources": {"type": "object", "additionalProperties": False,
                  "properties": {"limits": _QUANTITIES, "requests": _QUANTITIES}},
    "volumeMounts": {"type": "array", "items": {"type": "object", "required": ["name", "mountPath"],
                                                "additionalProperties": False,
                                                "properties": {"name": {"type": "string"},
                                                               "mountPath": {"type": "string"},
                                                               "readOnly": {"type": "boolean"},
                                                               "subPath": {"type": "string"}}}},
}}
SCHEMAS = {
    "ConfigMap": {"type": "object", "required": ["apiVersion", "kind", "metadata", "data"], "additionalProperties": False,
                  "properties": {"apiVersion": {"const": "v1"}, "kind": {"const": "ConfigMap"}, "metadata": _META,
                                 "data": {"type": "object", "additionalProperties": {"type": "string"}}}},
    "Deployment": {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
                   "additionalProperties": False, "properties": {
        "apiVersion": {"const": "apps/v1"}, "kind": {"const": "Deployment"}, "metadata": _META,
        "spec": {"type": "object", "required": ["selector", "template"], "additionalProperties": False, "properties": {
            "replicas": {"type": "integer", "minimum": 0},
            "selector": {"type": "object", "required": ["matchLabels"],
                         "properties": {"matchLabels": {"type": "object"}}},
            "template": {"type": "object", "required": ["spec"], "additionalProperties": False, "properties": {
                "metadata": {"type": "object", "additionalProperties": False,
                             "properties": {"labels": {"type": "object"}, "annotations": {"type": "object"}}},
                "spec": {"type": "object", "required": ["containers"], "additionalProperties": False, "properties": {
                    "containers": {"type": "array", "items": _CONTAINER, "minItems": 1},
                    "serviceAccountName": {"type": "string"},
                    "volumes": {"type": "array", "items": {
                        "type": "object", "required": ["name"], "additionalProperties": False,
                        "properties": {"name": {"type": "string"},
                                       "configMap": {"type": "object", "required": ["name"],
                                                     "properties": {"name": {"type": "string"}}}}}}}}}}}}}},
    "Service": {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
                "properties": {
        "apiVersion": {"const": "v1"}, "kind": {"const": "Service"}, "metadata": _META,
        "spec": {"type": "object", "additionalProperties": False, "properties": {
            "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]},
            "selector": {"type": "object", "additionalProperties": {"type": "string"}},
            "ports": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["port"], "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                               "protocol": {"enum": ["TCP", "UDP", "SCTP"]}, "targetPort": _PORT_REF}}}}}}},
}


@pytest.fixture
def sa(projects):
    return projects["support-assistant"]


@pytest.fixture
def objects(sa):
    return {o["kind"]: o for o in yaml.safe_load_all(yaml.safe_dump_all(gateway.manifests(sa)))}


def _check(obj):
    jsonschema.Draft7Validator(SCHEMAS[obj["kind"]]).validate(obj)


def test_objects_match_kubernetes_shapes(objects):
    assert sorted(objects) == ["ConfigMap", "Deployment", "Service"]
    for obj in objects.values():
        _check(obj)
    deployment, service = objects["Deployment"], objects["Service"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert service["spec"]["ports"][0]["targetPort"] in [p["name"] for p in container["ports"]]
    (volume,) = deployment["spec"]["template"]["spec"]["volumes"]
    assert volume["configMap"]["name"] == objects["ConfigMap"]["metadata"]["name"]
    mount = container["volumeMounts"][0]["mountPath"]
    assert container["args"][:2] == ["--config", f"{mount}/config.yaml"]


@pytest.mark.parametrize("kind,break_it", [
    ("Deployment", lambda o: o["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "OPENAI_API_KEY", "value": "sk-literal"})),
    ("Deployment", lambda o: o["spec"]["template"]["spec"]["containers"][0].update(imagePullPolicy=1, image=None)),
    ("Service", lambda o: o["spec"]["ports"][0].update(port=70000)),
    ("ConfigMap", lambda o: o["data"].update(count=3)),
    ("ConfigMap", lambda o: o["metadata"].update(name="Support_Assistant")),
])
def test_schemas_reject_broken_objects(objects, kind, break_it):
    obj = copy.deepcopy(objects[kind])
    break_it(obj)
    with pytest.raises(jsonschema.ValidationError):
        _check(obj)


def test_config_routes_fallbacks_cache_budgets(sa, objects):
    config = yaml.safe_load(objects["ConfigMap"]["data"]["config.yaml"])
    assert config == gateway.config(sa)
    models = {m["model_name"]: m["litellm_params"] for m in config["model_list"]}
    assert list(models) == ["default", "fallback"]
    # self-hosted: KServe's OpenAI-compatible API on the last environment's InferenceService
    prod = sa.deployment.environments[-1]
    assert models["default"]["model"] == "openai/support-assistant"
    assert models["default"]["api_base"] == (
        f"http://{kserve.service_name(sa, prod)}.llm.svc.cluster.local/openai/v1")
    # the name the route asks for is the fine-tuned adapter's (vLLM's --lora-modules)
    assert "--lora-modules=support-assistant=/mnt/models" in \
        kserve.inference_service(sa, prod)["spec"]["predictor"]["model"]["args"]
    assert models["fallback"] == {"model": "openai/gpt-4o-mini", "api_key": "os.environ/OPENAI_API_KEY"}
    assert config["router_settings"]["fallbacks"] == [{"default": ["fallback"]}]
    settings = config["litellm_settings"]
    assert settings["cache"] is True
    assert settings["cache_params"] == {"type": "redis-semantic", "similarity_threshold": 0.95, "ttl": 3600}
    assert (settings["max_budget"], settings["budget_duration"]) == (2000.0, "30d")
    assert (settings["max_internal_user_budget"], settings["internal_user_budget_duration"]) == (1.0, "1d")
    assert config["general_settings"] == {"master_key": "os.environ/LITELLM_MASTER_KEY",
                                          "database_url": "os.environ/DATABASE_URL"}


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def test_every_key_comes_from_a_secret(objects):
    config = yaml.safe_load(objects["ConfigMap"]["data"]["config.yaml"])
    referenced = {s.removeprefix("os.environ/") for s in _strings(config) if s.startswith("os.environ/")}
    (container,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert referenced == set(env) - {"REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"}  # LiteLLM's caches read them itself
    assert env["OPENAI_API_KEY"] == {"name": "openai-api-key", "key": "value"}  # ${secret:openai_api_key}
    keys = [m["litellm_params"].get("api_key") for m in config["model_list"]]
    assert all(k == "unused" or k.startswith("os.environ/") for k in keys)


def test_image_pinned_and_config_change_rolls_pods(sa, objects):
    (container,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    repo, _, tag = container["image"].rpartition(":")
    assert repo == "ghcr.io/berriai/litellm-database" and tag and tag not in ("latest", "main-latest")
    digest = hashlib.sha256(objects["ConfigMap"]["data"]["config.yaml"].encode()).hexdigest()
    assert objects["Deployment"]["spec"]["template"]["metadata"]["annotations"] == {"mlopsc.dev/config-sha256": digest}


def test_gateway_pod_joins_the_mesh_for_the_shadow_mirror(objects):
    # production mirrors through a mesh VirtualService, which the calling pod's sidecar applies
    assert objects["Deployment"]["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] == "true"


def test_plain_cache_without_semantic(sa):
    import dataclasses

    from mlopsc import ir

    gw = dataclasses.replace(sa.llm.gateway, cache=ir.freeze({"ttl": "10m"}), budget=ir.freeze({}))
    project = dataclasses.replace(sa, llm=dataclasses.replace(sa.llm, gateway=gw))
    config = gateway.config(project)
    assert config["litellm_settings"] == {"cache": True, "cache_params": {"type": "redis", "ttl": 600}}
    assert "database_url" not in config["general_settings"]
