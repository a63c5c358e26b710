"""The serving container of the Vertex Model the deploy pipeline uploads (`containerSpec`).

The image is the step image (`mlopsc build`), filled in at run time from the pipeline's `image`
parameter; everything else is compiled here so a reviewer sees how the endpoint starts it:
`mlopsc vertex-serve` (runtime/vertex_serve.py) reads `AIP_STORAGE_URI`, listens on
`AIP_HTTP_PORT` (Vertex sets it from the first port below) and answers `AIP_HEALTH_ROUTE` and
`AIP_PREDICT_ROUTE` (Vertex sets them from the routes below).
"""

from __future__ import annotations

from mlopsc import ir

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

PORT = 8080
HEALTH_ROUTE, PREDICT_ROUTE = "/health", "/predict"
COMMAND = ("mlopsc", "vertex-serve")


def container_spec(project: ir.Project) -> dict[str, Any]:
    """`ModelContainerSpec` without `imageUri` (REST field names)."""
    return {
        "command": list(COMMAND),
        "env": [{"name": "MLOPSC_MODEL", "value": project.registry.model}],
        "ports": [{"containerPort": PORT}],
        "healthRoute": HEALTH_ROUTE,
        "predictRoute": PREDICT_ROUTE,
    }
