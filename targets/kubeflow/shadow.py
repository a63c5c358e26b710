"""Shadow rollout on KServe Serverless: a challenger InferenceService and an Istio mirror.

KServe has no request mirroring of its own, but its Serverless mode runs on Knative + Istio, and
Istio's `VirtualService` mirrors natively. For an environment with `strategy: {type: shadow}`:

- the champion stays `kserve.inference_service(project, env)` (`<model>-<env>`), serving every
  response;
- the challenger is its own InferenceService `<model>-<env>-shadow`, in RawDeployment mode so its
  predictor is a plain ClusterIP Service (`<name>-predictor`, port 80) that answers whatever Host
  header it gets: Istio suffixes a mirrored request's Host with `-shadow`, which Knative's
  host-based routing would not match;
- a `VirtualService` (networking.istio.io/v1) bound to the mesh on the environment's host
  (`<model>-<env>.<namespace>.svc.cluster.local`) routes 100% to the champion and mirrors
  `sample` of the requests to the challenger; mirrored responses are discarded by the proxy.

The deploy pipeline's rollout step (`--arg strategy=shadow --arg sample=... --arg duration=...`
plus the rollback thresholds) applies the challenger with the registered model's storageUri and
then the VirtualService, watches the challenger's error rate and p99 latency for `duration`, and
then promotes (the champion takes the challenger's storageUri) or tears the challenger and the
VirtualService down.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.targets.tags import k8s_labels

from .kserve import inference_service, service_name
from .settings import settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

ISTIO_API_VERSION = "networking.istio.io/v1"
PREDICTOR_PORT = 80


def namespace(project: ir.Project) -> str:
    return settings(project).namespace


def challenger_name(project: ir.Project, env: ir.Environment) -> str:
    from mlopsc.resource_names import kserve_challenger  # every target's names, in one place

    return kserve_challenger(project.registry.model, env.name)


def cluster_host(name: str, ns: str) -> str:
    return f"{name}.{ns}.svc.cluster.local"


def challenger_service(project: ir.Project, env: ir.Environment) -> dict[str, Any]:
    """The challenger InferenceService: the champion's template, renamed, in RawDeployment mode."""
    manifest = inference_service(project, env)
    meta = manifest["metadata"]
    meta["name"] = challenger_name(project, env)
    meta["annotations"]["serving.kserve.io/deploymentMode"] = "RawDeployment"
    meta["labels"]["mlopsc.dev/role"] = "challenger"
    predictor = manifest["spec"]["predictor"]
    predictor.pop("canaryTrafficPercent", None)
    # RawDeployment cannot scale to zero, and a mirror target must be up to receive traffic
    predictor["minReplicas"] = max(1, predictor.get("minReplicas", 1))
    predictor["maxReplicas"] = max(predictor["minReplicas"], predictor.get("maxReplicas", 1))
    return manifest


def virtual_service(project: ir.Project, env: ir.Environment) -> dict[str, Any]:
    """Istio VirtualService: all traffic to the champion, `sample` of it mirrored to the challenger."""
    ns = namespace(project)
    champion = service_name(project, env)
    percent = round((env.strategy.sample or 0.0) * 100, 6)
    return {
        "apiVersion": ISTIO_API_VERSION,
        "kind": "VirtualService",
        "metadata": {
            # KServe names its own VirtualServices after the InferenceServices; this name is free
            "name": f"{champion}-mirror",
            "namespace": ns,
            "labels": {**k8s_labels(project), "app.kubernetes.io/managed-by": "mlopsc",
                       "app.kubernetes.io/name": project.registry.model,
                       "mlopsc.dev/environment": env.name, "mlopsc.dev/strategy": "shadow"},
        },
        "spec": {
            "gateways": ["mesh"],
            "hosts": [cluster_host(champion, ns)],
            "http": [{
                "name": "champion-with-shadow",
                "mirror": {"host": cluster_host(f"{challenger_name(project, env)}-predictor", ns),
                           "port": {"number": PREDICTOR_PORT}},
                "mirrorPercentage": {"value": float(percent)},
                "route": [{"destination": {"host": cluster_host(champion, ns), "port": {"number": PREDICTOR_PORT}},
                           "weight": 100}],
            }],
        },
    }
