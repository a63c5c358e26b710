"""The Vertex AI API as the rollout, smoke and load test steps use it: aiplatform's GAPIC clients
over REST, the endpoint's traffic split, long-running operations, and errors as one line.

Where the steps reach Vertex:

- `MLOPSC_VERTEX_API_ENDPOINT`: the API host (default `<region>-aiplatform.googleapis.com`);
  an `http://` URL is an emulator or a test server and is called without credentials.
- `MLOPSC_VERTEX_OPERATION_TIMEOUT`: seconds to wait for a long-running operation (upload,
  deploy, undeploy; default 3600: a first deployment on GPUs takes tens of minutes).

Credentials are Application Default Credentials: a Vertex custom job's service account.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

from mlopsc.runtime.steps import StepContext, StepFailed

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
NEW_MODEL = "0"  # DeployModelRequest.traffic_split's key for the model being deployed


@dataclass(frozen=True)
class Where:
    """The GCP project, region and endpoint id a step acts on (its compiled args)."""

    project: str
    region: str
    endpoint_id: str

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    @property
    def endpoint(self) -> str:
        return f"{self.parent}/endpoints/{self.endpoint_id}"

    @classmethod
    def from_ctx(cls, ctx: StepContext, endpoint: str | None = None) -> Where:
        """From the step's args, or from an endpoint resource name (the smoke and load tests)."""
        if endpoint and endpoint.startswith("projects/"):
            parts = endpoint.split("/")
            return cls(project=parts[1], region=parts[3], endpoint_id=parts[5])
        missing = [k for k in ("project", "region", "endpoint_id") if not ctx.args.get(k)]
        if missing:
            raise StepFailed(f"the vertex step has no {', '.join(missing)} argument (compile the spec again)")
        return cls(project=ctx.args["project"], region=ctx.args["region"], endpoint_id=ctx.args["endpoint_id"])


def api_endpoint(region: str) -> str:
    return os.environ.get("MLOPSC_VERTEX_API_ENDPOINT") or f"{region}-aiplatform.googleapis.com"


def credentials(region: str) -> Any:
    if api_endpoint(region).startswith("http://"):
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()
    import google.auth

    try:
        found, _ = google.auth.default(scopes=list(SCOPES))
    except google.auth.exceptions.DefaultCredentialsError as e:
        raise StepFailed(f"no Google credentials for Vertex: {e}") from None
    return found


def access_token(region: str) -> str | None:
    """A bearer token of the step's credentials (Cloud Monitoring's PromQL API); None for a test server."""
    creds = credentials(region)
    if api_endpoint(region).startswith("http://"):
        return None
    import google.auth.transport.requests

    creds.refresh(google.auth.transport.requests.Request())
    return creds.token


def client(kind: str, region: str) -> Any:
    """An aiplatform_v1 GAPIC client (`endpoint`, `model`, `prediction`) over REST."""
    return cached_client(kind, region, api_endpoint(region))


@functools.cache
def cached_client(kind: str, region: str, host: str) -> Any:
    from google.cloud import aiplatform_v1

    cls = {"endpoint": aiplatform_v1.EndpointServiceClient, "model": aiplatform_v1.ModelServiceClient,
           "prediction": aiplatform_v1.PredictionServiceClient}[kind]
    return cls(credentials=credentials(region), transport="rest",
               client_options={"api_endpoint": host})


def operation_timeout() -> float:
    return float(os.environ.get("MLOPSC_VERTEX_OPERATION_TIMEOUT") or 3600)


def wait(operation: Any, what: str) -> Any:
    """The result of a long-running operation; StepFailed naming `what` when it fails or times out."""
    import concurrent.futures

    from google.api_core import exceptions

    try:
        return operation.result(timeout=operation_timeout())
    except (concurrent.futures.TimeoutError, exceptions.RetryError):
        raise StepFailed(f"{what}: not done after {operation_timeout():g} s (operation "
                         f"{operation.operation.name})") from None
    except exceptions.GoogleAPICallError as e:
        raise StepFailed(f"{what} failed: {one_line(e)}") from None


def one_line(error: Exception) -> str:
    message = getattr(error, "message", None) or str(error)
    code = getattr(error, "code", None)
    text = f"{getattr(code, 'name', code)}: {message}" if code else str(message)
    return " ".join(text.split())[:500]


def api_errors(what: str):
    """Turn Google API errors raised inside into one-line StepFailed naming `what`."""
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from google.api_core import exceptions

            try:
                return fn(*args, **kwargs)
            except exceptions.GoogleAPIError as e:
                raise StepFailed(f"{what}: {one_line(e)}") from None
        return wrapper
    return decorate


def split_with(current: dict[str, int], new_id: str, percent: int) -> dict[str, int]:
    """`new_id` at `percent`; the models serving now keep the rest in proportion (integers
    summing to 100, the largest remainders rounded up; ties by id, so the split is deterministic)."""
    others = {k: v for k, v in current.items() if k != new_id and v > 0}
    rest = 100 - percent
    if not others:
        return {new_id: 100}
    total = sum(others.values())
    exact = {k: rest * v / total for k, v in others.items()}
    split = {k: int(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: (split[k] - exact[k], k))[:rest - sum(split.values())]:
        split[k] += 1
    split = {k: v for k, v in split.items() if v > 0}
    if percent > 0:
        split[new_id] = percent
    return dict(sorted(split.items()))


def describe_split(split: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}%" for k, v in sorted(split.items())) or "no traffic"
