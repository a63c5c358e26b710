"""docker-compose.yaml: MLflow, one model server per environment, a traffic router, the monitor."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.targets.tags import compose_labels

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

MLFLOW_IMAGE = "ghcr.io/mlflow/mlflow:v3.18.0"


def compose(project: ir.Project, port: int, dockerfile_text: str) -> dict[str, Any]:
    """Run from the repository root: `docker compose -f OUT/local/docker-compose.yaml --project-directory .`

    The Dockerfile is inlined so the build does not depend on where the bundle was written.
    """
    spec = project.spec_path
    environment = {"MLFLOW_TRACKING_URI": "http://mlflow:5000", "MLOPSC_SPEC": spec}
    services: dict[str, Any] = {
        "mlflow": {
            "image": MLFLOW_IMAGE,
            "command": ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000",
                        "--backend-store-uri", "sqlite:////mlflow/mlflow.db", "--artifacts-destination",
                        "/mlflow/artifacts"],
            "ports": ["127.0.0.1:5000:5000"],
            "volumes": ["mlflow-data:/mlflow"],
            "healthcheck": {"test": ["CMD", "python", "-c",
                                     "import urllib.request; urllib.request.urlopen('http://localhost:5000/health')"],
                            "interval": "10s", "timeout": "5s", "retries": 5},
        },
        "train": _mlopsc_service(["run", spec, "--pipeline", "train"], environment, dockerfile_text),
    }
    services["train"]["profiles"] = ["train"]
    if project.deployment:
        for i, env in enumerate(project.deployment.environments):
            services[f"model-{env.name}"] = {
                **_mlopsc_service(["serve", spec, "--environment", env.name, "--host", "0.0.0.0", "--port", "8080"],
                                  environment, dockerfile_text),
                "ports": [f"127.0.0.1:{port + i}:8080"],
                "restart": "unless-stopped",
            }
    if project.monitoring:
        # `mlopsc monitor` reads the new data to check from MLOPSC_MONITOR_DATA (a path in the image
        # or the mounted work directory), passed through from the host's environment
        monitor_env = {**environment, "MLOPSC_MONITOR_DATA": "${MLOPSC_MONITOR_DATA:-}"}
        services["monitor"] = {
            **_mlopsc_service(["monitor", spec, "--schedule", project.monitoring.schedule], monitor_env,
                              dockerfile_text),
            "restart": "unless-stopped",
        }
    for service in services.values():  # the spec's labels on every container, as on the clouds
        service["labels"] = compose_labels(project)
    return {
        "name": project.name,
        "services": services,
        "volumes": {"mlflow-data": {}, "mlopsc-work": {}},
    }


def _mlopsc_service(command: list[str], environment: dict[str, str], dockerfile_text: str) -> dict[str, Any]:
    return {
        "build": {"context": ".", "dockerfile_inline": dockerfile_text},
        "image": "${MLOPSC_IMAGE:-mlopsc-local:latest}",
        "command": command,
        "environment": dict(environment),
        "volumes": ["mlopsc-work:/app/.mlopsc"],
        "depends_on": {"mlflow": {"condition": "service_healthy"}},
    }
