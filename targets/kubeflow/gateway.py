"""`llm.gateway` as a LiteLLM proxy on Kubernetes: ConfigMap (config.yaml), Deployment, Service.

The config, image, arguments and secret names are LiteLLM's and shared with Vertex
(`mlopsc.targets.litellm_proxy`). Kubernetes specifics here:
- a `self_hosted` route calls the last environment's InferenceService through KServe's
  OpenAI-compatible API (`http://<model>-<env>.<ns>.svc.cluster.local/openai/v1`, LiteLLM's `openai/`
  provider with an `api_base`);
- the Deployment sets each route key's env var from the Kubernetes Secret of its `${secret:name}`
  (the same Secret name and `value` key as pipeline steps use). The proxy's own settings (master
  key, database URL, Redis URL) come from the Secret `<model>-gateway`, which the platform team
  creates.

The pod template carries the config's sha256, so a changed config rolls the pods, and an Istio
sidecar when an environment uses a shadow rollout (the mirror is applied by the caller's sidecar).
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.emit import yaml_text
from mlopsc.targets import litellm_proxy
from mlopsc.targets.kfp_ir.secrets import SECRET_KEY, env_var, k8s_secret_name
from mlopsc.targets.litellm_proxy import (
    ARGS,
    CONFIG_DIR,
    IMAGE,
    LIVENESS_PATH,
    PORT,
    PROXY_ENV,
    READINESS_PATH,
    name,
)
from mlopsc.targets.tags import k8s_labels

from .kserve import service_name
from .settings import settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any


def _namespace(project: ir.Project) -> str:
    return settings(project).namespace


def _labels(project: ir.Project) -> dict[str, str]:
    return {**k8s_labels(project), "app.kubernetes.io/component": "llm-gateway",
            "app.kubernetes.io/managed-by": "mlopsc",
            "app.kubernetes.io/name": name(project), "app.kubernetes.io/part-of": project.registry.model}


def _pod_labels(project: ir.Project) -> dict[str, str]:
    labels = _labels(project)
    envs = project.deployment.environments if project.deployment else ()
    if any(e.strategy.type == "shadow" for e in envs):
        # the shadow mirror is a mesh VirtualService, applied by the caller's sidecar: the gateway
        # (the self-hosted model's caller) needs one even where the namespace has no injection
        labels["sidecar.istio.io/inject"] = "true"
    return labels


def self_hosted_url(project: ir.Project) -> str | None:
    """KServe's OpenAI-compatible base URL of the last environment's InferenceService."""
    envs = project.deployment.environments if project.deployment else ()
    if not envs:
        return None
    host = f"{service_name(project, envs[-1])}.{_namespace(project)}.svc.cluster.local"
    return f"http://{host}/openai/v1"


def config(project: ir.Project) -> dict[str, Any]:
    # KServe's server does not check keys; LiteLLM's OpenAI client wants one to be set
    return litellm_proxy.config(project.llm.gateway, lambda route: {
        "api_base": self_hosted_url(project), "api_key": "unused", "model": f"openai/{route.model}"})


def _env(project: ir.Project) -> list[dict[str, Any]]:
    gw = project.llm.gateway
    env = []
    for var in litellm_proxy.proxy_env(gw):
        env.append({"name": var, "valueFrom": {"secretKeyRef": {"key": PROXY_ENV[var], "name": name(project)}}})
    for secret in litellm_proxy.route_secrets(gw):
        env.append({"name": env_var(secret),
                    "valueFrom": {"secretKeyRef": {"key": SECRET_KEY, "name": k8s_secret_name(secret)}}})
    return env


def manifests(project: ir.Project) -> list[dict[str, Any]]:
    """ConfigMap, Deployment and Service, in the order `kubectl apply` wants them."""
    ns = _namespace(project)
    selector = {"app.kubernetes.io/name": name(project)}
    config_text = yaml_text(config(project))
    digest = litellm_proxy.digest(config_text)

    def meta() -> dict[str, Any]:  # fresh objects each time: shared ones become YAML anchors
        return {"labels": _labels(project), "name": name(project), "namespace": ns}

    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(),
                  "data": {"config.yaml": config_text}}
    container = {
        "args": list(ARGS),
        "env": _env(project),
        "image": IMAGE,
        "livenessProbe": {"httpGet": {"path": LIVENESS_PATH, "port": "http"}, "periodSeconds": 15},
        "name": "litellm",
        "ports": [{"containerPort": PORT, "name": "http", "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": READINESS_PATH, "port": "http"}, "periodSeconds": 10},
        "resources": {"limits": {"cpu": "1", "memory": "2Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}},
        "volumeMounts": [{"mountPath": CONFIG_DIR, "name": "config", "readOnly": True}],
    }
    pod: dict[str, Any] = {"containers": [container],
                           "volumes": [{"configMap": {"name": name(project)}, "name": "config"}]}
    account = settings(project).service_account
    if account:
        pod["serviceAccountName"] = account
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(selector)},
            "template": {"metadata": {"annotations": {"mlopsc.dev/config-sha256": digest},
                                      "labels": _pod_labels(project)},
                         "spec": pod},
        },
    }
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": meta(),
        "spec": {"ports": [{"name": "http", "port": PORT, "protocol": "TCP", "targetPort": "http"}],
                 "selector": selector, "type": "ClusterIP"},
    }
    return [config_map, deployment, service]


__all__ = ["IMAGE", "config", "manifests", "name", "self_hosted_url"]
