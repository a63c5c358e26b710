"""The `mlopsc step` contract: references, output forms of each target, exit codes, sweeps, cron."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlopsc import ir
from mlopsc.runtime import stepio, sweep
from mlopsc.runtime.service import next_run

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "churn-local.yaml"


def test_secret_and_env_references_resolve_from_the_environment():
    env = {"OPENAI_API_KEY": "k-1", "REGION": "eu"}
    assert stepio.resolve_value("${secret:openai_api_key}@${env:REGION}", env) == "k-1@eu"
    with pytest.raises(stepio.RefError, match="environment variable MISSING"):
        stepio.resolve_value("${secret:missing}", env)
    assert stepio.resolve_inputs({"git_commit": "env:MLOPSC_PARAM_GIT_COMMIT"},
                                 {"MLOPSC_PARAM_GIT_COMMIT": "abc"}) == {"git_commit": "abc"}


def test_parameter_outputs_local_sagemaker_and_kfp_forms(tmp_path):
    # local: a file holding the JSON value
    plan = stepio.OutputPlan({"passed": str(tmp_path / "local" / "passed")}, {"passed": "boolean"})
    Path(plan.action_paths()["passed"]).write_text("true")
    assert plan.publish() == {"passed": True}
    assert (tmp_path / "local" / "passed").read_text() == "true"
    # SageMaker: merged into the property file beside the metrics the action wrote
    report = tmp_path / "sm" / "evaluation" / "evaluation.json"
    report.parent.mkdir(parents=True)
    report.write_text(json.dumps({"auc": 0.9}))
    plan = stepio.OutputPlan({"evaluation": str(report), "passed": f"{report}#passed"},
                             {"evaluation": "metrics", "passed": "boolean"})
    paths = plan.action_paths()
    assert paths["evaluation"] == str(report)
    Path(paths["passed"]).write_text("false")
    plan.publish()
    assert json.loads(report.read_text()) == {"auc": 0.9, "passed": False}
    # KFP: a string parameter file is the raw value; ExecutorOutput lists artifacts and values
    model = tmp_path / "kfp" / "model"
    model.parent.mkdir()
    model.write_text("{}")
    eo = tmp_path / "kfp" / "executor_output.json"
    plan = stepio.OutputPlan({"model": str(model), "model_version": str(tmp_path / "kfp" / "v")},
                             {"model": "model", "model_version": "string"}, executor_output=str(eo))
    Path(plan.action_paths()["model_version"]).write_text('"3"')
    plan.publish()
    assert (tmp_path / "kfp" / "v").read_text() == "3"
    assert json.loads(eo.read_text()) == {
        "artifacts": {"model": {"artifacts": [{"name": "model", "uri": str(model), "metadata": {}}]}},
        "parameterValues": {"model_version": "3"}}


def _step(*argv, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "mlopsc", "step", *argv], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=120, check=False)


def test_step_exit_codes_and_one_line_errors(tmp_path):
    unknown = _step("nope", "--spec", str(SPEC))
    assert unknown.returncode == 2 and "unknown step action 'nope'" in unknown.stderr
    bad_ref = _step("fail", "--spec", str(SPEC), "--arg", "message=${secret:not_set_anywhere}")
    assert bad_ref.returncode == 2 and "NOT_SET_ANYWHERE" in bad_ref.stderr
    failed = _step("fail", "--spec", str(SPEC), "--arg", "message=stop here", cwd=tmp_path)
    assert failed.returncode == 1
    assert failed.stderr.strip() == "error: step fail failed: stop here"
    assert "Traceback" not in failed.stderr


def test_step_argv_from_the_environment_for_sagemaker_tuning(tmp_path):
    argv = ["mlopsc", "step", "fail", "--spec", str(SPEC), "--arg", "message=from env"]
    out = _step(env={"MLOPSC_STEP_ARGV": json.dumps(argv)}, cwd=tmp_path)
    assert out.returncode == 1 and "from env" in out.stderr


def test_qlora_without_cuda_fails_naming_the_spec_line(tmp_path):
    # lora and full fine-tuning run on a CPU (tests/llm); qlora's 4-bit base needs CUDA
    spec = tmp_path / "support-assistant.yaml"
    spec.write_text((ROOT / "specs" / "support-assistant.yaml").read_text().replace("method: lora", "method: qlora"))
    out = _step("fine_tune", "--spec", str(spec),
                "--output", f"model={tmp_path / 'model'}", env={"CUDA_VISIBLE_DEVICES": ""}, cwd=tmp_path)
    assert out.returncode == 1
    assert "support-assistant.yaml:29:5: qlora" in out.stderr and "needs a CUDA GPU" in out.stderr
    assert not (tmp_path / "model").exists()


def _sweep(strategy, params, max_trials=4):
    return ir.Sweep(strategy, "val_auc", "maximize", max_trials, 1, tuple(
        ir.SweepParameter(n, d, ir.freeze(v)) for n, d, v in params))


def test_sweep_studies_grid_random_and_bayesian():
    # the in-process sweep is an Optuna study (tests/runtime/test_sweep.py covers it in depth)
    grid = sweep.run_study(_sweep("grid", [("lr", "log_uniform", [0.001, 0.1]), ("h", "choice", [8, 16])], 10),
                           lambda _n, hp: hp["lr"] * hp["h"])
    assert len(grid.trials) == 6
    assert sorted({t.params["lr"] for t in grid.trials}) == pytest.approx([0.001, 0.01, 0.1])
    assert sweep.trial_count(_sweep("grid", [("h", "choice", [8, 16])])) == (2, None)
    random_spec = _sweep("random", [("lr", "uniform", [0, 1]), ("n", "int_uniform", [1, 3])])
    a = sweep.run_study(random_spec, lambda _n, hp: hp["lr"])
    b = sweep.run_study(random_spec, lambda _n, hp: hp["lr"])
    assert [t.params for t in a.trials] == [t.params for t in b.trials] and len(a.trials) == 4
    assert all(1 <= t.params["n"] <= 3 for t in a.trials)
    bayes = sweep.run_study(_sweep("bayesian", [("lr", "uniform", [0, 1])]), lambda _n, hp: hp["lr"])
    assert type(bayes.sampler).__name__ == "TPESampler" and len(bayes.trials) == 4


def test_cron_next_run():
    at = dt.datetime(2026, 1, 1, 5, 59)
    assert next_run("0 6 * * *", at) == dt.datetime(2026, 1, 1, 6, 0)
    assert next_run("0 6 * * *", dt.datetime(2026, 1, 1, 6, 0)) == dt.datetime(2026, 1, 2, 6, 0)
    assert next_run("*/15 * * * *", at) == dt.datetime(2026, 1, 1, 6, 0)
    assert next_run("0 3 * * 0", at) == dt.datetime(2026, 1, 4, 3, 0)  # the next Sunday


@pytest.fixture
def logged_model(tmp_path, monkeypatch):
    """A tiny MLflow pyfunc logged to a SQLite store in tmp_path; the tracking URI is restored after."""
    import mlflow

    class Constant(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input):
            return [1.0] * len(model_input)

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # the store's default artifact root is ./mlruns
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run() as run:
            info = mlflow.pyfunc.log_model(name="model", python_model=Constant())
        yield {"model_uri": info.model_uri, "run_id": run.info.run_id}
    finally:
        mlflow.set_tracking_uri(previous)


def test_model_reference_as_file_directory_or_sagemaker_archive(tmp_path, logged_model):
    import io
    import tarfile

    from mlopsc.runtime.steps import StepFailed, read_model_ref, write_model_ref

    ref = logged_model
    write_model_ref(tmp_path / "model", ref)  # KFP / local: a file
    assert read_model_ref(tmp_path / "model") == ref
    sm = tmp_path / "opt_ml_model"
    sm.mkdir()
    write_model_ref(sm, ref)  # SageMaker training: a directory, with the MLflow model itself
    assert (sm / "model.json").is_file() and read_model_ref(sm) == ref
    assert (sm / "mlflow-model" / "MLmodel").is_file()  # what `IMAGE serve` loads from /opt/ml/model
    channel = tmp_path / "input" / "model"  # the next step's input: SageMaker's model.tar.gz
    channel.mkdir(parents=True)
    with tarfile.open(channel / "model.tar.gz", "w:gz") as tar:
        data = json.dumps(ref).encode()
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert read_model_ref(channel) == ref
    with pytest.raises(StepFailed, match="no model reference"):
        read_model_ref(tmp_path / "empty")


def test_notify_is_quiet_after_a_successful_kfp_run_and_alerts_after_a_failure(tmp_path):
    ok = '{"state": "SUCCEEDED", "error": {}}'
    out = _step("notify", "--spec", str(SPEC), "--arg", "channels=email:x@example.com", "--arg", "pipeline=train",
                "--input", f"status={ok}", cwd=tmp_path)
    assert out.returncode == 0 and "nothing to notify" in out.stdout and "alert" not in out.stdout
    failed = '{"state": "FAILED", "error": {"message": "Task train failed."}}'
    out = _step("notify", "--spec", str(SPEC), "--arg", "channels=email:x@example.com", "--arg", "pipeline=train",
                "--input", f"status={failed}", cwd=tmp_path)
    assert out.returncode == 0
    assert "alert -> email:x@example.com" in out.stdout and "train pipeline failed (FAILED): Task train failed." \
        in out.stdout


def test_webhook_alerts_are_posted(tmp_path):
    import http.server
    import threading

    from mlopsc.runtime.monitoring import send_alerts

    got = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sent = send_alerts([f"webhook:http://127.0.0.1:{server.server_port}/hook", "slack:#ml"],
                           {"text": "drift"}, log=lambda _m: None)
    finally:
        server.shutdown()
    assert got == [{"text": "drift"}]
    assert sent[0]["delivered"] is True
    assert sent[1]["delivered"] is False and "${secret:slack-webhook}" in sent[1]["error"]


def _ctx(spec, root, args=None, inputs=None):
    from mlopsc.api import load_project
    from mlopsc.runtime.steps import StepContext

    return StepContext(project=load_project(str(spec)), spec_dir=Path(spec).parent, args=dict(args or {}),
                       inputs=dict(inputs or {}), outputs={"report": str(root / "report"),
                                                           "violated": str(root / "violated")},
                       workdir=root, log=lambda _m: None)


def test_monitor_infra_reads_the_running_servers_metrics(tmp_path):
    from mlopsc.runtime import localserve
    from mlopsc.runtime.httpbase import Upstream
    from mlopsc.runtime.serving import ModelServer
    from mlopsc.runtime.steps import run_step

    def flaky(rows):
        if rows[0] % 10 == 0:
            raise RuntimeError("bug")
        return rows

    with ModelServer(flaky, name="m", version="3") as server:
        localserve.write_state(tmp_path, "production", {"environment": "production", "endpoint": server.url,
                                                        "processes": [{"role": "champion", "pid": os.getpid(),
                                                                       "url": server.url, "version": "3"}]})
        client = Upstream()
        for i in range(50):
            client.post_json(server.url + "/predict", {"instances": [i]})
        ctx = _ctx(SPEC, tmp_path, {"max_error_rate": "0.02", "max_p99_latency_ms": "250"})
        assert run_step("monitor_infra", ctx) == {"violated": True}
    report = json.loads((tmp_path / "report").read_text())
    assert report["servers"][0]["requests"] == 50 and report["servers"][0]["error_rate"] == 0.1
    assert any("error rate 0.1000" in c["message"] and not c["passed"] for c in report["checks"])
    assert json.loads((tmp_path / "violated").read_text()) is True


def test_llm_quality_and_eval_suite_score_what_they_are_given(tmp_path):
    from mlopsc.runtime.steps import StepFailed, run_step

    spec = ROOT / "specs" / "support-assistant.yaml"
    logs = tmp_path / "interactions.jsonl"
    logs.write_text("\n".join(json.dumps({"hallucination": i < 1, "refusal": False, "tool_call_success": True})
                              for i in range(100)) + "\n")
    assert run_step("llm_quality", _ctx(spec, tmp_path, {"data": str(logs)})) == {"violated": False}
    logs.write_text("\n".join(json.dumps({"hallucination": i < 5, "refusal": False, "tool_call_success": i > 10})
                              for i in range(100)) + "\n")
    assert run_step("llm_quality", _ctx(spec, tmp_path, {"data": str(logs)})) == {"violated": True}
    messages = [c["message"] for c in json.loads((tmp_path / "report").read_text())["checks"] if not c["passed"]]
    assert messages == ["hallucination rate 0.0500 (max 0.02)", "tool_call_success rate 0.8900 (min 0.95)"]
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"input": "q", "expected": "{}", "output": "{}"}) + "\n")
    with pytest.raises(StepFailed, match="llm_judge need a judge model: set MLOPSC_JUDGE_ENDPOINT"):
        run_step("eval_suite", _ctx(spec, tmp_path, {"data": str(cases)}))


def test_a_kubeflow_rollout_step_without_its_shared_store_stops_in_one_line(tmp_path, monkeypatch):
    # the rollout against the Kubernetes API itself: tests/kubeflow/test_kserve_rollout.py
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = _step("rollout", "--spec", str(SPEC), "--target", "kubeflow", "--arg", "environment=production",
                "--input", "model_version=1", "--output", f"endpoint={tmp_path / 'endpoint'}",
                "--executor-output", str(tmp_path / "eo.json"), cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "a kubeflow step needs the shared tracking server" in out.stderr
    assert not (tmp_path / "endpoint").exists()


def test_sagemaker_training_image_entry_runs_the_step_from_env(tmp_path):
    """SageMaker starts a training image as `IMAGE train` -> `mlopsc train` -> MLOPSC_STEP_ARGV."""
    import json
    import subprocess
    import sys

    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    argv = ["mlopsc", "step", "fail", "--spec", str(root / "specs" / "churn.yaml"), "--arg", "message=gate: auc low"]
    env = dict(__import__("os").environ, MLOPSC_STEP_ARGV=json.dumps(argv))
    proc = subprocess.run([sys.executable, "-m", "mlopsc", "train"], env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and "gate: auc low" in proc.stderr and "Traceback" not in proc.stderr
    env.pop("MLOPSC_STEP_ARGV")
    proc = subprocess.run([sys.executable, "-m", "mlopsc", "train"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "MLOPSC_STEP_ARGV" in proc.stderr
