"""Every target's final resource names for a deployment, computed in one place.

The targets call these functions for the names they write (KServe InferenceServices, SageMaker
endpoints and stacks, Vertex endpoints), and validate calls `deployment_names` to report, at the
environment's name, two environments that end up with the same name after a platform's rules
(E628) and names longer than the platform allows (E629). Pure string work: validate imports
this without importing any target.
"""

from __future__ import annotations

import re

from .ir_node import Node, node

KUBERNETES_NAME = 63  # a DNS-1035 label: what a Service name may be
KSERVE_PREDICTOR = "-predictor"  # KServe names the predictor's Service `<name>-predictor`
SAGEMAKER_NAME = 63  # EndpointName, EndpointConfigName, ModelName
VERTEX_DISPLAY_NAME = 128
_VERTEX_ID = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")


@node  # a frozen dataclass without generated code (see ir_node)
class ResourceName(Node):
    target: str
    kind: str  # what the name is, in the platform's words
    environment: str
    name: str  # as written into the compiled files
    limit: int  # the longest `name` the platform accepts
    full: str  # before a target's truncation; equal to `name` when the target does not truncate


def kserve_service(model: str, environment: str) -> str:
    return f"{model}-{environment}"


def kserve_challenger(model: str, environment: str) -> str:
    """The shadow strategy's challenger InferenceService."""
    return f"{kserve_service(model, environment)}-shadow"


def sagemaker_resource(*parts: str, limit: int = SAGEMAKER_NAME) -> str:
    """Endpoint, model and job-definition names: `[a-zA-Z0-9](-*[a-zA-Z0-9])*`, at most `limit`."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", "-".join(parts)).strip("-")
    return re.sub(r"-{2,}", "-", name)[:limit].rstrip("-")


def vertex_endpoint_display(model: str, environment: str) -> str:
    return f"{model}-{environment}"


def vertex_endpoint_id(project: str, environment: str) -> str:
    """`CreateEndpointRequest.endpoint_id`: at most 63 characters of `[a-z0-9-]`, starting with a
    letter and ending in a letter or digit. Other characters become `-`; a name that does not
    start with a letter gets `e-` in front; an id longer than 63 characters is cut to 54 and ends
    in `-` + 8 hex digits of its sha256, so distinct names stay distinct."""
    full = f"{project}-{environment}"
    found = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", full.lower())).strip("-")
    if not found[:1].isalpha():
        found = f"e-{found}"
    if len(found) > 63:
        import hashlib  # here: loading OpenSSL is a cost every validate paid for rare long names

        found = f"{found[:54].rstrip('-')}-{hashlib.sha256(full.encode()).hexdigest()[:8]}"
    assert _VERTEX_ID.match(found), found
    return found


def deployment_names(project: str, model: str, environments: list[tuple[str, str]],
                     targets: list[str]) -> list[ResourceName]:
    """The names each of `targets` gives the environments, given as (name, strategy type)."""
    found: list[ResourceName] = []
    limit = KUBERNETES_NAME - len(KSERVE_PREDICTOR)
    for env, strategy in environments:
        if "kubeflow" in targets:
            service = kserve_service(model, env)
            found.append(ResourceName("kubeflow", "InferenceService", env, service, limit, service))
            if strategy == "shadow":
                challenger = kserve_challenger(model, env)
                found.append(ResourceName("kubeflow", "shadow InferenceService", env, challenger, limit, challenger))
        if "sagemaker" in targets:
            full = f"{project}-{env}"
            found.append(ResourceName("sagemaker", "endpoint and stack", env, sagemaker_resource(project, env),
                                      SAGEMAKER_NAME, full))
        if "vertex" in targets:
            display = vertex_endpoint_display(model, env)
            found.append(ResourceName("vertex", "endpoint", env, vertex_endpoint_id(project, env), 63, f"{project}-{env}"))
            found.append(ResourceName("vertex", "endpoint display name", env, display, VERTEX_DISPLAY_NAME, display))
    return found
