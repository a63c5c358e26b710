"""`llm.gateway` as a LiteLLM proxy on Cloud Run: `gateway/config.yaml` and the Cloud Run service.

The same pinned image, arguments and config shape as Kubeflow's gateway (routes, fallbacks,
semantic cache, budgets: `mlopsc.targets.litellm_proxy`); what differs on Google Cloud:

- the `self_hosted` route calls the last environment's Vertex endpoint through LiteLLM's
  `vertex_ai/openai/<endpoint id>` provider with `vertex_project` and `vertex_location`, which
  calls Vertex's OpenAI-compatible chat completions API of the endpoint
  `projects/<project>/locations/<region>/endpoints/<id>` on `<region>-aiplatform.googleapis.com`,
  authenticated as the service's account (no key).
  The endpoint id is mlopsc's (`deploy.endpoint_id`), so the route is known at compile time; the
  endpoint itself exists once the deploy pipeline has run (until then LiteLLM's fallbacks apply).
- `gateway/cloudrun-service.yaml` is a Knative `serving.knative.dev/v1` Service, as
  `gcloud run services replace` takes it (Cloud Run Admin API v1). Every environment variable that
  holds a secret comes from Secret Manager (`valueFrom.secretKeyRef`: `name` the secret id, `key`
  the version, `latest`), never a literal: the proxy's own settings from `<model>-gateway-master-key`,
  `-database-url`, `-redis-host`, `-redis-port`, `-redis-password`, and each route key from the secret of its `${secret:name}` (the
  same secret pipeline steps read).
- Cloud Run has no ConfigMap: config.yaml is mounted from the Secret Manager secret
  `<model>-gateway-config` (a secret volume, latest version, at the path Kubeflow mounts it), whose
  latest version must be the compiled `gateway/config.yaml`. The revision template carries the
  config's sha256, so `services replace` after a config change starts a new revision.
- at least one instance stays up, with CPU always allocated: LiteLLM writes spend logs and resets
  budgets in background tasks, outside requests.

Deploy: `gcloud secrets versions add <model>-gateway-config --data-file=gateway/config.yaml`, then
`gcloud run services replace gateway/cloudrun-service.yaml --project <project>`.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.emit import yaml_text
from mlopsc.targets import litellm_proxy
from mlopsc.targets.kfp_ir.secrets import env_var
from mlopsc.targets.litellm_proxy import CONFIG_DIR, PORT, PROXY_ENV, name

from .deploy import endpoint_id
from .dialect import gcp_project, secret_id
from .jobs import gcp_labels
from .settings import settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

SECRET_VERSION = "latest"
CONFIG_FILE = "gateway/config.yaml"
SERVICE_FILE = "gateway/cloudrun-service.yaml"


def region(project: ir.Project) -> str:
    return settings(project).region


def proxy_secret(project: ir.Project, var: str) -> str:
    """Secret Manager secret id holding one of the proxy's own settings."""
    return f"{name(project)}-{PROXY_ENV[var]}"


def config_secret(project: ir.Project) -> str:
    return f"{name(project)}-config"


def self_hosted_endpoint_id(project: ir.Project) -> str | None:
    """Id of the last environment's endpoint, which the self-hosted route calls (None: no such model)."""
    envs = project.deployment.environments if project.deployment else ()
    if not envs or project.llm is None or project.llm.serving is None:
        return None
    return endpoint_id(project, envs[-1])


def self_hosted_endpoint(project: ir.Project) -> str | None:
    """Resource name of that endpoint."""
    found = self_hosted_endpoint_id(project)
    if found is None:
        return None
    return f"projects/{gcp_project(project)}/locations/{region(project)}/endpoints/{found}"


def config(project: ir.Project) -> dict[str, Any]:
    def self_hosted(route: ir.Route) -> dict[str, Any]:
        return {"model": f"vertex_ai/openai/{self_hosted_endpoint_id(project)}",
                "vertex_location": region(project), "vertex_project": gcp_project(project)}

    return litellm_proxy.config(project.llm.gateway, self_hosted)


def _secret_env(var: str, secret: str) -> dict[str, Any]:
    return {"name": var, "valueFrom": {"secretKeyRef": {"key": SECRET_VERSION, "name": secret}}}


def _env(project: ir.Project) -> list[dict[str, Any]]:
    gw = project.llm.gateway
    env = [_secret_env(var, proxy_secret(project, var)) for var in litellm_proxy.proxy_env(gw)]
    env += [_secret_env(env_var(s), secret_id(s)) for s in litellm_proxy.route_secrets(gw)]
    return env


def service(project: ir.Project, config_text: str) -> dict[str, Any]:
    """The Cloud Run service (Knative Service object) running the proxy with `config_text`."""
    container = {
        "args": list(litellm_proxy.ARGS),
        "env": _env(project),
        "image": litellm_proxy.IMAGE,
        "livenessProbe": {"httpGet": {"path": litellm_proxy.LIVENESS_PATH, "port": PORT},
                          "periodSeconds": 15},
        "name": "litellm",
        "ports": [{"containerPort": PORT, "name": "http1"}],
        "resources": {"limits": {"cpu": "1", "memory": "2Gi"}},
        # LiteLLM migrates its database on start: up to 24 x 10 s before Cloud Run gives up
        "startupProbe": {"failureThreshold": 24, "periodSeconds": 10,
                         "httpGet": {"path": litellm_proxy.READINESS_PATH, "port": PORT}},
        "volumeMounts": [{"mountPath": CONFIG_DIR, "name": "config", "readOnly": True}],
    }
    filename = litellm_proxy.CONFIG_PATH.removeprefix(CONFIG_DIR + "/")
    spec: dict[str, Any] = {
        "containers": [container],
        "volumes": [{"name": "config", "secret": {"items": [{"key": SECRET_VERSION, "path": filename}],
                                                  "secretName": config_secret(project)}}],
    }
    account = settings(project).service_account
    if account:
        spec["serviceAccountName"] = account
    annotations = {"autoscaling.knative.dev/minScale": "1",
                   "mlopsc.dev/config-sha256": litellm_proxy.digest(config_text),
                   "run.googleapis.com/cpu-throttling": "false"}
    extra = {"mlopsc-component": "llm-gateway", "mlopsc-model": project.registry.model}
    labels = {**gcp_labels(project, extra), "cloud.googleapis.com/location": region(project)}
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"labels": labels, "name": name(project)},
        "spec": {"template": {"metadata": {"annotations": annotations}, "spec": spec},
                 "traffic": [{"latestRevision": True, "percent": 100}]},
    }


def files(project: ir.Project) -> list[tuple[str, str]]:
    """(path, text) of config.yaml and the Cloud Run service."""
    config_text = yaml_text(config(project))
    return [(CONFIG_FILE, config_text), (SERVICE_FILE, yaml_text(service(project, config_text)))]


def prerequisites(project: ir.Project) -> str:
    """What must exist before the service is replaced (W702 at `llm.gateway`)."""
    gw = project.llm.gateway
    secrets = ", ".join(f"`{proxy_secret(project, v)}`" for v in litellm_proxy.proxy_env(gw))
    where = gcp_project(project)
    text = (f"the LiteLLM gateway reads {', '.join(litellm_proxy.needs(gw))} from the Secret Manager "
            f"secrets {secrets} (version `latest`), which must exist in the project `{where}`, "
            f"and its config from the secret `{config_secret(project)}`, whose latest version must be "
            f"`{CONFIG_FILE}` before `gcloud run services replace {SERVICE_FILE}`")
    if gw.cache:
        text += ("; Cloud Run reaches a Memorystore Redis only through VPC egress, which the service does "
                 "not set up")
    return text


__all__ = ["config", "config_secret", "files", "prerequisites", "self_hosted_endpoint",
           "self_hosted_endpoint_id", "service"]
