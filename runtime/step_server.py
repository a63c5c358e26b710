"""A warm step worker for `mlopsc run`: one fork server per run that has imported MLflow, torch,
pandas and the step runtime once, and runs every step in a forked child of itself.

Why: each step used to be a new interpreter that imported MLflow and torch again, which was most
of a local run's time (+89% over calling the step functions in one process). A forked child
starts with those imports done.

Each step is still its own process, with the step contract the cloud targets run: the child runs
exactly the argv the plan gives (`python -m mlopsc step ...`: `sys.argv` is that command, the
working directory and environment are the run's), has its own exit code (a signal death reads as
`-signal`, as `subprocess` reports it), writes its stdout and stderr into a pipe the runner owns,
and gets Ctrl-C (SIGINT) and SIGTERM as a fresh `mlopsc step` would: the runner signals the
child's pid, never the server. Nothing a step does survives into the next (each is a new fork of
the same warm parent, which itself never runs a step).

Protocol, over a Unix socket pair (`StepServer` is the runner's end): the runner sends one JSON
request per step, `{"argv", "cwd", "env"}`, with the write end of the step's output pipe as
SCM_RIGHTS ancillary data; the server answers `{"pid"}` once forked and `{"exit"}` when the child
is reaped. The server exits when the runner's end closes.

Opt-in (`MLOPSC_STEP_WORKER=1`); off by default. The server's imports start threads (MLflow's
and OpenTelemetry's background workers, pools of the data libraries), and a fork of a process with
threads can inherit a lock another thread held: a forked step was seen to hang for good on such a
futex in the test suite. Until the server forks before any thread starts (or steps stop sharing
those libraries' state), steps are plain subprocesses unless asked; also where there is no `fork`
or Unix sockets, or if the server fails to start.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
from importlib import import_module
from pathlib import Path
from typing import NoReturn

# What a step imports that is slow to import, loaded once by the server (missing ones are skipped:
# the `local` extra may be partly installed).
WARM_MODULES = ("numpy", "pandas", "pyarrow.parquet", "torch", "mlflow", "mlflow.pyfunc", "mlflow.models",
                "mlflow.types", "mlflow.data", "mlflow.pytorch", "cloudpickle", "mlopsc.cli", "mlopsc.api",
                "mlopsc.runtime.stepmain", "mlopsc.runtime.steps", "mlopsc.runtime.actions_data",
                "mlopsc.runtime.actions_model", "mlopsc.runtime.actions_resolve", "mlopsc.runtime.actions_train",
                "mlopsc.runtime.datacheck", "mlopsc.runtime.datafiles", "mlopsc.runtime.evaluate",
                "mlopsc.runtime.lineage", "mlopsc.runtime.model_wrapper", "mlopsc.runtime.storage",
                "mlopsc.runtime.sweep", "mlopsc.runtime.tracking", "mlopsc.runtime.deploy",
                "mlopsc.runtime.monitoring", "mlopsc.runtime.stepio", "mlopsc.runtime.metrics", "mlopsc.normalize",
                "mlopsc.pipelines",
                # what the example's steps import beyond those (~1,700 modules), by their roots
                "mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store",
                "alembic.command", "mlflow.pyfunc.scoring_server", "mlflow.tracing.export", "mlflow.utils.crypto",
                "git", "scipy.stats", "pyarrow.dataset", "torch._dynamo", "opentelemetry.sdk.metrics")
# Steps that import none of that run as a new interpreter (~0.2 s of CPU), so a run whose other
# steps are all cached never starts the server.
COLD_ACTIONS = frozenset({"resolve_data"})
ENABLE_VARIABLE = "MLOPSC_STEP_WORKER"
_MAX_MESSAGE = 1 << 20


def available() -> bool:
    return (os.environ.get(ENABLE_VARIABLE, "0") == "1" and hasattr(os, "fork")
            and hasattr(socket, "AF_UNIX") and hasattr(socket, "send_fds"))


class StepServer:
    """The runner's handle on its fork server: `start_step` then `wait_step`, one step at a time."""

    def __init__(self, env: dict[str, str], cwd: Path, warm: tuple[str, ...] = WARM_MODULES):
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._buffer = b""
        self.used = False
        argv = [sys.executable, "-m", "mlopsc.runtime.step_server", str(theirs.fileno()), *warm]
        self.proc = subprocess.Popen(argv, pass_fds=[theirs.fileno()], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        theirs.close()

    def start_step(self, argv: list[str], cwd: Path, env: dict[str, str], output_fd: int) -> int:
        """Fork a child running `argv` with stdout and stderr on `output_fd`; its pid."""
        self.used = True
        request = json.dumps({"argv": argv, "cwd": str(cwd), "env": env}).encode() + b"\n"
        socket.send_fds(self._sock, [request], [output_fd])
        return int(self._receive()["pid"])

    def wait_step(self, timeout: float | None = None) -> int:
        """The running child's exit code (TimeoutError when it does not end within `timeout`)."""
        self._sock.settimeout(timeout)
        try:
            return int(self._receive()["exit"])
        except (socket.timeout, TimeoutError):
            raise TimeoutError from None
        finally:
            self._sock.settimeout(None)

    def close(self) -> None:
        self._sock.close()
        if not self.used:  # started ahead of steps that turned out cached: still importing, nothing to lose
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _receive(self) -> dict:
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("the step server exited")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)


# ---------------------------------------------------------------- the server process


def serve(fd: int, warm: list[str]) -> None:
    """Import the slow modules, then fork one child per request until the runner hangs up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the step and the runner
    warm_up(warm)
    sock = socket.socket(fileno=fd)
    stream, fds = b"", []
    while True:
        try:
            data, received, _flags, _addr = socket.recv_fds(sock, _MAX_MESSAGE, 4)
        except OSError:
            return
        if not data:
            return
        stream += data
        fds += received  # a request may arrive in pieces; its descriptor comes with the first
        if b"\n" not in stream:
            continue
        line, _, stream = stream.partition(b"\n")
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            sock.close()
            run_child(request, fds[0])
        for extra in fds:
            os.close(extra)
        fds = []
        sock.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        _, status = os.waitpid(pid, 0)
        sock.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")


def warm_up(modules: list[str]) -> None:
    for name in modules:
        try:
            import_module(name)
        except Exception:  # noqa: BLE001  (an optional extra that is missing or broken: the step reports it)
            continue
    # What is imported now is shared by every child: keep the cycle collector off it, or each
    # child's collections walk (and copy-on-write) the whole warm heap.
    gc.collect()
    gc.freeze()


def run_child(request: dict, output_fd: int) -> NoReturn:
    """In the forked child: become `python -m mlopsc step ...` with the runner's cwd and env.

    Whatever ends `main()` (its SystemExit, an uncaught Ctrl-C or error) unwinds through `serve`
    to the top of this module, so the interpreter ends the child as it ends any program: the exit
    code, a traceback for an error, death by SIGINT for an uncaught Ctrl-C, non-daemon threads
    joined and atexit handlers run (MLflow ends its active run there)."""
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv = request["argv"]
    sys.argv = ["mlopsc", *argv[3:]]  # argv is [python, -m, mlopsc, step, ...]
    sys.orig_argv = list(argv)
    from mlopsc.cli import main

    main()
    sys.exit(0)


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2:])
