"""The Kubernetes REST API for KServe InferenceServices, as a pod inside a Kubeflow run sees it.

Standard library only (no kubernetes client): the rollout step needs four calls (GET, POST,
PUT, a JSON merge PATCH) on one resource. In a pod, the API is `https://$KUBERNETES_SERVICE_HOST:
$KUBERNETES_SERVICE_PORT` with the service account's token and CA under
`/var/run/secrets/kubernetes.io/serviceaccount`; `MLOPSC_KUBE_API` overrides the address (and a
plain `http://` one is spoken without TLS or a token, for tests and `kubectl proxy`).

Errors are one line (`KubeError`, a `StepFailed`) naming the API and what was asked.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from mlopsc.runtime.steps import StepFailed

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
GROUP_VERSION = "serving.kserve.io/v1beta1"
MERGE_PATCH = "application/merge-patch+json"


class KubeError(StepFailed):
    """The Kubernetes API did not answer, or refused a request."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def in_cluster_api() -> str:
    override = os.environ.get("MLOPSC_KUBE_API")
    if override:
        return override.rstrip("/")
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise KubeError("no Kubernetes API: KUBERNETES_SERVICE_HOST is not set (the rollout step runs in a pod "
                        "of the cluster; set MLOPSC_KUBE_API to reach one from elsewhere)")
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"https://{host}:{port}"


class KubeClient:
    """One kind of namespaced custom resource (InferenceServices unless told) in one namespace."""

    def __init__(self, namespace: str, api: str | None = None, *, timeout: float = 30.0,
                 group_version: str = GROUP_VERSION, plural: str = "inferenceservices"):
        self.api = (api or in_cluster_api()).rstrip("/")
        self.namespace = namespace
        self.timeout = timeout
        self.group_version, self.plural = group_version, plural

    def collection(self) -> str:
        return f"{self.api}/apis/{self.group_version}/namespaces/{self.namespace}/{self.plural}"

    def for_kind(self, group_version: str, plural: str) -> KubeClient:
        return KubeClient(self.namespace, self.api, timeout=self.timeout, group_version=group_version, plural=plural)

    def apply(self, manifest: dict) -> dict:
        """Create, or replace what is there (with its resourceVersion)."""
        current = self.get(manifest["metadata"]["name"])
        if current is None:
            return self.create(manifest)
        body = {**manifest, "metadata": {**manifest["metadata"],
                                         "resourceVersion": current["metadata"].get("resourceVersion")}}
        return self.replace(body)

    def delete(self, name: str) -> None:
        try:
            self._call("DELETE", f"{self.collection()}/{name}")
        except KubeError as e:
            if e.status != 404:
                raise

    def get(self, name: str) -> dict | None:
        """The InferenceService, or None when there is none of that name."""
        try:
            return self._call("GET", f"{self.collection()}/{name}")
        except KubeError as e:
            if e.status == 404:
                return None
            raise

    def create(self, manifest: dict) -> dict:
        return self._call("POST", self.collection(), manifest)

    def replace(self, manifest: dict) -> dict:
        return self._call("PUT", f"{self.collection()}/{manifest['metadata']['name']}", manifest)

    def patch(self, name: str, patch: dict) -> dict:
        return self._call("PATCH", f"{self.collection()}/{name}", patch, MERGE_PATCH)

    # -- transport

    def _call(self, method: str, url: str, body: dict | None = None, content_type: str = "application/json") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=self._headers(content_type))
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._tls()) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            raise KubeError(f"Kubernetes API {self.api}: {method} {url.removeprefix(self.api)} answered HTTP "
                            f"{e.code}: {_status_message(e)}", e.code) from None
        except (urllib.error.URLError, OSError) as e:
            raise KubeError(f"Kubernetes API {self.api} does not answer: {getattr(e, 'reason', e)}") from None

    def _headers(self, content_type: str) -> dict[str, str]:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        token = SERVICE_ACCOUNT / "token"
        if self.api.startswith("https://") and token.is_file():
            headers["Authorization"] = "Bearer " + token.read_text().strip()
        return headers

    def _tls(self) -> ssl.SSLContext | None:
        if not self.api.startswith("https://"):
            return None
        ca = SERVICE_ACCOUNT / "ca.crt"
        return ssl.create_default_context(cafile=str(ca) if ca.is_file() else None)


def _status_message(error: urllib.error.HTTPError) -> str:
    """The API server's `Status.message`, else the reason phrase."""
    try:
        body = json.loads(error.read())
    except (ValueError, OSError):
        return str(error.reason)
    return body.get("message") or str(error.reason) if isinstance(body, dict) else str(error.reason)


__all__ = ["GROUP_VERSION", "KubeClient", "KubeError", "in_cluster_api"]
