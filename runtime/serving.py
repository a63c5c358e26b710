"""An HTTP model server: `POST /predict`, `GET /health`, `GET /metrics` (Prometheus text);
SageMaker's container contract names the same two `POST /invocations` and `GET /ping`.

    server = ModelServer(model, name="churn-classifier", version="3").start()
    ... POST {server.url}/predict  {"instances": [{"tenure_months": 3, ...}, ...]}
    ...   -> {"predictions": [0.81, ...], "model": "churn-classifier", "version": "3"}
    server.stop()

`model` is an MLflow pyfunc model (anything with `.predict(DataFrame)`) or a plain callable
taking the list of instances. With `.predict`, instances that are objects become DataFrame
rows (keys are columns); instances that are lists become rows of a 2-D array.

Every `/predict` answer carries an `X-Request-Id` header: the request's own when it sent one,
else a new id. With a `capture` writer (`captures.CaptureWriter`; `mlopsc.runtime.localserve`
sets one from `MLOPSC_CAPTURE_DIR`), each answered request is appended to the environment's
capture files under that id (docs/captures.md); requests the router mirrors to a shadow model
(`X-Mlopsc-Shadow: 1`) are marked `"shadow": true`.

Status codes: 200 ok; 400 bad request (not JSON, no `instances` list); 404 unknown path;
413 body too large; 500 the model raised. `/metrics` exposes, labelled with the model name:

- `mlopsc_requests_total{model,path,status}`: requests by path and status code;
- `mlopsc_errors_total{model,kind}`: `kind="model"` (the model raised) or `"bad_request"`;
- `mlopsc_predictions_total{model}`: instances predicted;
- `mlopsc_request_duration_seconds{model}`: a histogram of `/predict` latency.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from mlopsc.runtime.captures import CaptureWriter, request_id
from mlopsc.runtime.httpbase import HTTPService, JSONHandler

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Thread-safe counters and a latency histogram, rendered in Prometheus text format."""

    def __init__(self, model: str, buckets: Sequence[float] = LATENCY_BUCKETS):
        self.model = model
        self.buckets = tuple(sorted(buckets))
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = {}
        self.errors: dict[str, int] = {}
        self.predictions = 0
        self._bucket_counts = [0] * len(self.buckets)
        self.latency_count = 0
        self.latency_sum = 0.0

    def request(self, path: str, status: int) -> None:
        with self._lock:
            key = (path, status)
            self.requests[key] = self.requests.get(key, 0) + 1

    def error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    def predicted(self, instances: int, seconds: float) -> None:
        with self._lock:
            self.predictions += instances
            self.observe_latency(seconds)

    def observe_latency(self, seconds: float) -> None:
        # callers hold the lock
        self.latency_count += 1
        self.latency_sum += seconds
        for i, bound in enumerate(self.buckets):
            if seconds <= bound:
                self._bucket_counts[i] += 1
                break

    def latency(self, seconds: float) -> None:
        with self._lock:
            self.observe_latency(seconds)

    def render(self) -> str:
        m = _label_value(self.model)
        with self._lock:
            lines = [
                "# HELP mlopsc_requests_total Requests handled, by path and status code.",
                "# TYPE mlopsc_requests_total counter",
            ]
            for (path, status), count in sorted(self.requests.items()):
                lines.append(
                    f'mlopsc_requests_total{{model="{m}",path="{_label_value(path)}",status="{status}"}} {count}'
                )
            lines += [
                "# HELP mlopsc_errors_total Failed requests: the model raised (model) or the request was invalid.",
                "# TYPE mlopsc_errors_total counter",
            ]
            for kind in sorted(set(self.errors) | {"model", "bad_request"}):
                lines.append(f'mlopsc_errors_total{{model="{m}",kind="{kind}"}} {self.errors.get(kind, 0)}')
            lines += [
                "# HELP mlopsc_predictions_total Instances predicted.",
                "# TYPE mlopsc_predictions_total counter",
                f'mlopsc_predictions_total{{model="{m}"}} {self.predictions}',
                "# HELP mlopsc_request_duration_seconds Latency of /predict requests.",
                "# TYPE mlopsc_request_duration_seconds histogram",
            ]
            cumulative = 0
            for bound, count in zip(self.buckets, self._bucket_counts):
                cumulative += count
                lines.append(f'mlopsc_request_duration_seconds_bucket{{model="{m}",le="{_fmt(bound)}"}} {cumulative}')
            lines.append(f'mlopsc_request_duration_seconds_bucket{{model="{m}",le="+Inf"}} {self.latency_count}')
            lines.append(f'mlopsc_request_duration_seconds_sum{{model="{m}"}} {_fmt(self.latency_sum)}')
            lines.append(f'mlopsc_request_duration_seconds_count{{model="{m}"}} {self.latency_count}')
        return "\n".join(lines) + "\n"


def parse_prometheus(text: str) -> dict[str, float]:
    """Parse Prometheus text into {'name{labels}': value} (for tests and the rollout checks)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


def _label_value(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _fmt(x: float) -> str:
    return repr(float(x)) if not float(x).is_integer() else f"{float(x):.1f}"


# ---------------------------------------------------------------- the model


def as_predictor(model: Any) -> Callable[[list], list]:
    """Wrap a pyfunc-like model (`.predict`) or a callable as `instances -> predictions`."""
    if hasattr(model, "predict"):

        def predict(instances: list) -> list:
            return to_jsonable(model.predict(_to_frame(instances)))

        return predict
    if callable(model):
        return lambda instances: to_jsonable(model(instances))
    raise TypeError(f"cannot serve {type(model).__name__}: it has no predict() and is not callable")


def _to_frame(instances: list):
    import numpy as np
    import pandas as pd

    if instances and all(isinstance(i, dict) for i in instances):
        return pd.DataFrame.from_records(instances)
    return pd.DataFrame(np.asarray(instances))


def to_jsonable(result: Any) -> list:
    """Predictions as a JSON list: arrays, Series, DataFrames (records), lists, scalars."""
    if hasattr(result, "to_dict") and hasattr(result, "columns"):  # DataFrame
        if len(result.columns) == 1:
            result = result.iloc[:, 0]
        else:
            return json.loads(result.to_json(orient="records"))
    if hasattr(result, "tolist"):
        result = result.tolist()
    if not isinstance(result, (list, tuple)):
        result = [result]
    return [_scalar(v) for v in result]


def _scalar(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):
        return _scalar(v.item())
    if isinstance(v, (list, tuple)):
        return [_scalar(x) for x in v]
    return v


def load_pyfunc(model_uri: str, tracking_uri: str | None = None):
    """Load an MLflow pyfunc model (`models:/name@alias`, `runs:/...`, a path)."""
    import mlflow

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    return mlflow.pyfunc.load_model(model_uri)


# ---------------------------------------------------------------- the server


class _Handler(JSONHandler):
    def do_GET(self) -> None:
        svc: ModelServer = self.service
        path = self.path.split("?", 1)[0]
        if path in ("/health", "/ping", f"/v1/models/{svc.name}"):  # SageMaker's, KServe V1's health checks
            status = 200
            self.send_json(status, {"status": "ok", "model": svc.name, "version": svc.version})
        elif path == "/metrics":
            status = 200
            self.send_bytes(status, svc.metrics.render().encode(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            status = 404
            self.send_json(status, {"error": f"no such path: {path}"})
        svc.metrics.request(path if status != 404 else "other", status)

    def do_POST(self) -> None:
        svc: ModelServer = self.service
        path = self.path.split("?", 1)[0]
        if path == "/feedback":  # monitoring.feedback (runtime/feedback.py)
            from mlopsc.runtime.feedback import handle_post

            svc.metrics.request(path, handle_post(self, svc))
            return
        if path not in ("/predict", "/invocations", f"/v1/models/{svc.name}:predict"):  # SageMaker's, KServe V1's
            try:
                self.read_body()
            except ValueError:
                self.close_connection = True
            self.send_json(404, {"error": f"no such path: {path}"})
            svc.metrics.request("other", 404)
            return
        start = time.perf_counter()
        self.request_id = request_id(self.headers.get("X-Request-Id"))
        status, payload = svc.handle_predict(self)
        # counted before answering, so a client that reads /metrics after its answer sees it
        svc.metrics.request(path, status)
        if status == 200:
            svc.metrics.predicted(len(payload["predictions"]), time.perf_counter() - start)
        elif status == 500:
            svc.metrics.latency(time.perf_counter() - start)
        self.send_json(status, payload, {"X-Request-Id": self.request_id})


class ModelServer(HTTPService):
    """Serve one model over HTTP on `host:port` (127.0.0.1 and a free port by default)."""

    handler_class = _Handler

    def __init__(
        self,
        model: Any,
        *,
        name: str = "model",
        version: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_instances: int = 10_000,
        capture: CaptureWriter | None = None,
    ):
        super().__init__(host, port)
        self.predict = as_predictor(model)
        self.name = name
        self.version = None if version is None else str(version)
        self.max_instances = max_instances
        self.metrics = Metrics(name)
        self.capture = capture

    @classmethod
    def from_model_uri(cls, model_uri: str, *, tracking_uri: str | None = None, **kwargs: Any) -> ModelServer:
        return cls(load_pyfunc(model_uri, tracking_uri), **kwargs)

    def handle_predict(self, handler: JSONHandler) -> tuple[int, dict]:
        try:
            body = handler.read_body()
        except ValueError as e:
            handler.close_connection = True
            self.metrics.error("bad_request")
            return 413, {"error": str(e)}
        try:
            request = json.loads(body or b"null")
        except ValueError as e:
            self.metrics.error("bad_request")
            return 400, {"error": f"request body is not JSON: {e}"}
        instances = request.get("instances") if isinstance(request, dict) else None
        if not isinstance(instances, list):
            self.metrics.error("bad_request")
            return 400, {"error": 'expected a JSON object {"instances": [...]}'}
        if len(instances) > self.max_instances:
            self.metrics.error("bad_request")
            return 400, {"error": f"{len(instances)} instances; at most {self.max_instances} per request"}
        try:
            predictions = self.predict(instances) if instances else []
        except Exception as e:  # noqa: BLE001 - the model's failure is the client's 500, not a crash
            self.metrics.error("model")
            return 500, {"error": f"{type(e).__name__}: {e}"}
        if len(predictions) != len(instances):
            self.metrics.error("model")
            return 500, {"error": f"model returned {len(predictions)} predictions for {len(instances)} instances"}
        out = {"predictions": predictions, "model": self.name}
        if self.version is not None:
            out["version"] = self.version
        if self.capture is not None:
            self._capture(handler, instances, predictions)
        return 200, out

    def _capture(self, handler: JSONHandler, instances: list, predictions: list) -> None:
        shadow = {"shadow": True} if handler.headers.get("X-Mlopsc-Shadow") == "1" else {}
        try:
            self.capture.write(getattr(handler, "request_id", None) or request_id(None), instances, predictions,
                               **shadow)
        except OSError:  # a full disk must not fail predictions: the capture is best effort
            self.metrics.error("capture")
