"""`IMAGE serve`: SageMaker's inference container contract.

SageMaker unpacks the model package's `model.tar.gz` into /opt/ml/model and starts the image as
`IMAGE serve`; the container answers `GET /ping` and `POST /invocations` on port 8080 (or
`SAGEMAKER_BIND_TO_PORT`). The train step put the MLflow model itself under
`mlflow-model/` beside `model.json` (its registry reference), so serving needs no tracking server.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

MODEL_ROOT = Path("/opt/ml/model")


def model_server(model_root: Path = MODEL_ROOT):
    """The model server for the unpacked model directory; SystemExit with one line when it holds
    no MLflow model."""
    from mlopsc.runtime.serving import ModelServer
    from mlopsc.runtime.steps import MODEL_DIR

    model_dir = model_root / MODEL_DIR
    if not (model_dir / "MLmodel").is_file():
        raise SystemExit(f"error: {model_root} holds no MLflow model ({MODEL_DIR}/MLmodel); was model.tar.gz "
                         "written by an mlopsc train step?")
    ref = json.loads((model_root / "model.json").read_text()) if (model_root / "model.json").is_file() else {}
    import mlflow

    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT") or 8080)
    return ModelServer(mlflow.pyfunc.load_model(str(model_dir)), name=ref.get("model", "model"),
                       version=ref.get("run_id"), host="0.0.0.0", port=port)  # noqa: S104 - the endpoint's port


def main() -> None:
    server = model_server()
    print(f"serving {MODEL_ROOT / 'mlflow-model'} on port {server.port}", file=sys.stderr, flush=True)
    server.serve_forever()
