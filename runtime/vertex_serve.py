"""`mlopsc vertex-serve`: Vertex AI's custom serving container contract.

Vertex copies the Model's `artifactUri` (the exported MLflow model directory) to its own bucket
and starts the container with:

- `AIP_STORAGE_URI`: where that copy is (`gs://...`; a local path is accepted too);
- `AIP_HTTP_PORT`: the port to listen on (the container spec's first port, 8080 by default);
- `AIP_HEALTH_ROUTE` / `AIP_PREDICT_ROUTE`: the routes Vertex calls, from the container spec.

The model directory is downloaded with gcsfs and loaded with `mlflow.pyfunc.load_model`: no
tracking server is needed. `POST <predict route>` takes `{"instances": [...]}` and answers
`{"predictions": [...]}` (the model server of `mlopsc serve`; `/health`, `/predict` and
`/metrics` keep answering too).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DEFAULT_PORT = 8080


def download(uri: str, dest: Path) -> Path:
    """The model directory at `uri` as a local directory (a `gs://` prefix is copied to `dest`)."""
    if not uri.startswith("gs://"):
        return Path(uri.removeprefix("file://"))
    from gcsfs.core import GCSFileSystem

    # an emulator (STORAGE_EMULATOR_HOST) takes no credentials; looking for them would ask the
    # GCE metadata server, which is not there
    fs = GCSFileSystem(token="anon") if os.environ.get("STORAGE_EMULATOR_HOST") else GCSFileSystem()
    prefix = uri.removeprefix("gs://").rstrip("/")
    files = [f for f in fs.find(prefix) if not f.endswith("/")]
    if not files:
        raise SystemExit(f"error: AIP_STORAGE_URI {uri} holds no files")
    for remote in files:
        local = dest / remote[len(prefix):].lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(remote, str(local))
    return dest


def model_dir(root: Path) -> Path:
    """The MLflow model in the artifact: at its root, or in `mlflow-model/` (a train step's
    model directory); SystemExit with one line when there is none."""
    from mlopsc.runtime.steps import MODEL_DIR

    for candidate in (root, root / MODEL_DIR):
        if (candidate / "MLmodel").is_file():
            return candidate
    raise SystemExit(f"error: {root} holds no MLflow model (MLmodel, or {MODEL_DIR}/MLmodel); AIP_STORAGE_URI "
                     "should be the model directory mlopsc's export_model step wrote")


def routed_server(model, *, name: str, port: int, health: str, predict: str):
    """The model server answering Vertex's routes as well as its own."""
    from mlopsc.runtime.serving import ModelServer

    base = ModelServer.handler_class
    aliases = {health: "/health", predict: "/predict"}

    class Handler(base):  # type: ignore[misc, valid-type]
        def parse_request(self) -> bool:
            ok = super().parse_request()
            path, sep, query = self.path.partition("?")
            self.path = aliases.get(path, path) + sep + query
            return ok

    class VertexServer(ModelServer):
        handler_class = Handler

    return VertexServer(model, name=name, host="0.0.0.0", port=port)


def main() -> None:
    uri = os.environ.get("AIP_STORAGE_URI")
    if not uri:
        raise SystemExit("error: AIP_STORAGE_URI is not set: Vertex sets it to the Model's artifact copy")
    import mlflow

    local = download(uri, Path(tempfile.mkdtemp(prefix="mlopsc-model-")))
    model = mlflow.pyfunc.load_model(str(model_dir(local)))
    health = os.environ.get("AIP_HEALTH_ROUTE") or "/health"
    predict = os.environ.get("AIP_PREDICT_ROUTE") or "/predict"
    server = routed_server(model, name=os.environ.get("MLOPSC_MODEL") or "model",
                           port=int(os.environ.get("AIP_HTTP_PORT") or DEFAULT_PORT), health=health, predict=predict)
    print(f"serving {uri} on port {server.port} ({health}, {predict})", file=sys.stderr, flush=True)
    server.serve_forever()
