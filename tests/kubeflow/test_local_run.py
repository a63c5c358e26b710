"""The example's train pipeline, compiled for Kubeflow, runs through kfp's own local runner
(kfp.local) from its IR file, with every step the real `mlopsc step` as a host process:
data validated, features built, a torch model trained in an MLflow run, the model evaluated.

kfp.local's SubprocessRunner refuses container components (a substring test for
`kfp.dsl.executor_main`); as the notes (§3.2) describe, we lift that check so kfp.local runs
each container's command + args, placeholders filled, as a host process on this machine.
kfp.local's condition heuristic cannot resolve named task outputs (notes §3.3), so it skips both
gate branches; the gate's semantics are tested with cel-python in test_conditions.py and the
register step by tests/runtime.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "specs").mkdir()
    # Kubeflow needs a tracking store every pod reaches (E701 otherwise): the spec names it by
    # environment variable, and here, with every step a host process, a SQLite file stands for it.
    with open(os.path.join(ROOT, "specs", "churn-local.yaml"), encoding="utf-8") as f:
        text = f.read()
    assert "tracking:\n" in text
    (tmp_path / "specs" / "churn-local.yaml").write_text(
        text.replace("tracking:\n", "tracking:\n  uri: ${env:MLFLOW_TRACKING_URI}\n", 1), encoding="utf-8")
    shutil.copytree(os.path.join(ROOT, "specs", "churn_local"), tmp_path / "specs" / "churn_local",
                    ignore=shutil.ignore_patterns("data", "__pycache__"))
    subprocess.run([sys.executable, str(tmp_path / "specs" / "churn_local" / "make_data.py")], check=True,
                   capture_output=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / '.mlopsc' / 'mlflow.db'}")
    (tmp_path / ".mlopsc").mkdir()
    bin_dir = os.path.dirname(sys.executable)  # the real `mlopsc` console script of this environment
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


@pytest.mark.slow
def test_churn_train_runs_in_kfp_local_with_real_steps(project):
    from kfp import components, local
    from kfp.local import subprocess_task_handler
    from mlopsc import api

    result = api.compile_spec("specs/churn-local.yaml", ["kubeflow"])
    assert result.ok, [d.text() for d in result.diagnostics]
    ir_file = project / "train.yaml"
    # The steps get the spec's fixed path inside the step image; on this host the spec lies here.
    ir_text = result.bundles["kubeflow"]["pipelines/train.yaml"]
    assert "- /opt/mlopsc/project/churn-local.yaml\n" in ir_text
    ir_file.write_text(ir_text.replace("/opt/mlopsc/project/churn-local.yaml",
                                       str(project / "specs" / "churn-local.yaml")))

    original = subprocess_task_handler.SubprocessTaskHandler.validate_not_container_component
    subprocess_task_handler.SubprocessTaskHandler.validate_not_container_component = lambda self, command: None
    try:
        root = project / "root"
        local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
        components.load_component_from_file(str(ir_file))(git_commit="abc123")
    finally:
        subprocess_task_handler.SubprocessTaskHandler.validate_not_container_component = original

    run_dir = next(root.iterdir())
    produced = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    # validate-data's dataset and report, the features, the trained model and its metrics, the evaluation
    for task in ("resolve-data", "validate-data", "build-features", "train", "evaluate"):
        assert any(p.startswith(task + "/") for p in produced), (task, sorted(produced))
    model, metrics = run_dir / "train" / "model", run_dir / "train" / "metrics"
    assert model.exists(), "kfp.local did not keep the train step's model artifact"
    trained = json.loads(metrics.read_text())  # the train step writes its metrics as a JSON object
    assert 0.5 < trained["val_auc"] <= 1.0, trained
    evaluation = json.loads((run_dir / "evaluate" / "evaluation").read_text())
    assert evaluation["passed"] is True, evaluation
    # the MLflow run of the train step carries the lineage the pipeline passed in
    from mlflow import MlflowClient

    uri = f"sqlite:///{project / '.mlopsc' / 'mlflow.db'}"
    runs = MlflowClient(uri).search_runs(
        [e.experiment_id for e in MlflowClient(uri).search_experiments()], "tags.`mlopsc.git_commit` = 'abc123'")
    assert runs, "no MLflow run tagged with the pipeline's git_commit parameter"
