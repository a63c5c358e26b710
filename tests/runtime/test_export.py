"""The Vertex deploy pipeline's first steps, run as the compiled step runs them: `export_model`
resolves the registry version once and hands the rollout step a model reference (`prepare_endpoint`
and the rollout step against Vertex's API: tests/vertex_rollout)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from mlopsc.runtime.platforms.tracking_store import embedded_tracking_uri

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "churn-local.yaml"


class _Constant:
    def predict(self, df):
        return [0.5] * len(df)


def _register_two_versions(workdir: Path) -> None:
    from mlopsc.runtime.tracking import Tracker

    tracker = Tracker(workdir, experiment="churn-local", tracking_uri=embedded_tracking_uri(workdir))
    for _ in range(2):
        with tracker.start_run(run_name="train"):
            uri = tracker.log_model(_Constant())
        tracker.register(uri, "churn-local", approval_required_for=())


def _step(workdir: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLFLOW_TRACKING_URI": embedded_tracking_uri(workdir), "MLOPSC_WORKDIR": str(workdir)}
    return subprocess.run([sys.executable, "-m", "mlopsc", "step", *argv], capture_output=True, text=True,
                          env=env, cwd=workdir, timeout=180, check=False)


def test_export_model_resolves_latest_and_writes_the_upload_metadata(tmp_path, monkeypatch):
    # set through monkeypatch so it is undone: MLflow's set_tracking_uri exports the variable
    monkeypatch.setenv("MLFLOW_TRACKING_URI", embedded_tracking_uri(tmp_path))
    _register_two_versions(tmp_path)
    out, eo = tmp_path / "out" / "model", tmp_path / "executor_output.json"
    proc = _step(tmp_path, "export_model", "--spec", str(SPEC), "--target", "vertex", "--pipeline", "deploy",
                 "--step", "resolve-model", "--arg", "model=churn-local", "--input", "model_version=latest",
                 "--input", "image=europe-docker.pkg.dev/acme/churn:v3", "--output", f"model={out}",
                 "--executor-output", str(eo))
    assert proc.returncode == 0, proc.stderr
    ref = json.loads(out.read_text())
    assert ref["version"] == "2" and ref["model"] == "churn-local" and ref["model_uri"]
    artifact = json.loads(eo.read_text())["artifacts"]["model"]["artifacts"][0]
    assert artifact["metadata"]["containerSpec"] == {
        "imageUri": "europe-docker.pkg.dev/acme/churn:v3", "healthRoute": "/health", "predictRoute": "/predict"}
