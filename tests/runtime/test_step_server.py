"""The warm step worker (`mlopsc.runtime.step_server`): each step is a forked child with the
step's own argv, working directory, environment, output pipe, exit code and signals; the server
outlives every step and never runs one itself. (The runner's own tests, test_runner.py, run the
example's pipelines through it: Ctrl-C, resume, failures, exit codes.)"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlopsc.runtime import run_process as rp
from mlopsc.runtime.step_server import StepServer, available

ROOT = Path(__file__).resolve().parents[2]
SPEC = "specs/churn-local.yaml"
# The worker is opt-in (MLOPSC_STEP_WORKER=1); these tests use it directly. This machine has fork
# and Unix sockets: no skip here, and the check below says when the opt-in stops working.


def test_the_worker_is_opt_in(monkeypatch):
    monkeypatch.delenv("MLOPSC_STEP_WORKER", raising=False)
    assert not available()
    monkeypatch.setenv("MLOPSC_STEP_WORKER", "1")
    assert available()


@pytest.fixture
def server():
    started = StepServer(dict(os.environ), ROOT, warm=("mlopsc.cli",))
    yield started
    started.close()
    assert started.proc.returncode == 0


def run(server, argv, tmp_path, env=None, cwd=ROOT):
    lines = []
    code = rp.run_process(argv, cwd=cwd, env=env or dict(os.environ), log_path=tmp_path / "step.log",
                          out=lines.append, err=lines.append, server=server)
    return code, lines, (tmp_path / "step.log").read_text()


def mlopsc(*args):
    return [sys.executable, "-m", "mlopsc", *args]


def test_a_step_gets_the_exit_code_and_output_a_new_interpreter_gets(server, tmp_path):
    argv = mlopsc("step", "no-such-action", "--spec", SPEC)
    code, lines, log = run(server, argv, tmp_path)
    alone = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    assert code == alone.returncode == 2
    assert log == alone.stdout + alone.stderr and "unknown step action 'no-such-action'" in log
    assert lines == ["      " + line for line in log.splitlines()]


def test_each_step_has_its_own_cwd_and_environment_and_the_server_serves_the_next(server, tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "x.yaml").write_text("apiVersion: mlopsc/v1\nname: Bad Name\n")
    code, _, log = run(server, mlopsc("validate", "specs/x.yaml"), tmp_path, cwd=tmp_path)  # relative to its cwd
    assert code == 1 and "specs/x.yaml:2:7: error" in log
    code, _, log = run(server, mlopsc("validate", SPEC), tmp_path)
    assert code == 0 and "ok: 1 spec(s) valid" in log
    env = {**os.environ, "MLOPSC_STEP_ARGV_LOG": str(tmp_path / "argv.jsonl")}
    argv = mlopsc("step", "no-such-action", "--spec", SPEC)
    assert run(server, argv, tmp_path, env=env)[0] == 2
    assert (tmp_path / "argv.jsonl").read_text().strip() == str(argv).replace("'", '"')  # sys.orig_argv is the step's
    assert "MLOPSC_STEP_ARGV_LOG" not in os.environ and server.proc.poll() is None


def _long_step(server, tmp_path):
    """`mlopsc monitor --schedule` waits for its next check until Ctrl-C: a step that runs until signalled."""
    read_end, write_end = os.pipe()
    argv = mlopsc("monitor", SPEC, "--data", SPEC, "--schedule", "0 0 1 1 *", "--workdir", str(tmp_path))
    pid = server.start_step(argv, ROOT, dict(os.environ), write_end)
    os.close(write_end)
    stream = open(read_end, encoding="utf-8")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "next check at" not in stream.readline():
        pass
    return pid, stream


def test_ctrl_c_reaches_the_step_not_the_server(server, tmp_path):
    pid, stream = _long_step(server, tmp_path)
    assert pid != server.proc.pid
    os.kill(pid, signal.SIGINT)
    assert server.wait_step(timeout=60) == 0  # monitor ends its schedule cleanly on Ctrl-C
    stream.close()
    assert server.proc.poll() is None
    assert run(server, mlopsc("validate", SPEC), tmp_path)[0] == 0


def test_a_step_killed_by_a_signal_reads_as_minus_the_signal(server, tmp_path):
    pid, stream = _long_step(server, tmp_path)
    os.kill(pid, signal.SIGKILL)
    assert server.wait_step(timeout=60) == -signal.SIGKILL
    stream.close()


def test_the_runner_stops_a_step_that_ignores_nothing_within_the_grace_period(server, tmp_path):
    pid, stream = _long_step(server, tmp_path)
    rp.stop_forked(server, pid)  # what the runner does on Ctrl-C: SIGINT, then waits for the exit
    stream.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_dead_server_falls_back_to_a_new_interpreter(tmp_path):
    dead = StepServer(dict(os.environ), ROOT, warm=())
    dead.proc.kill()
    dead.proc.wait()
    code, _, log = run(dead, mlopsc("validate", SPEC), tmp_path)
    assert code == 0 and "ok: 1 spec(s) valid" in log
    dead.close()


def test_a_request_larger_than_one_read_arrives_whole(server, tmp_path):
    env = {**os.environ, "LARGE": "x" * 600_000}  # the request then reaches the server in pieces
    code, _, log = run(server, mlopsc("validate", SPEC), tmp_path, env=env)
    assert code == 0 and "ok: 1 spec(s) valid" in log
    assert server.proc.poll() is None  # served by the server, not by the fallback after it crashed
