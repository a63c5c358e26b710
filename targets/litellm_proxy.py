"""`llm.gateway` as a LiteLLM proxy: the platform-neutral parts (Kubeflow and Vertex share them).

config.yaml (LiteLLM proxy config):
- `model_list`: one entry per route, `model_name` = the route name. A `self_hosted` route's
  `litellm_params` come from the platform (where its served model lives); hosted routes are
  `provider/model` (`openai/`, `anthropic/`, `azure/`, `bedrock/`, `vertex_ai/`).
- `router_settings.fallbacks`: `[{route: [fallback, ...]}]`.
- `litellm_settings.cache` + `cache_params`: `redis-semantic` with `similarity_threshold` when the
  spec asks for a semantic cache, else `redis`; `ttl` in seconds. Redis comes from `REDIS_HOST`,
  `REDIS_PORT` and `REDIS_PASSWORD`, the variables LiteLLM's Redis caches read (the semantic cache
  does not read `REDIS_URL`).
- budgets: `monthly_usd` -> `max_budget` + `budget_duration: 30d` (the whole proxy);
  `per_user_daily_usd` -> `max_internal_user_budget` + `internal_user_budget_duration: 1d`, the
  budget LiteLLM gives every user created on the proxy without one of its own. LiteLLM enforces
  budgets against its database, so `general_settings.database_url` is set.
- keys are never literal: `api_key: os.environ/NAME`; the platform sets NAME from its secret store
  (`route_secrets`), and the proxy's own settings from `proxy_env` (master key, database URL,
  Redis URL).

The container runs `IMAGE` with `ARGS` and reads the config at `CONFIG_PATH`.
"""

from __future__ import annotations

from collections.abc import Callable

from mlopsc import ir
from mlopsc.digest import sha256_hex
from mlopsc.units import duration_seconds

from .kfp_ir.secrets import env_var, secret_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

# Pinned by tag (LiteLLM's image with the Prisma client for its database); bump deliberately.
IMAGE = "ghcr.io/berriai/litellm-database:main-v1.81.3-stable"
PORT = 4000
CONFIG_DIR = "/etc/litellm"
CONFIG_PATH = f"{CONFIG_DIR}/config.yaml"
ARGS = ("--config", CONFIG_PATH, "--port", str(PORT))
LIVENESS_PATH = "/health/liveliness"
READINESS_PATH = "/health/readiness"

# spec provider -> LiteLLM provider prefix
PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "azure_openai": "azure", "bedrock": "bedrock",
             "vertex": "vertex_ai"}

# the proxy's own environment: variable -> short name of the secret value (a key of Kubeflow's
# `<model>-gateway` Secret; a suffix of Vertex's Secret Manager secret ids)
PROXY_ENV = {"LITELLM_MASTER_KEY": "master-key", "DATABASE_URL": "database-url", "REDIS_HOST": "redis-host",
             "REDIS_PORT": "redis-port", "REDIS_PASSWORD": "redis-password"}
REDIS_ENV = ("REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD")


def name(project: ir.Project) -> str:
    """The gateway's name: Kubernetes objects, Cloud Run service, prefix of its secrets."""
    return f"{project.registry.model}-gateway"


def proxy_env(gateway: ir.Gateway) -> list[str]:
    """The proxy's own environment variables this gateway needs, in PROXY_ENV order."""
    return (["LITELLM_MASTER_KEY"] + (["DATABASE_URL"] if gateway.budget else [])
            + (list(REDIS_ENV) if gateway.cache else []))


def route_secrets(gateway: ir.Gateway) -> list[str]:
    """NAMEs of the `${secret:NAME}` route keys, sorted; each is set as `env_var(NAME)`."""
    return sorted({n for n in (secret_name(r.api_key) for r in gateway.routes) if n})


def needs(gateway: ir.Gateway) -> list[str]:
    """What the proxy reads from secrets that someone must create first (for a W702)."""
    found = ["LITELLM_MASTER_KEY"]
    if gateway.budget:
        found.append("DATABASE_URL (budgets are enforced against LiteLLM's database)")
    if gateway.cache:
        found.append("REDIS_HOST, REDIS_PORT and REDIS_PASSWORD" + (" (Redis with vector search for the semantic cache, which embeds "
                                    "prompts with LiteLLM's default embedding model)"
                                    if gateway.cache.get("semantic") else ""))
    return found


def self_hosted_routes(gateway: ir.Gateway) -> list[ir.Route]:
    return [r for r in gateway.routes if r.provider == "self_hosted"]


def _model_entry(route: ir.Route, self_hosted: Callable[[ir.Route], dict[str, Any]]) -> dict[str, Any]:
    if route.provider == "self_hosted":
        params = dict(self_hosted(route))
    else:
        params = {"model": f"{PROVIDERS[route.provider]}/{route.model}"}
    secret = secret_name(route.api_key)
    if secret:
        params["api_key"] = f"os.environ/{env_var(secret)}"
    return {"litellm_params": params, "model_name": route.name}


def config(gateway: ir.Gateway, self_hosted: Callable[[ir.Route], dict[str, Any]]) -> dict[str, Any]:
    """LiteLLM's config.yaml; `self_hosted(route)` gives a self-hosted route's `litellm_params`."""
    settings: dict[str, Any] = {}
    if gateway.cache:
        semantic = bool(gateway.cache.get("semantic"))
        params: dict[str, Any] = {"type": "redis-semantic" if semantic else "redis"}
        if semantic and gateway.cache.get("similarity") is not None:
            params["similarity_threshold"] = float(gateway.cache.get("similarity"))
        if gateway.cache.get("ttl") is not None:
            params["ttl"] = duration_seconds(gateway.cache.get("ttl"))
        settings.update({"cache": True, "cache_params": params})
    if gateway.budget.get("monthly_usd") is not None:
        settings.update({"budget_duration": "30d", "max_budget": float(gateway.budget.get("monthly_usd"))})
    if gateway.budget.get("per_user_daily_usd") is not None:
        settings.update({"internal_user_budget_duration": "1d",
                         "max_internal_user_budget": float(gateway.budget.get("per_user_daily_usd"))})
    general: dict[str, Any] = {"master_key": "os.environ/LITELLM_MASTER_KEY"}
    if gateway.budget:
        general["database_url"] = "os.environ/DATABASE_URL"
    out: dict[str, Any] = {
        "general_settings": general,
        "model_list": [_model_entry(r, self_hosted) for r in gateway.routes],
    }
    if settings:
        out["litellm_settings"] = settings
    if gateway.fallbacks:
        out["router_settings"] = {"fallbacks": [{src: list(dst)} for src, dst in gateway.fallbacks]}
    return out


def digest(config_text: str) -> str:
    """sha256 of the config text, put on the pod/revision template so a changed config rolls it."""
    return sha256_hex(config_text)


__all__ = ["ARGS", "CONFIG_DIR", "CONFIG_PATH", "IMAGE", "LIVENESS_PATH", "PORT", "PROVIDERS", "PROXY_ENV",
           "READINESS_PATH", "REDIS_ENV", "config", "digest", "name", "needs", "proxy_env", "route_secrets",
           "self_hosted_routes"]
