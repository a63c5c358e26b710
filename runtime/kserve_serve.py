"""`python -m mlopsc.runtime.kserve_serve --model-name NAME`: KServe's custom-container contract.

With `runtime: custom` the InferenceService's predictor is a container of the project image;
KServe's storage initializer downloads `STORAGE_URI` (the registered version's MLflow model
directory) into /mnt/models and sends traffic to port 8080 (`PORT` overrides). The server answers
KServe's V1 protocol, `POST /v1/models/NAME:predict` `{"instances"}` -> `{"predictions"}` and
`GET /v1/models/NAME`, beside `/predict`, `/health` and `/metrics` (`runtime/serving.py`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

MODEL_ROOT = Path("/mnt/models")


def model_server(model_dir: Path, name: str, port: int):
    """The server for the MLflow model in `model_dir`; SystemExit with one line when there is none."""
    from mlopsc.runtime.serving import ModelServer

    if not (model_dir / "MLmodel").is_file():
        raise SystemExit(f"error: {model_dir} holds no MLflow model (no MLmodel file); is the InferenceService's "
                         "STORAGE_URI the registered version's model directory?")
    import mlflow

    return ModelServer(mlflow.pyfunc.load_model(str(model_dir)), name=name, host="0.0.0.0",
                       port=port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mlopsc.runtime.kserve_serve", description=__doc__.splitlines()[0])
    parser.add_argument("--model-name", required=True, help="the InferenceService's name (KServe's model name)")
    parser.add_argument("--model-dir", type=Path, default=MODEL_ROOT)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8080))
    args = parser.parse_args(argv)
    server = model_server(args.model_dir, args.model_name, args.port)
    print(f"serving {args.model_dir} as {args.model_name} on port {server.port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
