"""`mlopsc run` and `mlopsc monitor` end to end on the bundled example, as a user runs them:
real processes, torch training, an MLflow SQLite store, model servers and a router on 127.0.0.1.

The tests share one project copy and one work directory and run in file order (each builds on
the registry state the previous one left), which keeps the module to a few minutes on 2 cores.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

FLAKY = '''

# --- test: a challenger with a bug on inputs the evaluation never sent -------------------
import zlib as _zlib

_train = train


class FlakyModel:
    def __init__(self, model):
        self.model = model

    def predict(self, df):
        ids = [int(str(c)[1:]) for c in df["customer_id"]] if "customer_id" in df else []
        if len(ids) == 1 and ids[0] >= 1000200 and _zlib.crc32(str(ids[0]).encode()) % 4 == 0:
            raise RuntimeError("challenger bug")
        return self.model.predict(df)


def train(data, hyperparameters, **kwargs):
    model, metrics = _train(data, hyperparameters, **kwargs)
    return FlakyModel(model), metrics
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "specs" / "churn-local.yaml", root / "churn-local.yaml")
    shutil.copytree(ROOT / "specs" / "churn_local", root / "churn_local",
                    ignore=shutil.ignore_patterns("data", "__pycache__"))
    subprocess.run([sys.executable, str(root / "churn_local" / "make_data.py")], check=True, capture_output=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "churn-local.yaml", "churn_local/features.py",
                    "churn_local/train.py", "churn_local/make_data.py"], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init"],
                   check=True)
    work = root / "work"
    work.mkdir()
    return {"root": root, "work": work, "spec": root / "churn-local.yaml"}


def mlopsc(project, *args, spec=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run([sys.executable, "-m", "mlopsc", *args[:1], str(spec or project["spec"]), *args[1:],
                           "--workdir", str(project["work"])], capture_output=True, text=True, timeout=timeout,
                          env=env, stdin=subprocess.DEVNULL, check=False)


def client(project):
    uri = "sqlite:///" + str(project["work"] / ".mlopsc" / "mlflow.db")
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def versions(project):
    if not (project["work"] / ".mlopsc" / "mlflow.db").exists():
        return []
    return sorted(int(v.version) for v in client(project).search_model_versions("name='churn-local'"))


def variant(project, name, old, new):
    """A copy of the spec beside it (same code and data) with one change."""
    text = project["spec"].read_text()
    assert old in text
    path = project["root"] / name
    path.write_text(text.replace(old, new))
    return path


def statuses(stdout):
    """Step name -> status from the runner's progress lines (the last line per step wins)."""
    found = {}
    for line in stdout.splitlines():
        parts = line.split()
        if line.startswith("  ") and len(parts) >= 4 and parts[2].replace(".", "").isdigit() and parts[3] == "s":
            found[parts[0]] = parts[1]
    return found


def no_servers_left(project):
    serving = project["work"] / ".mlopsc" / "serving"
    return not any(serving.glob("*.json")) if serving.exists() else True




def resolved(command, params, work, step, parameters=frozenset()):
    """The plan's command as the runner must run it: this interpreter, the spec by absolute path,
    references resolved (artifact inputs from earlier steps' output folders, parameter inputs, the
    `(producer, output)`s in `parameters`, as the value there), outputs in the staging folder."""
    from mlopsc.contract import parse_argv, staging_path

    call = parse_argv(command)
    argv = [sys.executable, "-m", *command]
    for i, item in enumerate(argv):
        name, sep, ref = item.partition("=")
        if sep and ref.startswith("{{params."):
            argv[i] = f"{name}={params[ref[len('{{params.'):-2]]}"
        elif sep and ref.startswith("{{steps."):
            producer, _, output = ref[len("{{steps."):-2].partition(".outputs.")
            path = work / ".mlopsc" / "runs" / call.pipeline / producer / output
            argv[i] = f"{name}={json.loads(path.read_text()) if (producer, output) in parameters else path}"
        elif sep and argv[i - 1] == "--output":
            argv[i] = f"{name}={work / staging_path(call.pipeline, step) / name}"
    argv[argv.index("--spec") + 1] = str(Path(call.spec).resolve())
    return argv


def test_each_step_runs_the_command_of_the_compiled_local_plan(project, tmp_path):
    from mlopsc.api import compile_spec
    from mlopsc.contract import parse_argv

    # each step process (a new interpreter, or a fork of the warm step server) appends its argv
    record, work = tmp_path / "argv.jsonl", tmp_path / "work"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(MLOPSC_STEP_ARGV_LOG=str(record))
    out = subprocess.run([sys.executable, "-m", "mlopsc", "run", str(project["spec"]), "--pipeline", "train",
                          "--until", "build-features", "--workdir", str(work)],
                         capture_output=True, text=True, timeout=300, env=env, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    ran = [json.loads(line) for line in record.read_text().splitlines()]
    plan = json.loads(compile_spec(str(project["spec"]), ["local"]).bundles["local"]["plan.json"])["pipelines"]
    params = {k: str(v) for k, v in plan["train"]["params"].items()}
    steps = {s["name"]: s["command"] for s in plan["train"]["steps"]}
    versions = {("resolve-data", k) for k, _ in parse_argv(steps["resolve-data"]).outputs}  # parameter outputs
    assert ran == [resolved(steps[name], params, work, name, versions)
                   for name in ("resolve-data", "validate-data", "build-features")]
    assert "data_version_customers" in params and "--input" in ran[2]  # both kinds of reference were resolved


def test_a_bad_batch_stops_at_validate_and_registers_nothing(project):
    spec = variant(project, "bad.yaml", "churn_local/data/customers.parquet", "churn_local/data/bad.parquet")
    out = mlopsc(project, "run", "--pipeline", "train", spec=spec)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "failed at validate-data" in out.stderr
    assert "column 'customer_id': nullable: 3 rows null" in out.stderr
    assert "column 'orders_30d': missing" in out.stderr
    assert "column 'tenure_months': min: 5 rows below 0" in out.stderr
    assert "nothing was registered" in out.stderr
    assert versions(project) == []
    assert not (project["work"] / ".mlopsc" / "runs" / "train" / "train").exists()


def test_ctrl_c_during_training_leaves_nothing_half_written(project):
    work = project["work"]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen([sys.executable, "-m", "mlopsc", "run", str(project["spec"]), "--workdir", str(work)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    train_log = work / ".mlopsc" / "runs" / "train" / "train.log"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not (train_log.exists() and "trial 1/" in train_log.read_text()):
        time.sleep(0.1)
    assert train_log.exists(), "training never started"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert "interrupted during train" in stderr
    runs = work / ".mlopsc" / "runs" / "train"
    assert not (runs / "train").exists() and not list((runs / ".staging").glob("*"))
    assert not (work / ".mlopsc" / "cache" / "train" / "train.json").exists()
    assert (runs / "validate-data" / "data" / "customers.parquet").exists()  # completed steps stay
    assert versions(project) == []
    for run in client(project).search_runs([client(project).get_experiment_by_name("churn-local").experiment_id]):
        assert run.info.status != "RUNNING"


def test_the_example_runs_end_to_end(project):
    out = mlopsc(project, "run", "--approve")
    assert out.returncode == 0, out.stdout + out.stderr
    status = statuses(out.stdout)
    assert status["validate-data"] == "cached"  # completed before the Ctrl-C
    for step in ("train", "evaluate", "register", "deploy-staging", "smoke-test-staging", "load-test-staging",
                 "approve-production", "deploy-production"):
        assert status[step] == "ok", step
    assert status["gate-failed"] == "skipped"
    assert "ok   auc 0.9" in out.stdout and "at or above the minimum 0.85" in out.stdout
    # MLflow: the run, the registered version with its aliases and lineage
    c = client(project)
    prod = c.get_model_version_by_alias("churn-local", "production")
    assert str(prod.version) == "1" and str(c.get_model_version_by_alias("churn-local", "staging").version) == "1"
    head = subprocess.run(["git", "-C", str(project["root"]), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert prod.tags["mlopsc.git_commit"] == head
    assert prod.tags["mlopsc.spec_hash"] == hashlib.sha256(project["spec"].read_bytes()).hexdigest()
    assert prod.tags["mlopsc.data.customers"].startswith("sha256:")
    assert prod.tags["mlopsc.approval"] == "approved"
    run = c.get_run(prod.tags["mlopsc.run_id"])
    assert run.info.status == "FINISHED" and run.data.metrics["val_auc"] > 0.85
    assert run.data.tags["mlopsc.sweep.trials"] == "3"
    evaluation = json.loads((project["work"] / ".mlopsc/runs/train/evaluate/evaluation").read_text())
    assert evaluation["passed"] is True
    # served, and a prediction answered over HTTP
    assert "production endpoint: http://127.0.0.1:" in out.stdout
    answer = json.loads(out.stdout.split("  HTTP 200 ", 1)[1].splitlines()[0])
    assert answer["version"] == "1" and 0 <= answer["predictions"][0] <= 1
    assert no_servers_left(project)


def test_a_second_run_is_served_from_the_cache(project):
    out = mlopsc(project, "run", "--approve")
    assert out.returncode == 0, out.stdout + out.stderr
    assert statuses(out.stdout) == {
        "resolve-data": "ok", "validate-data": "cached", "build-features": "cached", "train": "cached", "evaluate": "cached",
        "register": "cached", "gate-failed": "skipped", "resolve-model": "cached", "deploy-staging": "cached", "smoke-test-staging": "cached",
        "load-test-staging": "cached", "approve-production": "cached", "deploy-production": "cached"}
    assert "version 1 serving production as decided (up to date)" in out.stdout
    assert "HTTP 200" in out.stdout and versions(project) == [1]


def test_serve_answers_for_an_environment_alias(project):
    import socket
    import urllib.request

    from mlopsc.runtime.localserve import foreground_servers  # what the monitor's infrastructure check reads

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen([sys.executable, "-m", "mlopsc", "serve", str(project["spec"]), "--environment",
                             "production", "--port", str(port), "--workdir", str(project["work"])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert f"serving churn-local version 1 (production) at http://127.0.0.1:{port}/predict" in line, \
            line + proc.stderr.read() if proc.poll() is not None else line
        row = {"customer_id": "C1", "tenure_months": 2, "monthly_spend": 30.0, "orders_30d": 0, "plan": "basic"}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/predict",
                                         json.dumps({"instances": [row]}).encode(),
                                         {"Content-Type": "application/json"})
        answer = json.loads(urllib.request.urlopen(request, timeout=30).read())
        assert answer["version"] == "1" and 0 <= answer["predictions"][0] <= 1
        assert [(r["pid"], r["url"], r["version"]) for r in foreground_servers(project["work"])] == [
            (proc.pid, f"http://127.0.0.1:{port}", "1")]
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    assert foreground_servers(project["work"]) == []  # its record goes with it
    missing = mlopsc(project, "serve", "--environment", "nowhere")
    assert missing.returncode == 2 and "no deployment environment 'nowhere'" in missing.stderr


def test_a_model_below_its_threshold_is_not_registered(project):
    spec = variant(project, "strict.yaml", "auc: {min: 0.85}", "auc: {min: 0.999}")
    out = mlopsc(project, "run", "--approve", spec=spec)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "failed at gate-failed" in out.stderr
    assert "below the minimum 0.999" in out.stderr and "auc 0.9" in out.stderr
    assert statuses(out.stdout)["register"] == "skipped"
    assert versions(project) == [1]


def test_drift_trips_on_shifted_data_and_not_on_unshifted(project):
    data = project["root"] / "churn_local" / "data"
    same = mlopsc(project, "monitor", "--data", str(data / "current.parquet"))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "no violations" in same.stdout
    assert "ok       auc 0.9" in same.stdout and "at or above the minimum 0.8" in same.stdout  # fresh labels
    shifted = mlopsc(project, "monitor", "--data", str(data / "shifted.parquet"))
    assert shifted.returncode == 1, shifted.stdout + shifted.stderr
    assert "DRIFT tenure_months" in shifted.stdout and "monitoring violations: detect-drift" in shifted.stderr
    report = project["work"] / ".mlopsc" / "runs" / "monitor" / "detect-drift" / "report"
    assert json.loads(report.read_text())["drifted"] is True
    assert "<svg" in report.with_name("report.html").read_text()


def test_resume_then_a_failing_canary_rolls_back_to_the_champion(project):
    train_py = project["root"] / "churn_local" / "train.py"
    train_py.write_text(train_py.read_text() + FLAKY)
    # without approval the deploy pipeline stops before production
    out = mlopsc(project, "run")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "failed at approve-production" in out.stderr and "rerun with --approve" in out.stderr
    assert versions(project) == [1, 2]
    # --resume continues at the failed step: the canary sends traffic, the challenger errors, rollback
    out = mlopsc(project, "run", "--resume", "--approve")
    assert out.returncode == 1, out.stdout + out.stderr
    status = statuses(out.stdout)
    assert {status[s] for s in ("validate-data", "train", "register")} == {"cached"}  # the train pipeline passed
    assert status["deploy-staging"] == status["load-test-staging"] == "resumed"
    assert status["approve-production"] == "ok" and statuses(out.stderr)["deploy-production"] == "FAILED"
    assert "failed at deploy-production" in out.stderr and "rolled back automatically" in out.stderr
    record = json.loads((project["work"] / ".mlopsc" / "deployments" / "production.json").read_text())
    assert record["state"] == "rolled_back" and record["version"] == "2" and record["previous"] == "1"
    rollout = record["router"]["rollout"]
    assert rollout["history"][-1]["event"] == "rollback" and "error rate" in rollout["reason"]
    assert record["router"]["weight"] == 0.0
    verify = record["verification"]
    assert verify["champion"] == verify["requests"] == 50 and verify["errors"] == 0
    c = client(project)
    assert str(c.get_model_version_by_alias("churn-local", "production").version) == "1"
    assert c.get_model_version("churn-local", "2").tags["mlopsc.rollout.production"] == "rolled_back"
    assert no_servers_left(project)


def test_a_healthy_challenger_is_promoted_through_the_canary_steps(project):
    train_py = project["root"] / "churn_local" / "train.py"
    train_py.write_text(train_py.read_text().split("\n\n# --- test: a challenger with a bug")[0])
    spec = variant(project, "better.yaml", "epochs: 8,", "epochs: 10,")
    out = mlopsc(project, "run", "--approve", spec=spec)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "challenger at 10% of traffic" in out.stdout and "challenger at 100% of traffic" in out.stdout
    assert "promoted version 3" in out.stdout
    record = json.loads((project["work"] / ".mlopsc" / "deployments" / "production.json").read_text())
    assert record["state"] == "promoted" and record["version"] == "3" and record["previous"] == "1"
    events = [e["event"] for e in record["router"]["rollout"]["history"]]
    assert events == ["start", "passed", "start", "passed", "start", "passed", "promote"]
    c = client(project)
    assert str(c.get_model_version_by_alias("churn-local", "production").version) == "3"
    assert str(c.get_model_version_by_alias("churn-local", "previous-production").version) == "1"
    answer = json.loads(out.stdout.split("  HTTP 200 ", 1)[1].splitlines()[0])
    assert answer["version"] == "3"
    assert no_servers_left(project)
