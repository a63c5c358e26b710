"""`mlopsc cost --actual` after a real local run: the step hours the runtime recorded in MLflow."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """churn-local's train pipeline run up to validate-data with `mlopsc run`."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "specs" / "churn-local.yaml", root / "churn-local.yaml")
    shutil.copytree(ROOT / "specs" / "churn_local", root / "churn_local",
                    ignore=shutil.ignore_patterns("data", "__pycache__"))
    subprocess.run([sys.executable, str(root / "churn_local" / "make_data.py")], check=True, capture_output=True)
    run = subprocess.run([sys.executable, "-m", "mlopsc", "run", "churn-local.yaml", "--pipeline", "train",
                          "--until", "validate-data"], cwd=root, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return root


def _recorded(root: Path) -> dict[str, float]:
    client = MlflowClient(tracking_uri=f"sqlite:///{root}/.mlopsc/mlflow.db")
    experiment = client.get_experiment_by_name("mlopsc-usage")
    runs = client.search_runs([experiment.experiment_id])
    return {r.data.tags["mlopsc.step"]: r.data.metrics["wall_seconds"] for r in runs}


def test_each_executed_step_records_wall_time_and_resources(ran):
    client = MlflowClient(tracking_uri=f"sqlite:///{ran}/.mlopsc/mlflow.db")
    experiment = client.get_experiment_by_name("mlopsc-usage")
    runs = {r.data.tags["mlopsc.step"]: r for r in client.search_runs([experiment.experiment_id])}
    assert sorted(runs) == ["resolve-data", "validate-data"]
    validate = runs["validate-data"]
    assert validate.data.metrics["wall_seconds"] > 0 and validate.info.status == "FINISHED"
    assert {k: validate.data.tags[k] for k in ("mlopsc.project", "mlopsc.pipeline", "mlopsc.target", "mlopsc.cpu",
                                               "mlopsc.memory_bytes", "label.team")} == {
        "mlopsc.project": "churn-local", "mlopsc.pipeline": "train", "mlopsc.target": "local", "mlopsc.cpu": "1",
        "mlopsc.memory_bytes": str(4 * 2**30), "label.team": "growth"}


def test_actual_reports_the_recorded_step_hours(ran):
    out = subprocess.run([sys.executable, "-m", "mlopsc", "cost", "churn-local.yaml", "--actual", "--format", "json"],
                         cwd=ran, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    [month] = json.loads(out.stdout)["actual"]
    recorded = _recorded(ran)
    assert month["target"] == "local" and month["runs"] == 2
    assert month["steps"] == {f"train/{k}": round(v / 3600, 6) for k, v in recorded.items()}
    assert month["hours"] == pytest.approx(sum(recorded.values()) / 3600, abs=1e-6)
    # priced like the estimate: validate-data is half an m5.large (0.096 $/h) on the node table
    assert month["usd"] == round(recorded["validate-data"] / 3600 * 0.048 + recorded["resolve-data"] / 3600 * 0.024, 2)
    # the recorded durations become the estimate's low end (their median), the ceiling stays
    [estimate] = json.loads(out.stdout)["estimates"]
    line = next(ln for ln in estimate["lines"] if ln["name"] == "validate-data")
    assert line["quantity"][0] == pytest.approx(4 * recorded["validate-data"] / 3600, abs=1e-4)
    text = subprocess.run([sys.executable, "-m", "mlopsc", "cost", "churn-local.yaml", "--actual"], cwd=ran,
                          capture_output=True, text=True, timeout=300, check=False).stdout
    assert "local: 2 step runs" in text and "train/validate-data:" in text


def test_a_cached_rerun_keeps_its_usage_pending_until_cost_actual_writes_it(tmp_path):
    """A re-run where only the never-cached data resolution runs does not load MLflow for its
    usage record: it waits in .mlopsc/usage-pending.jsonl, and `cost --actual` writes it first."""
    shutil.copy(ROOT / "specs" / "churn-local.yaml", tmp_path / "churn-local.yaml")
    shutil.copytree(ROOT / "specs" / "churn_local", tmp_path / "churn_local",
                    ignore=shutil.ignore_patterns("data", "__pycache__"))
    subprocess.run([sys.executable, str(tmp_path / "churn_local" / "make_data.py")], check=True, capture_output=True)
    argv = [sys.executable, "-m", "mlopsc", "run", "churn-local.yaml", "--pipeline", "train", "--until", "validate-data"]
    for _ in range(2):
        run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
    pending = tmp_path / ".mlopsc" / "usage-pending.jsonl"
    [waiting] = [json.loads(line) for line in pending.read_text().splitlines()]
    assert waiting["run_name"] == "train/resolve-data" and waiting["status"] == "ok"
    assert sorted(_recorded(tmp_path)) == ["resolve-data", "validate-data"]  # the first run's, written at once
    out = subprocess.run([sys.executable, "-m", "mlopsc", "cost", "churn-local.yaml", "--actual", "--format", "json"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["actual"][0]["runs"] == 3 and not pending.exists()
