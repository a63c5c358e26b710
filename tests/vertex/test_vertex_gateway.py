"""`llm.gateway` on Google Cloud: LiteLLM's config.yaml and the Cloud Run service.

No Cloud Run client or schema file is installed, so the service is checked against a small JSON
Schema WRITTEN HERE by hand from Google's "Cloud Run YAML reference" (the Knative
`serving.knative.dev/v1` Service of the Cloud Run Admin API v1, as `gcloud run services replace`
takes it): only the fields mlopsc emits plus a few neighbours, `additionalProperties: false`
where we emit, one container port named `http1` or `h2c`, env from `value` or a Secret Manager
`secretKeyRef` (`name` the secret, `key` the version), secret volumes with `items`. It is not
Google's schema and does not prove `gcloud` accepts the file; it catches shape mistakes. One policy
of ours on top: every env var comes from a secret, never a literal `value`.
LiteLLM is not installed and not run here; the config is the one Kubeflow's gateway uses, from
the shared `mlopsc.targets.litellm_proxy`.
"""

import copy
import dataclasses
import hashlib

import jsonschema
import pytest
import yaml
from mlopsc import ir
from mlopsc.targets import litellm_proxy
from mlopsc.targets.kubeflow import gateway as kubeflow_gateway
from mlopsc.targets.kubeflow import unsupported as kubeflow_unsupported
from mlopsc.targets.vertex import deploy, gateway

_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
_PROBE = {"type": "object", "additionalProperties": False, "properties": {
    "httpGet": {"type": "object", "additionalProperties": False,
                "properties": {"path": {"type": "string"}, "port": _PORT,
                               "httpHeaders": {"type": "array"}}},
    "tcpSocket": {"type": "object", "properties": {"port": _PORT}},
    "grpc": {"type": "object", "properties": {"port": _PORT, "service": {"type": "string"}}},
    "initialDelaySeconds": {"type": "integer", "minimum": 0, "maximum": 240},
    "timeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 240},
    "periodSeconds": {"type": "integer", "minimum": 1, "maximum": 240},
    "failureThreshold": {"type": "integer", "minimum": 1}}}
_SECRET_REF = {"type": "object", "required": ["secretKeyRef"], "additionalProperties": False, "properties": {
    "secretKeyRef": {"type": "object", "required": ["name", "key"], "additionalProperties": False, "properties": {
        # Secret Manager secret id (or a projects/.../secrets/... name); key: a version number or `latest`
        "name": {"type": "string", "pattern": "^([A-Za-z0-9_-]{1,255}|projects/[^/]+/secrets/[A-Za-z0-9_-]+)$"},
        "key": {"type": "string", "pattern": "^(latest|[1-9][0-9]*)$"}}}}}
_ENV = {"type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                       "value": {"type": "string"}, "valueFrom": _SECRET_REF},
        "oneOf": [{"required": ["value"]}, {"required": ["valueFrom"]}]}
_CONTAINER = {"type": "object", "required": ["image"], "additionalProperties": False, "properties": {
    "name": {"type": "string"}, "image": {"type": "string", "minLength": 1},
    "command": {"type": "array", "items": {"type": "string"}},
    "args": {"type": "array", "items": {"type": "string"}},
    "env": {"type": "array", "items": _ENV},
    "ports": {"type": "array", "maxItems": 1, "items": {
        "type": "object", "required": ["containerPort"], "additionalProperties": False,
        "properties": {"name": {"enum": ["http1", "h2c"]}, "containerPort": _PORT}}},
    "resources": {"type": "object", "additionalProperties": False, "properties": {
        "limits": {"type": "object", "additionalProperties": False, "properties": {
            "cpu": {"type": "string"}, "memory": {"type": "string", "pattern": "^[0-9]+(Mi|Gi)$"},
            "nvidia.com/gpu": {"type": "string"}}}}},
    "volumeMounts": {"type": "array", "items": {
        "type": "object", "required": ["name", "mountPath"], "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "mountPath": {"type": "string", "pattern": "^/"},
                       "readOnly": {"type": "boolean"}, "subPath": {"type": "string"}}}},
    "startupProbe": _PROBE, "livenessProbe": _PROBE,
}}
_VOLUME = {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {
    "name": {"type": "string"},
    "secret": {"type": "object", "required": ["secretName"], "additionalProperties": False, "properties": {
        "secretName": {"type": "string"}, "defaultMode": {"type": "integer"},
        "items": {"type": "array", "items": {
            "type": "object", "required": ["key", "path"], "additionalProperties": False,
            "properties": {"key": {"type": "string", "pattern": "^(latest|[1-9][0-9]*)$"},
                           "path": {"type": "string", "pattern": "^[^/]"}, "mode": {"type": "integer"}}}}}},
    "emptyDir": {"type": "object"}}}
SERVICE = {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
           "properties": {
    "apiVersion": {"const": "serving.knative.dev/v1"}, "kind": {"const": "Service"},
    "metadata": {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {
        # service names: lowercase letters, digits and hyphens, starting with a letter, under 50 characters
        "name": {"type": "string", "pattern": "^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": False,
                   "patternProperties": {"^([a-z][a-z0-9_-]{0,62}|cloud\\.googleapis\\.com/location)$": {
                       "type": "string", "pattern": "^[a-z0-9_-]{0,63}$"}}},
        "annotations": _STR_MAP}},
    "spec": {"type": "object", "required": ["template"], "additionalProperties": False, "properties": {
        "template": {"type": "object", "required": ["spec"], "additionalProperties": False, "properties": {
            "metadata": {"type": "object", "additionalProperties": False,
                         "properties": {"name": {"type": "string"}, "labels": _STR_MAP, "annotations": _STR_MAP}},
            "spec": {"type": "object", "required": ["containers"], "additionalProperties": False, "properties": {
                "containerConcurrency": {"type": "integer", "minimum": 0, "maximum": 1000},
                "timeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 3600},
                "serviceAccountName": {"type": "string"},
                "containers": {"type": "array", "minItems": 1, "maxItems": 10, "items": _CONTAINER},
                "volumes": {"type": "array", "items": _VOLUME}}}}},
        "traffic": {"type": "array", "items": {
            "type": "object", "required": ["percent"], "additionalProperties": False,
            "properties": {"percent": {"type": "integer", "minimum": 0, "maximum": 100},
                           "latestRevision": {"type": "boolean"}, "revisionName": {"type": "string"},
                           "tag": {"type": "string"}}}}}}}}


@pytest.fixture
def sa(projects):
    return projects["support-assistant"]


@pytest.fixture
def service(files):
    return yaml.safe_load(files["support-assistant"][gateway.SERVICE_FILE])


@pytest.fixture
def config_text(files):
    return files["support-assistant"][gateway.CONFIG_FILE]


def _check(obj):
    jsonschema.Draft7Validator(SERVICE).validate(obj)
    # our policy: no literal env values, secrets only
    for container in obj["spec"]["template"]["spec"]["containers"]:
        for env in container.get("env", []):
            if "valueFrom" not in env:
                raise jsonschema.ValidationError(f"literal env {env['name']}")


def test_service_matches_the_cloud_run_shape(service):
    _check(service)
    spec = service["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    (volume,) = spec["volumes"]
    (mount,) = container["volumeMounts"]
    assert mount["name"] == volume["name"]
    (item,) = volume["secret"]["items"]
    assert container["args"][:2] == ["--config", f"{mount['mountPath']}/{item['path']}"]
    assert container["ports"][0]["containerPort"] == int(container["args"][3])
    assert container["livenessProbe"]["httpGet"]["port"] == container["ports"][0]["containerPort"]
    assert service["metadata"]["labels"]["cloud.googleapis.com/location"] == "us-central1"


def _set_env(value):
    def mutate(o):
        o["spec"]["template"]["spec"]["containers"][0]["env"].append(value)
    return mutate


@pytest.mark.parametrize("break_it", [
    _set_env({"name": "OPENAI_API_KEY", "value": "sk-literal"}),
    _set_env({"name": "X", "valueFrom": {"secretKeyRef": {"name": "x", "key": "value"}}}),
    _set_env({"name": "X", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "latest"}}}),
    lambda o: o["spec"]["template"]["spec"]["containers"][0]["ports"].append({"containerPort": 8080}),
    lambda o: o["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(name="http"),
    lambda o: o["metadata"].update(name="Support_Assistant"),
    lambda o: o["metadata"].update(name="a" * 50),
    lambda o: o["metadata"]["labels"].update({"app.kubernetes.io/name": "x"}),
    lambda o: o["spec"]["template"]["spec"].update(replicas=1),
    lambda o: o["spec"]["template"]["spec"]["volumes"][0].update(configMap={"name": "x"}),
    lambda o: o["spec"]["template"]["spec"]["volumes"][0]["secret"]["items"][0].update(key="value"),
    lambda o: o.update(apiVersion="apps/v1"),
])
def test_schema_rejects_broken_services(service, break_it):
    obj = copy.deepcopy(service)
    break_it(obj)
    with pytest.raises(jsonschema.ValidationError):
        _check(obj)


def test_same_image_and_arguments_as_kubeflow(sa, service):
    (container,) = service["spec"]["template"]["spec"]["containers"]
    (kf,) = kubeflow_gateway.manifests(sa)[1]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == kf["image"] == litellm_proxy.IMAGE
    assert container["args"] == kf["args"]
    assert [e["name"] for e in container["env"]] == [e["name"] for e in kf["env"]]


def test_config_is_kubeflows_but_for_the_self_hosted_route(sa, config_text):
    ours, theirs = yaml.safe_load(config_text), kubeflow_gateway.config(sa)
    assert ours == gateway.config(sa)
    mine = {m["model_name"]: m["litellm_params"] for m in ours.pop("model_list")}
    kf = {m["model_name"]: m["litellm_params"] for m in theirs.pop("model_list")}
    assert ours == theirs  # fallbacks, semantic cache, budgets, master key, database
    assert ours["litellm_settings"]["cache_params"]["type"] == "redis-semantic"
    assert mine["fallback"] == kf["fallback"] == {"model": "openai/gpt-4o-mini", "api_key": "os.environ/OPENAI_API_KEY"}
    prod = sa.deployment.environments[-1]
    assert mine["default"] == {"model": f"vertex_ai/openai/{deploy.endpoint_id(sa, prod)}",
                               "vertex_project": "acme-ml", "vertex_location": "us-central1"}
    assert gateway.self_hosted_endpoint(sa) == \
        "projects/acme-ml/locations/us-central1/endpoints/support-assistant-production"


def test_self_hosted_route_calls_the_endpoint_the_deploy_pipeline_creates(sa, compiled, config_text):
    model = yaml.safe_load(config_text)["model_list"][0]["litellm_params"]["model"]
    _, c = compiled[("support-assistant", "deploy")]
    args = c.spec["deploymentSpec"]["executors"]["exec-endpoint-production"]["container"]["args"]
    assert f"endpoint_id={model.rpartition('/')[2]}" in args


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def test_every_key_comes_from_secret_manager(sa, service, config_text, compiled):
    config = yaml.safe_load(config_text)
    referenced = {s.removeprefix("os.environ/") for s in _strings(config) if s.startswith("os.environ/")}
    (container,) = service["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert referenced == set(env) - {"REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"}  # LiteLLM's caches read them itself
    assert env["LITELLM_MASTER_KEY"] == {"name": "support-assistant-gateway-master-key", "key": "latest"}
    assert env["DATABASE_URL"]["name"] == "support-assistant-gateway-database-url"
    assert env["REDIS_PASSWORD"]["name"] == "support-assistant-gateway-redis-password"
    # the route key is the secret pipeline steps read for ${secret:openai_api_key}
    assert env["OPENAI_API_KEY"] == {"name": "openai-api-key", "key": "latest"}
    _, monitor = compiled[("support-assistant", "monitor")]
    step_env = monitor.spec["deploymentSpec"]["executors"]["exec-check-llm-quality"]["container"]["env"]
    assert step_env[0]["value"] == f"projects/acme-ml/secrets/{env['OPENAI_API_KEY']['name']}/versions/latest"
    assert "sk-" not in config_text and "sk-" not in yaml.safe_dump(service)


def test_config_change_starts_a_new_revision(service, config_text):
    annotations = service["spec"]["template"]["metadata"]["annotations"]
    assert annotations["mlopsc.dev/config-sha256"] == hashlib.sha256(config_text.encode()).hexdigest()
    assert annotations["autoscaling.knative.dev/minScale"] == "1"
    assert service["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"] == \
        "support-assistant-gateway-config"


def test_gateway_w702_names_what_must_exist_as_kubeflow_does(sa, vertex):
    span = sa.llm.gateway.span
    (found,) = [d for d in vertex.unsupported(sa) if (d.line, d.col) == (span.line, span.col)]
    assert found.code == "W702" and found.severity == "warning"
    (kf,) = [d for d in kubeflow_unsupported.unsupported(sa) if (d.line, d.col) == (span.line, span.col)]
    needs = ", ".join(litellm_proxy.needs(sa.llm.gateway))
    assert f"the LiteLLM gateway reads {needs} from the Secret " in kf.message
    assert f"the LiteLLM gateway reads {needs} from the Secret Manager secrets " in found.message
    for words in ("`support-assistant-gateway-master-key`", "`support-assistant-gateway-database-url`",
                  "`support-assistant-gateway-redis-password`", "project `acme-ml`",
                  "`support-assistant-gateway-config`", "gateway/config.yaml", "VPC egress"):
        assert words in found.message


def test_self_hosted_route_without_served_model_is_e701(sa, vertex):
    project = dataclasses.replace(sa, llm=dataclasses.replace(sa.llm, serving=None))
    errors = [d for d in vertex.unsupported(project) if d.severity == "error"]
    route = sa.llm.gateway.routes[0]
    assert [(d.line, d.col, d.code) for d in errors] == [(route.span.line, route.span.col, "E701")]


def test_plain_cache_and_no_budget(sa):
    gw = dataclasses.replace(sa.llm.gateway, cache=ir.freeze({"ttl": "10m"}), budget=ir.freeze({}))
    project = dataclasses.replace(sa, llm=dataclasses.replace(sa.llm, gateway=gw))
    config = gateway.config(project)
    assert config["litellm_settings"] == {"cache": True, "cache_params": {"type": "redis", "ttl": 600}}
    (container,) = gateway.service(project, "x")["spec"]["template"]["spec"]["containers"]
    assert [e["name"] for e in container["env"]] == ["LITELLM_MASTER_KEY", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD",
                                                         "OPENAI_API_KEY"]
    assert "DATABASE_URL" not in gateway.prerequisites(project)
