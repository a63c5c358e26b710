"""Checks every cloud target (kubeflow, sagemaker, vertex) makes in its `unsupported.py`: the
tracking store must be one every step reaches, and the image registry should be one the
platform pulls from."""

from __future__ import annotations

import re

from mlopsc import ir
from mlopsc.contract import REF
from mlopsc.diagnostics import Diagnostic

from .base import cannot_express, note

SHARED_STORE_HINT = ("set `tracking.uri` to a tracking server every step reaches: `${env:MLFLOW_TRACKING_URI}`, "
                     "`${secret:NAME}`, or an http(s):// or databricks URI")
LOCAL_SCHEMES = ("sqlite", "file")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")  # two letters at least: `C:\...` is a path
REGISTRIES = {
    "aws": re.compile(r"^[^/]+\.dkr\.ecr(-fips)?\.[^/]+\.amazonaws\.com(\.cn)?/"),
    "gcp": re.compile(r"^([a-z0-9-]+-docker\.pkg\.dev|([a-z]+\.)?gcr\.io)/"),
}
REGISTRY_NAMES = {"aws": "Amazon ECR", "gcp": "Google Artifact Registry / Container Registry"}


def local_store(uri: str | None) -> bool:
    """Whether a tracking URI names a store inside one machine: none (the embedded SQLite file),
    `sqlite:`, `file:` or a plain path. `${env:...}`/`${secret:...}` are decided at run time."""
    if not uri:
        return True
    if REF.match(uri):  # starts with a reference: its value is known at run time only
        return False
    scheme = _SCHEME.match(uri)
    return scheme is None or scheme.group(1).lower() in LOCAL_SCHEMES


def shared_tracking(target: str, project: ir.Project) -> list[Diagnostic]:
    """E701 when the steps would each log to their own container's store: the model trained in
    one step could not be found by the evaluate and register steps after it."""
    tracking = project.tracking
    if not local_store(tracking.uri):
        return []
    if tracking.uri:
        what = f"the local tracking store `{tracking.uri}`"
    else:
        what = "the default tracking store (an SQLite file inside each step's container)"
    reason = ": each step runs in its own container, so the runs and models one step logs are lost to the next"
    return [cannot_express(target, tracking.uri_span, what + reason, SHARED_STORE_HINT)]


def registry_of(repository: str | None) -> str | None:
    """The cloud whose registry holds `image.repository` ("aws", "gcp"), None for any other."""
    for cloud, pattern in REGISTRIES.items():
        if repository and pattern.match(repository):
            return cloud
    return None


def foreign_registry(target: str, project: ir.Project, home: str) -> list[Diagnostic]:
    """W702 when the image lies in another cloud's registry than `home`, the target's own: the
    platform cannot pull it without credentials it does not have."""
    found = registry_of(project.image.repository)
    if found is None or found == home:
        return []
    return [note(target, project.image.repository_span,
                 f"`image.repository` is in {REGISTRY_NAMES[found]}, which this platform does not pull from "
                 f"without extra credentials; push the image to {REGISTRY_NAMES[home]} (`mlopsc build --push` "
                 "pushes to `image.repository`)")]


def captured_environment(project: ir.Project) -> ir.Environment | None:
    """The environment whose traffic is captured for the monitor's drift and performance checks
    (the last, production), when the spec has either."""
    m = project.monitoring
    if m is None or (m.drift is None and m.performance is None) or not project.deployment:
        return None
    return project.deployment.environments[-1] if project.deployment.environments else None
