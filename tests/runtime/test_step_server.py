"""The warm step workers (`mlopsc.runtime.step_server`), the fallback when steps cannot fork from
a zygote (test_step_fork.py): each step is a pre-started interpreter that imported the step's
libraries ahead of it and becomes that one step, with the step's own argv, working directory,
environment, output pipe, pid, exit code and signals. (The runner's own tests, test_runner.py,
run the example's pipelines through the default path: Ctrl-C, resume, failures, exit codes.)"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mlopsc.runtime import run_process as rp
from mlopsc.runtime.step_server import StepServer, available

ROOT = Path(__file__).resolve().parents[2]
SPEC = "specs/churn-local.yaml"
# One environment for the workers and their steps (a worker runs only steps of its own environment;
# pytest changes PYTEST_CURRENT_TEST in os.environ between a fixture and its test).
ENV = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


def test_the_workers_are_on_unless_turned_off(monkeypatch):
    monkeypatch.delenv("MLOPSC_STEP_WORKER", raising=False)
    assert available()
    monkeypatch.setenv("MLOPSC_STEP_WORKER", "0")
    assert not available()


@pytest.fixture
def messages():
    return []


@pytest.fixture
def server(messages):
    started = StepServer(ENV, ROOT, warm=("mlopsc.cli",), say=messages.append, fork=False)
    yield started
    started.close()


def run(server, argv, tmp_path, env=None, cwd=ROOT, more=True):
    lines = []
    code = rp.run_process(argv, cwd=cwd, env=env or ENV, log_path=tmp_path / "step.log",
                          out=lines.append, err=lines.append, server=server, more=more)
    return code, lines, (tmp_path / "step.log").read_text()


def mlopsc(*args):
    return [sys.executable, "-m", "mlopsc", *args]


def test_a_step_gets_the_exit_code_and_output_a_new_interpreter_gets(server, messages, tmp_path):
    argv = mlopsc("step", "no-such-action", "--spec", SPEC)
    worker = server.waiting.proc
    code, lines, log = run(server, argv, tmp_path)
    alone = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    assert code == alone.returncode == 2
    assert log == alone.stdout + alone.stderr and "unknown step action 'no-such-action'" in log
    assert lines == ["      " + line for line in log.splitlines()]
    assert worker.returncode == 2 and messages == []  # the warm worker was the step, not a fallback


def test_each_step_is_its_own_worker_with_its_cwd_and_environment(server, messages, tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "x.yaml").write_text("apiVersion: mlopsc/v1\nname: Bad Name\n")
    server.cwd = tmp_path
    first = server.waiting.proc
    code, _, log = run(server, mlopsc("validate", "specs/x.yaml"), tmp_path, cwd=tmp_path)  # relative to its cwd
    assert code == 1 and "specs/x.yaml:2:7: error" in log
    second = server.waiting.proc  # spawned while the first step ran
    assert second.pid != first.pid and first.returncode == 1 and second.poll() is None
    env = {**ENV, "MLOPSC_STEP_ARGV_LOG": str(tmp_path / "argv.jsonl")}
    server.env, server.cwd = env, ROOT
    server.close()  # a worker spawned with another environment does not run this one's steps
    argv = mlopsc("step", "no-such-action", "--spec", SPEC)
    assert run(server, argv, tmp_path, env=env, more=False)[0] == 2
    assert (tmp_path / "argv.jsonl").read_text().strip() == str(argv).replace("'", '"')  # sys.orig_argv is the step's
    assert "MLOPSC_STEP_ARGV_LOG" not in os.environ and messages == []
    assert server.waiting is None  # no further step: no worker left waiting


def test_a_step_in_another_environment_runs_as_a_new_interpreter(server, tmp_path):
    waiting = server.waiting
    code, _, log = run(server, mlopsc("validate", SPEC), tmp_path, env={**ENV, "OTHER": "1"})
    assert code == 0 and "ok: 1 spec(s) valid" in log
    assert server.waiting is waiting and waiting.proc.poll() is None  # still waiting for a step of its own


def test_a_dead_worker_falls_back_to_a_new_interpreter_with_a_message(server, messages, tmp_path):
    server.waiting.proc.kill()
    code, _, log = run(server, mlopsc("validate", SPEC), tmp_path)
    assert code == 0 and "ok: 1 spec(s) valid" in log
    assert len(messages) == 1 and "running the step as a new interpreter" in messages[0]


def test_a_hung_worker_cannot_hang_the_run(messages, tmp_path):
    (tmp_path / "hangs_on_import.py").write_text("import threading\nthreading.Event().wait()\n")
    env = {**ENV, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ENV.get('PYTHONPATH', '')}"}
    hung = StepServer(env, ROOT, warm=("hangs_on_import",), ready_timeout=2, say=messages.append, fork=False)
    worker = hung.waiting.proc
    code, _, log = run(hung, mlopsc("validate", SPEC), tmp_path, env=env, more=False)
    assert code == 0 and "ok: 1 spec(s) valid" in log
    assert messages == ["      (warm step worker not ready after 2 s: running the step as a new interpreter)"]
    assert worker.returncode == -signal.SIGKILL  # the hung worker was killed, not left behind
    hung.close()


def test_a_request_larger_than_a_pipe_buffer_arrives_whole(server, messages, tmp_path):
    env = {**ENV, **{f"LARGE_{i}": "x" * 60_000 for i in range(10)}}  # 600 KB, ~10 pipe buffers
    server.close()
    server.env = env
    code, _, log = run(server, mlopsc("validate", SPEC), tmp_path, env=env, more=False)
    assert code == 0 and "ok: 1 spec(s) valid" in log and messages == []


def test_closing_stops_the_waiting_worker(server):
    worker = server.waiting.proc
    server.close()
    assert worker.returncode is not None and server.waiting is None


def test_a_worker_imports_what_the_last_step_of_its_action_imported(tmp_path, monkeypatch):
    from mlopsc.runtime import step_server

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    env = {**ENV, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert step_server.warm_modules("validate", spec=ROOT / SPEC) == step_server.BASE_MODULES  # nothing learned yet
    (tmp_path / "project_code.py").write_text("import json\n")
    server = StepServer(env, tmp_path, "validate", say=pytest.fail, fork=False, spec=str(ROOT / SPEC))
    argv = mlopsc("step", "validate", "--spec", str(ROOT / SPEC))  # no data given: it checks nothing
    worker = server.waiting.proc
    run(server, argv, tmp_path, env=env, cwd=tmp_path, more=False)
    assert worker.returncode is not None  # the worker was the step
    learned = step_server.warm_modules("validate", spec=ROOT / SPEC)
    assert learned[:3] == step_server.BASE_MODULES and "mlopsc.runtime.steps" in learned
    assert "json" in learned and "project_code" not in learned and all(m.count(".") <= 2 for m in learned if not m.startswith("mlopsc"))
    assert step_server.imports_file("validate", ROOT / SPEC).parent.parent == tmp_path / "cache" / "mlopsc" / (
        "warm-imports") / f"py{sys.version_info[0]}{sys.version_info[1]}"
    assert step_server.warm_modules("no_such", spec=ROOT / SPEC) == step_server.BASE_MODULES
    # another spec (another project) learned nothing from this one
    assert step_server.warm_modules("validate", spec=ROOT / "specs" / "churn.yaml") == step_server.BASE_MODULES


def test_remembered_imports_leave_out_the_projects_own_modules(tmp_path, monkeypatch):
    from mlopsc.runtime import step_server

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "churn_code_under_test.py").write_text("VALUE = 1\n")
    import churn_code_under_test  # noqa: F401  (a project module, imported as a step imports user code)

    step_server.remember_imports("train")
    names = step_server.imports_file("train").read_text().split()
    assert "churn_code_under_test" not in names and "pytest" in names and "mlopsc.runtime" in names


def test_a_step_reads_the_runners_stdin_as_a_new_interpreter_does(tmp_path):
    """(An approval step prompts at the runner's terminal.)"""
    given = tmp_path / "stdin.txt"
    given.write_text("y\n")
    saved = os.dup(0)
    try:
        with open(given, "rb") as stdin:
            os.dup2(stdin.fileno(), 0)
            server = StepServer(ENV, ROOT, warm=("mlopsc.cli",), say=pytest.fail, fork=False)
    finally:
        os.dup2(saved, 0)
        os.close(saved)
    try:
        assert server.waiting.wait_ready(60) is None
        assert os.readlink(f"/proc/{server.waiting.proc.pid}/fd/0") == str(given)
    finally:
        server.close()
