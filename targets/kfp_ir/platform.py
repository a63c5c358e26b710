"""kfp-kubernetes executor configs (the PlatformSpec document): GPU placement, secrets, deadlines.

Config is per executor, not per task (kfp-kubernetes' model), so every step has its own executor.
Both the deprecated and the current secret fields are written (`secretName` and
`secretNameParameter`), as kfp-kubernetes 2.17 does, so older and newer backends read them.
"""

from __future__ import annotations

from mlopsc import ir

from .resources import GPU_RESOURCE
from .secrets import SECRET_KEY, env_var, k8s_secret_name, secrets_for_step

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"

# NVIDIA GPU feature discovery's product label values; `targets.kubeflow.node_selectors` overrides.
DEFAULT_GPU_PRODUCTS = {
    "nvidia-t4": "Tesla-T4",
    "nvidia-l4": "NVIDIA-L4",
    "nvidia-a10g": "NVIDIA-A10G",
    "nvidia-v100": "Tesla-V100-SXM2-16GB",
    "nvidia-a100": "NVIDIA-A100-SXM4-40GB",
    "nvidia-a100-80gb": "NVIDIA-A100-SXM4-80GB",
    "nvidia-h100": "NVIDIA-H100-80GB-HBM3",
}

GPU_TOLERATION = {"effect": "NoSchedule", "key": GPU_RESOURCE, "operator": "Exists"}


def gpu_node_labels(res: ir.Resources, node_selectors: dict[str, str]) -> dict[str, str]:
    """`targets.kubeflow.node_selectors` (GPU type -> product label) over the defaults."""
    product = node_selectors.get(res.gpu_type) or DEFAULT_GPU_PRODUCTS.get(res.gpu_type or "")
    return {GPU_PRODUCT_LABEL: product} if product else {}


def secret_as_env(name: str) -> dict[str, Any]:
    secret = k8s_secret_name(name)
    return {
        "keyToEnv": [{"envVar": env_var(name), "secretKey": SECRET_KEY}],
        "secretName": secret,
        "secretNameParameter": {"runtimeValue": {"constant": secret}},
    }


def kubernetes_executor_config(step: ir.Step, project: ir.Project, settings: Any) -> dict[str, Any]:
    """`settings`: the target's typed settings (`node_selectors` is read)."""
    from mlopsc.targets.tags import k8s_labels

    cfg: dict[str, Any] = {"podMetadata": {"labels": k8s_labels(project)}}  # billing groups pods by label
    res = step.resources
    if res is not None and res.gpu_count:
        labels = gpu_node_labels(res, settings.node_selectors)
        if labels:
            cfg["nodeSelector"] = {"labels": labels}
        cfg["tolerations"] = [dict(GPU_TOLERATION)]
    if step.max_runtime_seconds:
        cfg["activeDeadlineSeconds"] = step.max_runtime_seconds
    secrets = secrets_for_step(step, project)
    if secrets:
        cfg["secretAsEnv"] = [secret_as_env(n) for n in secrets]
    return cfg
