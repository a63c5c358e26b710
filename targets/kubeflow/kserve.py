"""KServe `InferenceService` (serving.kserve.io/v1beta1) per deployment environment.

The file is the template the deploy pipeline's rollout step applies: the step sets
`spec.predictor.model.storageUri` (`STORAGE_URI` on a custom container) to the registered model
version's MLflow model directory at run time (so the file stays a pure function of the spec) and walks `canaryTrafficPercent` through the
strategy's steps; removing the field promotes, `0` rolls back (KServe keeps the previous
revision). Canary traffic splitting and scale to zero need KServe's Serverless (Knative) mode,
so the mode is pinned with an annotation instead of left to the cluster default.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.targets import llm_serving
from mlopsc.targets.kfp_ir.platform import GPU_TOLERATION, gpu_node_labels
from mlopsc.targets.kfp_ir.resources import GPU_RESOURCE, cpu_quantity, memory_quantity
from mlopsc.targets.tags import k8s_labels

from . import collector
from .settings import settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

API_VERSION = "serving.kserve.io/v1beta1"
CUSTOM_PORT = 8080  # KServe's default for a custom predictor container

# spec runtime -> (KServe model format, ServingRuntime, protocol)
RUNTIMES = {
    "mlflow": ("mlflow", "kserve-mlserver", "v2"),
    "torchserve": ("pytorch", "kserve-torchserve", None),
    "triton": ("triton", "kserve-tritonserver", "v2"),
    "vllm": ("huggingface", "kserve-huggingfaceserver", None),
}


def service_name(project: ir.Project, env: ir.Environment) -> str:
    from mlopsc.resource_names import kserve_service  # every target's names, in one place

    return kserve_service(project.registry.model, env.name)


def initial_canary_percent(strategy: ir.Strategy) -> int | None:
    """`canaryTrafficPercent` the new revision starts with; None sends it all traffic."""
    if strategy.type == "canary":
        return strategy.steps[0]
    if strategy.type == "blue_green":
        return 0  # green is up and reachable by its tag, with no traffic, until it passes
    if strategy.type == "ab_test" and strategy.split is not None:
        return round(strategy.split * 100)
    return None


def _resources(res: ir.Resources) -> dict[str, Any]:
    amounts = {"cpu": cpu_quantity(res.cpu), "memory": memory_quantity(res.memory_bytes)}
    if res.gpu_count:
        amounts[GPU_RESOURCE] = str(res.gpu_count)
    return {"limits": dict(amounts), "requests": dict(amounts)}


def _model(project: ir.Project, name: str) -> tuple[dict[str, Any], ir.Resources, ir.Autoscaling]:
    llm = project.llm.serving if project.llm else None
    if llm is not None:
        return llm_serving.kserve_model(project), llm_serving.sized_resources(project), llm.autoscaling
    serving = project.deployment.serving
    fmt, runtime, protocol = RUNTIMES.get(serving.runtime, (None, None, None))
    if fmt is None:  # custom: the project image serves /mnt/models in KServe's V1 protocol on 8080
        model = {"command": ["python", "-m", "mlopsc.runtime.kserve_serve", "--model-name", name],
                 "image": f"{project.image.repository or project.name}:latest", "name": "kserve-container",
                 "ports": [{"containerPort": CUSTOM_PORT, "protocol": "TCP"}]}
    else:
        model = {"modelFormat": {"name": fmt}, "runtime": runtime}
        if protocol:
            model["protocolVersion"] = protocol
    return model, serving.resources, serving.autoscaling


def inference_service(project: ir.Project, env: ir.Environment) -> dict[str, Any]:
    s = settings(project)
    model, res, scaling = _model(project, service_name(project, env))
    model["resources"] = _resources(res)
    predictor: dict[str, Any] = {"maxReplicas": scaling.max_replicas, "minReplicas": scaling.min_replicas}
    if "image" in model:
        predictor["containers"] = [model]
    else:
        predictor["model"] = model
    if scaling.target_concurrency:
        predictor.update({"scaleMetric": "concurrency", "scaleTarget": scaling.target_concurrency})
    percent = initial_canary_percent(env.strategy)
    if percent is not None:
        predictor["canaryTrafficPercent"] = percent
    if res.gpu_count:
        labels = gpu_node_labels(res, s.node_selectors)
        if labels:
            predictor["nodeSelector"] = labels
        predictor["tolerations"] = [dict(GPU_TOLERATION)]
    if s.service_account:
        predictor["serviceAccountName"] = s.service_account
    logger = collector.logger_block(project, env)  # requests and responses to the capture collector
    if logger:
        predictor["logger"] = logger
    annotations = {"serving.kserve.io/deploymentMode": "Serverless"}
    if env.strategy.type == "blue_green":
        annotations["serving.kserve.io/enable-tag-routing"] = "true"
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {
            "annotations": annotations,
            "labels": {**k8s_labels(project), "app.kubernetes.io/managed-by": "mlopsc",
                       "app.kubernetes.io/name": project.registry.model,
                       "mlopsc.dev/environment": env.name, "mlopsc.dev/strategy": env.strategy.type},
            "name": service_name(project, env),
            "namespace": s.namespace,
        },
        "spec": {"predictor": predictor},
    }
