"""`llm.gateway` as a LiteLLM proxy on Kubernetes: ConfigMap (config.yaml), Deployment, Service.

config.yaml (LiteLLM proxy config):
- `model_list`: one entry per route, `model_name` = the route name. A `self_hosted` route calls the
  last environment's InferenceService through KServe's OpenAI-compatible API
  (`http://<model>-<env>.<ns>.svc.cluster.local/openai/v1`, LiteLLM's `openai/` provider with an
  `api_base`); hosted routes are `provider/model` (`openai/`, `anthropic/`, `azure/`, `bedrock/`,
  `vertex_ai/`).
- `router_settings.fallbacks`: `[{route: [fallback, ...]}]`.
- `litellm_settings.cache` + `cache_params`: `redis-semantic` with `similarity_threshold` when the
  spec asks for a semantic cache, else `redis`; `ttl` in seconds. Redis comes from `REDIS_URL`.
- budgets: `monthly_usd` -> `max_budget` + `budget_duration: 30d` (the whole proxy);
  `per_user_daily_usd` -> `max_internal_user_budget` + `internal_user_budget_duration: 1d`, the
  budget LiteLLM gives every user created on the proxy without one of its own. LiteLLM enforces
  budgets against its database, so `general_settings.database_url` is set.
- keys are never literal: `api_key: os.environ/NAME`, and the Deployment sets NAME from the
  Kubernetes Secret of each `${secret:name}` (the same Secret name and `value` key as pipeline
  steps use). The proxy's own settings (master key, database URL, Redis URL) come from the Secret
  `<model>-gateway`, which the platform team creates.

The pod template carries the config's sha256, so a changed config rolls the pods, and an Istio
sidecar when an environment uses a shadow rollout (the mirror is applied by the caller's sidecar).
"""

from __future__ import annotations

import hashlib
from typing import Any

from mlopsc import ir
from mlopsc.emit import yaml_text
from mlopsc.targets.kfp_ir.secrets import SECRET_KEY, env_var, k8s_secret_name, secret_name
from mlopsc.units import duration_seconds

from .kserve import service_name

# Pinned by tag (LiteLLM's image with the Prisma client for its database); bump deliberately.
IMAGE = "ghcr.io/berriai/litellm-database:main-v1.81.3-stable"
PORT = 4000
CONFIG_PATH = "/etc/litellm/config.yaml"

# spec provider -> LiteLLM provider prefix
PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "azure_openai": "azure", "bedrock": "bedrock",
             "vertex": "vertex_ai"}

# env var -> key in the `<model>-gateway` Secret
PROXY_ENV = {"LITELLM_MASTER_KEY": "master-key", "DATABASE_URL": "database-url", "REDIS_URL": "redis-url"}


def name(project: ir.Project) -> str:
    return f"{project.registry.model}-gateway"


def _namespace(project: ir.Project) -> str:
    return project.target_settings("kubeflow").get("namespace") or "default"


def _labels(project: ir.Project) -> dict[str, str]:
    return {"app.kubernetes.io/component": "llm-gateway", "app.kubernetes.io/managed-by": "mlopsc",
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


def _model_entry(project: ir.Project, route: ir.Route) -> dict[str, Any]:
    if route.provider == "self_hosted":
        # KServe's server does not check keys; LiteLLM's OpenAI client wants one to be set
        params: dict[str, Any] = {"api_base": self_hosted_url(project), "api_key": "unused",
                                  "model": f"openai/{route.model}"}
    else:
        params = {"model": f"{PROVIDERS[route.provider]}/{route.model}"}
    secret = secret_name(route.api_key)
    if secret:
        params["api_key"] = f"os.environ/{env_var(secret)}"
    return {"litellm_params": params, "model_name": route.name}


def config(project: ir.Project) -> dict[str, Any]:
    gw = project.llm.gateway
    settings: dict[str, Any] = {}
    if gw.cache:
        semantic = bool(gw.cache.get("semantic"))
        params: dict[str, Any] = {"type": "redis-semantic" if semantic else "redis"}
        if semantic and gw.cache.get("similarity") is not None:
            params["similarity_threshold"] = float(gw.cache.get("similarity"))
        if gw.cache.get("ttl") is not None:
            params["ttl"] = duration_seconds(gw.cache.get("ttl"))
        settings.update({"cache": True, "cache_params": params})
    if gw.budget.get("monthly_usd") is not None:
        settings.update({"budget_duration": "30d", "max_budget": float(gw.budget.get("monthly_usd"))})
    if gw.budget.get("per_user_daily_usd") is not None:
        settings.update({"internal_user_budget_duration": "1d",
                         "max_internal_user_budget": float(gw.budget.get("per_user_daily_usd"))})
    general: dict[str, Any] = {"master_key": "os.environ/LITELLM_MASTER_KEY"}
    if gw.budget:
        general["database_url"] = "os.environ/DATABASE_URL"
    out: dict[str, Any] = {
        "general_settings": general,
        "model_list": [_model_entry(project, r) for r in gw.routes],
    }
    if settings:
        out["litellm_settings"] = settings
    if gw.fallbacks:
        out["router_settings"] = {"fallbacks": [{src: list(dst)} for src, dst in gw.fallbacks]}
    return out


def _env(project: ir.Project) -> list[dict[str, Any]]:
    gw = project.llm.gateway
    env = []
    proxy_env = ["LITELLM_MASTER_KEY"] + (["DATABASE_URL"] if gw.budget else []) + (["REDIS_URL"] if gw.cache else [])
    for var in proxy_env:
        env.append({"name": var, "valueFrom": {"secretKeyRef": {"key": PROXY_ENV[var], "name": name(project)}}})
    secrets = sorted({n for n in (secret_name(r.api_key) for r in gw.routes) if n})
    for secret in secrets:
        env.append({"name": env_var(secret),
                    "valueFrom": {"secretKeyRef": {"key": SECRET_KEY, "name": k8s_secret_name(secret)}}})
    return env


def manifests(project: ir.Project) -> list[dict[str, Any]]:
    """ConfigMap, Deployment and Service, in the order `kubectl apply` wants them."""
    ns = _namespace(project)
    selector = {"app.kubernetes.io/name": name(project)}
    config_text = yaml_text(config(project))
    digest = hashlib.sha256(config_text.encode()).hexdigest()

    def meta() -> dict[str, Any]:  # fresh objects each time: shared ones become YAML anchors
        return {"labels": _labels(project), "name": name(project), "namespace": ns}

    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(),
                  "data": {"config.yaml": config_text}}
    container = {
        "args": ["--config", CONFIG_PATH, "--port", str(PORT)],
        "env": _env(project),
        "image": IMAGE,
        "livenessProbe": {"httpGet": {"path": "/health/liveliness", "port": "http"}, "periodSeconds": 15},
        "name": "litellm",
        "ports": [{"containerPort": PORT, "name": "http", "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/health/readiness", "port": "http"}, "periodSeconds": 10},
        "resources": {"limits": {"cpu": "1", "memory": "2Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}},
        "volumeMounts": [{"mountPath": "/etc/litellm", "name": "config", "readOnly": True}],
    }
    pod: dict[str, Any] = {"containers": [container],
                           "volumes": [{"configMap": {"name": name(project)}, "name": "config"}]}
    account = project.target_settings("kubeflow").get("service_account")
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
