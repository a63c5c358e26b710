"""Calling a KServe InferenceService in the protocol its runtime speaks.

- `runtime: mlflow` is served by KServe's MLflow runtime (MLServer + mlserver-mlflow): the Open
  Inference (V2) protocol, `POST /v2/models/<name>/infer` with one input per column and the
  request-level `content_type: pd` (MLServer decodes it into the DataFrame the pyfunc gets),
  `GET /v2/models/<name>/ready`;
- `runtime: custom` (the project image, `runtime/kserve_serve.py`) and the others: KServe's V1
  protocol, `POST /v1/models/<name>:predict` with `{"instances": [...]}` -> `{"predictions": [...]}`,
  `GET /v1/models/<name>`.

`<name>` is the InferenceService's name (KServe names the model after it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from mlopsc.runtime.httpbase import Upstream

V2_RUNTIMES = frozenset({"mlflow"})


def _datatype(values: list) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "BOOL"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "INT64"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "FP64"
    return "BYTES"


def v2_request(rows: Sequence[dict]) -> dict:
    """Rows (JSON objects) as a V2 inference request of one column per input, decoded as a DataFrame."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    inputs = []
    for col in columns:
        values = [row.get(col) for row in rows]
        dtype = _datatype(values)
        data = [float(v) for v in values] if dtype == "FP64" else [
            v if dtype != "BYTES" or isinstance(v, str) else json.dumps(v) for v in values]
        inputs.append({"name": col, "shape": [len(rows)], "datatype": dtype, "data": data})
    return {"inputs": inputs, "parameters": {"content_type": "pd"}}


def v2_predictions(response: Any) -> list | None:
    """The first output's data from a V2 response (one prediction per row), None if it has none."""
    outputs = response.get("outputs") if isinstance(response, dict) else None
    if not outputs or not isinstance(outputs[0], dict) or not isinstance(outputs[0].get("data"), list):
        return None
    return outputs[0]["data"]


class Endpoint:
    """One InferenceService's URL, model name and protocol."""

    def __init__(self, url: str, name: str, runtime: str, *, timeout: float = 30.0):
        self.url, self.name, self.v2 = url.rstrip("/"), name, runtime in V2_RUNTIMES
        self.timeout = timeout

    @property
    def predict_url(self) -> str:
        return (f"{self.url}/v2/models/{self.name}/infer" if self.v2
                else f"{self.url}/v1/models/{self.name}:predict")

    @property
    def ready_url(self) -> str:
        return f"{self.url}/v2/models/{self.name}/ready" if self.v2 else f"{self.url}/v1/models/{self.name}"

    def body(self, rows: Sequence[dict]) -> bytes:
        return json.dumps(v2_request(rows) if self.v2 else {"instances": list(rows)}).encode()

    def predictions(self, response: Any) -> list | None:
        if self.v2:
            return v2_predictions(response)
        return response.get("predictions") if isinstance(response, dict) else None

    def smoke_test(self, rows: Sequence[dict]) -> dict:
        client = Upstream(timeout=self.timeout)
        checks = []
        try:
            status, _ = client.get(self.ready_url)
            checks.append({"check": "model ready", "passed": status == 200, "status": status,
                           "detail": None if status == 200 else f"GET {self.ready_url} answered {status}"})
            status, raw, _ = client.request("POST", self.predict_url, self.body(rows),
                                            {"Content-Type": "application/json"})
            out = _json(raw)
            got = self.predictions(out)
            ok = status == 200 and got is not None and len(got) == len(rows)
            checks.append({"check": "predict", "passed": ok, "status": status,
                           "detail": None if ok else f"POST {self.predict_url}: {str(out)[:500]}"})
        except OSError as e:
            checks.append({"check": "reachable", "passed": False, "detail": f"{self.url}: {e}"})
        return {"url": self.predict_url, "passed": all(c["passed"] for c in checks), "checks": checks}

    def sender(self) -> Callable[[], Callable[[bytes], int]]:
        """For `traffic.paced`: its `{"instances": [...]}` bodies re-encoded in this protocol."""

        def client() -> Callable[[bytes], int]:
            upstream = Upstream(timeout=self.timeout)

            def send(body: bytes) -> int:
                try:
                    rows = json.loads(body)["instances"]
                    status, _, _ = upstream.request("POST", self.predict_url, self.body(rows),
                                                    {"Content-Type": "application/json"})
                except OSError:
                    status = 599
                return status

            return send

        return client


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw[:500].decode("utf-8", "replace")
