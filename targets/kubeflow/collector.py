"""The capture collector of the Kubeflow bundle: a Deployment and a Service running the project
image's `mlopsc capture-collector`, which receives the monitored InferenceService's logger
CloudEvents (`logger_block`) and writes them where the monitor pipeline's drift and performance
steps read them (`runtime/captures.py`): beside the drift reference dataset when it is in object
storage (`<its folder>/captures/<environment>`, the bucket and credentials the steps already use;
the collector runs as `targets.kubeflow.service_account`), else in KFP's own object store (MinIO
in the `kubeflow` namespace, bucket `mlpipeline`, KFP's `mlpipeline-minio-artifact` credentials)."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.targets.tags import k8s_labels

from ..cloud import captured_environment
from .settings import settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

CAPTURE_BUCKET = "s3://mlpipeline/mlopsc/captures"
MINIO_ENDPOINT = "http://minio-service.kubeflow:9000"
MINIO_SECRET = "mlpipeline-minio-artifact"  # KFP's own object store credentials (accesskey, secretkey)
PORT = 8080


def capture_uri(project: ir.Project, environment: str) -> str:
    """Where the collector writes, and the monitor reads, one environment's captured traffic."""
    beside = _data_folder(project)
    if beside:
        return f"{beside}/captures/{environment}"
    return f"{CAPTURE_BUCKET}/{project.name}/{environment}"


def _data_folder(project: ir.Project) -> str | None:
    """The folder of the drift reference (else the first dataset) when it is in S3 or GCS."""
    data, m = project.data, project.monitoring
    if data is None or not data.datasets:
        return None
    ds = data.dataset(m.drift.reference) if m and m.drift else None
    uri = (ds or data.datasets[0]).uri
    return uri.rsplit("/", 1)[0] if uri.startswith(("s3://", "gs://")) and uri.count("/") > 2 else None


monitored = captured_environment


def collector_name(project: ir.Project) -> str:
    return f"{project.name}-capture-collector"[:63].rstrip("-")


def logger_block(project: ir.Project, env: ir.Environment) -> dict[str, Any] | None:
    """`predictor.logger` of the monitored environment's InferenceService (None for the others)."""
    if monitored(project) != env:
        return None
    namespace = settings(project).namespace
    return {"mode": "all", "url": f"http://{collector_name(project)}.{namespace}.svc.cluster.local"}


def sample_args(project: ir.Project) -> list[str]:
    """The spec's capture sample for the collector (KServe's logger itself sends every event)."""
    rate = project.monitoring.capture_sample if project.monitoring else 1.0
    return ["--sample", repr(rate)] if rate < 1 else []


def manifests(project: ir.Project) -> list[dict[str, Any]]:
    """The collector's Deployment and Service (empty when nothing is monitored)."""
    env = monitored(project)
    if env is None:
        return []
    name, namespace = collector_name(project), settings(project).namespace
    labels = {**k8s_labels(project), "app.kubernetes.io/managed-by": "mlopsc", "app.kubernetes.io/name": name,
              "mlopsc.dev/environment": env.name}
    selector = {"app.kubernetes.io/name": name}
    minio = [{"name": "AWS_ENDPOINT_URL", "value": MINIO_ENDPOINT}] + [
        {"name": var, "valueFrom": {"secretKeyRef": {"name": MINIO_SECRET, "key": key}}}
        for var, key in (("AWS_ACCESS_KEY_ID", "accesskey"), ("AWS_SECRET_ACCESS_KEY", "secretkey"))]
    container = {
        "name": "collector",
        "image": f"{project.image.repository or project.name}:latest",
        "command": ["mlopsc", "capture-collector", "--out", capture_uri(project, env.name), "--port", str(PORT),
                    *sample_args(project)],
        "env": [] if _data_folder(project) else minio,
        "ports": [{"containerPort": PORT, "name": "http"}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": PORT}},
        "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "256Mi"}},
    }
    if not container["env"]:
        del container["env"]
    pod: dict[str, Any] = {"containers": [container], "terminationGracePeriodSeconds": 30}
    if settings(project).service_account:
        pod["serviceAccountName"] = settings(project).service_account
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
                  "spec": {"replicas": 1, "selector": {"matchLabels": selector},
                           "template": {"metadata": {"labels": dict(labels)}, "spec": pod}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace,
                                                                   "labels": labels},
               "spec": {"selector": dict(selector), "ports": [{"name": "http", "port": 80, "targetPort": PORT}]}}
    return [deployment, service]


__all__ = ["capture_uri", "logger_block", "manifests"]
