"""Steps forked from a zygote (`mlopsc.runtime.step_fork`, the default for `mlopsc run`): each
step is a fork of one interpreter that imported the run's libraries once, with the step's own
argv, working directory, environment, output pipe, pid, exit code and signals, forked only while
the zygote has no other thread. (test_runner.py runs the example's pipelines through it: Ctrl-C,
resume, failures, exit codes; test_step_server.py covers the warm workers it falls back to.)"""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mlopsc.runtime import run_process as rp
from mlopsc.runtime import step_fork
from mlopsc.runtime.step_server import StepServer

ROOT = Path(__file__).resolve().parents[2]
SPEC = "specs/churn-local.yaml"
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "OPENBLAS_NUM_THREADS")}

# A module the tests fork as a step: it reports what the step's process looks like from inside.
PROBE = textwrap.dedent("""
    import json, os, sys
    import numpy  # noqa: F401  (its OpenBLAS is what threadpoolctl reports)
    from threadpoolctl import threadpool_info
    import polars  # held back by the zygote: the step can still import it
    print(json.dumps({
        "argv": sys.argv[1:], "orig_argv": sys.orig_argv, "cwd": os.getcwd(), "pid": os.getpid(),
        "ppid": os.getppid(), "marker": os.environ.get("PROBE_MARKER"),
        "openblas": sorted(i["num_threads"] for i in threadpool_info() if i["internal_api"] == "openblas"),
        "sigint_default": __import__("signal").getsignal(2) is __import__("signal").default_int_handler,
        "polars": polars.__name__, "draw": numpy.random.random()}))
    import atexit, threading, time
    atexit.register(print, "atexit ran")
    threading.Thread(target=lambda: (time.sleep(0.3), print("thread joined", flush=True))).start()
    mode = os.environ.get("PROBE_MODE")
    if mode == "raise":
        raise ValueError("probe failed")
    if mode == "interrupt":
        raise KeyboardInterrupt
    if mode == "message":
        sys.exit("probe says no")
    sys.exit(int(os.environ.get("PROBE_EXIT", "0")))
""")


@pytest.fixture
def messages():
    return []


@pytest.fixture
def probe_env(tmp_path):
    (tmp_path / "probe_step.py").write_text(PROBE)
    return {**ENV, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ENV.get('PYTHONPATH', '')}"}


@pytest.fixture
def server(messages):
    started = StepServer(ENV, ROOT, warm=("mlopsc.cli",), say=messages.append, fork=True)
    yield started
    started.close()


def run(server, argv, tmp_path, env=None, cwd=ROOT):
    lines = []
    code = rp.run_process(argv, cwd=cwd, env=env or ENV, log_path=tmp_path / "step.log",
                          out=lines.append, err=lines.append, server=server, more=False)
    return code, lines, (tmp_path / "step.log").read_text()


def probed(output):
    """The probe's JSON line in a step's output."""
    return json.loads(next(line for line in output.splitlines() if line.startswith("{")))


def mlopsc(*args):
    return [sys.executable, "-m", "mlopsc", *args]


def test_a_forked_step_gets_the_exit_code_and_output_a_new_interpreter_gets(server, messages, tmp_path):
    argv = mlopsc("step", "no-such-action", "--spec", SPEC)
    zygote = server.zygote
    code, lines, log = run(server, argv, tmp_path)
    alone = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    assert code == alone.returncode == 2
    assert log == alone.stdout + alone.stderr and "unknown step action 'no-such-action'" in log
    assert lines == ["      " + line for line in log.splitlines()]
    assert server.zygote is zygote and zygote.proc.poll() is None and messages == []  # forked, no fallback


def test_the_step_is_a_child_of_the_zygote_with_its_own_argv_cwd_env_and_library_state(messages, probe_env, tmp_path):
    """numpy is warm (the zygote imported it with one OpenBLAS thread); the step has the thread
    count a new interpreter has, and polars, which the zygote never imports, imports."""
    server = StepServer(probe_env, ROOT, warm=("numpy", "threadpoolctl", "mlflow"), say=messages.append, fork=True)
    try:
        work = tmp_path / "work"
        work.mkdir()
        env = probe_env
        argv = [sys.executable, "-m", "probe_step", "a b", "--flag"]
        server.cwd = work
        env_with_marker = {**env, "PROBE_MARKER": "yes"}
        server.env = env_with_marker  # the env a step runs with is the request's, checked against the server's
        code, _, log = run(server, argv, tmp_path, env=env_with_marker, cwd=work)
        assert code == 0, log
        inside = probed(log)
        alone = probed(subprocess.run(argv, cwd=work, env=env_with_marker, capture_output=True, text=True,
                                      check=True).stdout)
        assert inside["ppid"] == server.zygote.proc.pid and messages == []
        for key in ("argv", "orig_argv", "cwd", "marker", "openblas", "sigint_default", "polars"):
            assert inside[key] == alone[key], key
        assert inside["argv"] == ["a b", "--flag"] and inside["marker"] == "yes" and inside["cwd"] == str(work)
        assert inside["openblas"] and min(inside["openblas"]) == len(os.sched_getaffinity(0))
        code, _, again = run(server, argv, tmp_path, env=env_with_marker, cwd=work)
        assert code == 0 and probed(again)["draw"] != inside["draw"]  # reseeded
        code, _, _ = run(server, argv, tmp_path, env={**env_with_marker, "OTHER": "1"}, cwd=work)
        assert code == 0 and messages == []  # another environment: a new interpreter, the zygote kept
    finally:
        server.close()


def test_the_zygote_forks_only_while_it_is_the_only_thread(server):
    server.zygote.ready(120)
    zygote_threads = sorted(os.listdir(f"/proc/{server.zygote.proc.pid}/task"))
    assert len(zygote_threads) == 1


def test_exit_codes_and_signal_deaths_read_as_subprocess_reports_them(messages, probe_env, tmp_path):
    server = StepServer(probe_env, ROOT, warm=("numpy",), say=messages.append, fork=True)
    try:
        argv = [sys.executable, "-m", "probe_step"]
        server.env = {**probe_env, "PROBE_EXIT": "3"}
        assert run(server, argv, tmp_path, env=server.env)[0] == 3
        assert messages == [] and server.zygote is not None
    finally:
        server.close()


@pytest.mark.parametrize("mode, code, last_line", [
    ("raise", 1, "ValueError: probe failed"), ("interrupt", -signal.SIGINT, "KeyboardInterrupt"),
    ("message", 1, "probe says no"), (None, 0, None)])
def test_a_forked_step_ends_as_the_same_program_in_a_new_interpreter(messages, probe_env, tmp_path, mode, code,
                                                                     last_line):
    """Exit code, traceback or message, death by SIGINT after an uncaught Ctrl-C, non-daemon
    threads joined and atexit handlers run: compared with the same program run alone."""
    env = {**probe_env, "PROBE_MODE": mode or ""}
    server = StepServer(env, ROOT, warm=("numpy", "threadpoolctl"), say=messages.append, fork=True)
    try:
        argv = [sys.executable, "-m", "probe_step"]
        forked, _, log = run(server, argv, tmp_path, env=env)
        alone = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        assert forked == alone.returncode == code and messages == []
        lines, alone_lines = log.splitlines(), (alone.stdout + alone.stderr).splitlines()
        assert "thread joined" in lines and "atexit ran" in lines
        # the same lines but the probe's JSON (pids differ) and the two runpy frames `python -m` adds
        own = {line for line in lines if not line.startswith("{")}
        assert own <= set(alone_lines) and len(own) >= len(set(alone_lines)) - 1 - (4 if last_line else 0)
        assert "step_fork" not in log  # the traceback starts at the program, as `python -m` prints it
        if last_line:
            assert last_line in lines
    finally:
        server.close()


@pytest.fixture(params=["forked", "warm worker"])
def either(request, messages):
    """A step server of each kind: signals reach the step alike."""
    started = StepServer(ENV, ROOT, warm=("mlopsc.cli",), say=messages.append, fork=request.param == "forked")
    yield started
    started.close()


def _long_step(server, tmp_path):
    """`mlopsc monitor --schedule` waits for its next check until Ctrl-C: a step that runs until signalled."""
    argv = mlopsc("monitor", SPEC, "--data", SPEC, "--schedule", "0 0 1 1 *", "--workdir", str(tmp_path))
    proc = server.start_step(argv, ROOT, ENV, more=False)
    assert isinstance(proc, step_fork.ForkedStep) == (server.zygote is not None)
    for line in proc.stdout:
        if "next check at" in line:
            break
    return proc


def test_ctrl_c_reaches_the_step(either, messages, tmp_path):
    proc = _long_step(either, tmp_path)
    assert proc.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=0.2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0  # monitor ends its schedule cleanly on Ctrl-C
    assert run(either, mlopsc("validate", SPEC), tmp_path)[0] == 0 and messages == []  # and the next step runs


def test_a_step_killed_by_a_signal_reads_as_minus_the_signal(either, tmp_path):
    proc = _long_step(either, tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == -signal.SIGTERM


def test_the_runner_stops_a_running_step(either, tmp_path):
    proc = _long_step(either, tmp_path)
    rp.stop(proc)  # what the runner does on Ctrl-C: SIGINT, then SIGKILL after the grace period
    assert proc.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(proc.pid, 0)


def test_a_zygote_whose_imports_start_a_thread_never_forks(messages, tmp_path):
    (tmp_path / "starts_a_thread.py").write_text("import threading\n"
                                                 "threading.Thread(target=threading.Event().wait, daemon=True).start()\n")
    env = {**ENV, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ENV.get('PYTHONPATH', '')}"}
    server = StepServer(env, ROOT, warm=("starts_a_thread",), say=messages.append, fork=True)
    try:
        code, _, log = run(server, mlopsc("validate", SPEC), tmp_path, env=env)
        assert code == 0 and "ok: 1 spec(s) valid" in log
        assert messages[0] == ("      (step fork server has threads after its imports (python, python): "
                               "steps run in warm workers)")
        assert server.zygote is None
    finally:
        server.close()


def test_a_hung_or_dead_zygote_cannot_stop_the_run(messages, tmp_path):
    (tmp_path / "hangs_on_import.py").write_text("import time\ntime.sleep(3600)\n")
    env = {**ENV, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ENV.get('PYTHONPATH', '')}"}
    hung = StepServer(env, ROOT, warm=("hangs_on_import",), ready_timeout=2, say=messages.append, fork=True)
    zygote = hung.zygote.proc
    code, _, log = run(hung, mlopsc("validate", SPEC), tmp_path, env=env)
    assert code == 0 and "ok: 1 spec(s) valid" in log
    assert messages[0] == "      (step fork server not ready after 2 s: steps run in warm workers)"
    assert zygote.returncode == -signal.SIGKILL  # killed, not left behind
    hung.close()

    messages.clear()
    dead = StepServer(ENV, ROOT, warm=("mlopsc.cli",), say=messages.append, fork=True)
    dead.zygote.proc.kill()
    code, _, log = run(dead, mlopsc("validate", SPEC), tmp_path)
    assert code == 0 and "ok: 1 spec(s) valid" in log
    assert messages[0] == "      (step fork server exited during its imports: steps run in warm workers)"
    dead.close()


def test_a_request_larger_than_a_socket_buffer_arrives_whole(messages, tmp_path):
    env = {**ENV, **{f"LARGE_{i}": "x" * 60_000 for i in range(10)}}  # 600 KB
    server = StepServer(env, ROOT, warm=("mlopsc.cli",), say=messages.append, fork=True)
    try:
        code, _, log = run(server, mlopsc("validate", SPEC), tmp_path, env=env)
        assert code == 0 and "ok: 1 spec(s) valid" in log and messages == [] and server.zygote is not None
    finally:
        server.close()


def test_closing_stops_the_zygote(server):
    zygote = server.zygote.proc
    server.close()
    assert zygote.returncode is not None and server.zygote is None


def test_a_forked_step_adds_what_it_imported_to_its_actions_list(tmp_path, monkeypatch):
    from mlopsc.runtime import step_server

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    env = {**ENV, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    step_server.imports_file("validate", ROOT / SPEC).parent.mkdir(parents=True)
    step_server.imports_file("validate", ROOT / SPEC).write_text("mlopsc.cli\nkept_from_before\n")
    server = StepServer(env, tmp_path, "validate", say=pytest.fail, fork=True, warm=("mlopsc.cli",))
    try:
        argv = mlopsc("step", "validate", "--spec", str(ROOT / SPEC))  # no data given: it checks nothing
        run(server, argv, tmp_path, env=env, cwd=tmp_path)
    finally:
        server.close()
    learned = step_server.learned_imports("validate", ROOT / SPEC)
    assert learned[:2] == ["mlopsc.cli", "kept_from_before"]  # the earlier list, then what the step added
    assert "mlopsc.runtime.steps" in learned and "mlopsc.cli" not in learned[2:]


def test_only_python_module_commands_fork(server):
    assert step_fork.is_module_command([sys.executable, "-m", "mlopsc", "step"])
    assert not step_fork.is_module_command(["/bin/echo", "-m", "x"])
    assert not step_fork.is_module_command([sys.executable, "script.py"])


def test_steps_fork_by_default_and_spawn_warm_workers_when_asked(monkeypatch):
    from mlopsc.runtime import step_server

    monkeypatch.delenv("MLOPSC_STEP_WORKER", raising=False)
    assert step_server.fork_enabled() and step_server.available()
    default = StepServer(ENV, ROOT, warm=("mlopsc.cli",), say=pytest.fail)
    assert default.zygote is not None and default.waiting is None
    default.close()
    monkeypatch.setenv("MLOPSC_STEP_WORKER", "spawn")
    assert not step_server.fork_enabled() and step_server.available()
    spawned = StepServer(ENV, ROOT, warm=("mlopsc.cli",), say=pytest.fail)
    assert spawned.zygote is None and spawned.waiting is not None
    spawned.close()
