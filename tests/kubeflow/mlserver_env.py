"""KServe's MLflow runtime for the tests: MLServer + mlserver-mlflow in a venv of their own.

mlserver-mlflow pins fastapi/starlette below what mlopsc's venv carries, so it gets its own venv
(created once, under ~/.cache/mlopsc-test/ or MLOPSC_MLSERVER_VENV), with the versions of mlflow,
torch, pandas, numpy and cloudpickle this venv has: the versions a model was logged with. It has no
mlopsc: a model that loads there loads without it. `mlserver()` starts it as KServe's
`kserve-mlserver` runtime does (the model named after the InferenceService, its directory where
KServe mounts `storageUri`) and yields its URL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

MLSERVER = ["mlserver==1.7.1", "mlserver-mlflow==1.7.1"]
SAME_AS_HERE = ("mlflow", "torch", "pandas", "numpy", "cloudpickle", "scikit-learn")


def venv_dir() -> Path:
    return Path(os.environ.get("MLOPSC_MLSERVER_VENV") or Path.home() / ".cache" / "mlopsc-test" / "mlserver-venv")


def requirements() -> list[str]:
    return MLSERVER + [f"{dist}=={version(dist).split('+')[0]}" for dist in SAME_AS_HERE]


def ensure_venv() -> Path:
    """The venv's python, installing it first when missing or made for other versions."""
    venv = venv_dir()
    marker, wanted = venv / "mlopsc-requirements.txt", "\n".join(requirements()) + "\n"
    python = venv / "bin" / "python"
    if python.is_file() and marker.is_file() and marker.read_text() == wanted:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements()], check=True, timeout=1800)
    marker.write_text(wanted)
    return python


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def mlserver(model_dir: Path, name: str, workdir: Path):
    """MLServer serving the MLflow model in `model_dir` as `name`, V2 protocol over HTTP."""
    python = ensure_venv()
    port = _free_port()
    env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(workdir),
           "MLSERVER_MODEL_NAME": name, "MLSERVER_MODEL_URI": str(model_dir),
           "MLSERVER_MODEL_IMPLEMENTATION": "mlserver_mlflow.MLflowRuntime",
           "MLSERVER_HOST": "127.0.0.1", "MLSERVER_HTTP_PORT": str(port), "MLSERVER_GRPC_PORT": str(_free_port()),
           "MLSERVER_METRICS_PORT": str(_free_port()), "MLSERVER_PARALLEL_WORKERS": "0"}
    settings = workdir / "mlserver-settings"
    settings.mkdir(parents=True, exist_ok=True)
    log = open(workdir / "mlserver.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(python.parent / "mlserver"), "start", str(settings)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{url}/v2/models/{name}/ready", proc, workdir / "mlserver.log")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlserver exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"mlserver did not get ready in {timeout:g}s:\n{log.read_text()[-4000:]}")
