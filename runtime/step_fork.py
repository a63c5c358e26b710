"""Forked steps for `mlopsc run`: one fork server ("zygote") per run imports MLflow, torch and the
step runtime once, and every step after that is a forked child of it.

Why: on two cores, a new interpreter per step spends as much CPU importing MLflow and torch as the
step spends working, and a warm worker spawned ahead of its step (`step_server.WarmWorker`) only
moves that CPU earlier; a fork pays it once per run.

Each step is still its own process with the step contract the cloud targets run: exactly the
plan's argv (`sys.argv` is that command), the run's working directory and environment, its own
stdout and stderr on a pipe the runner owns, its own exit code (a signal death reads as `-signal`,
as `subprocess` reports it), Ctrl-C and SIGTERM as a fresh `mlopsc step` gets them (the runner
signals the step's pid, never the zygote, which ignores SIGINT). Nothing a step does reaches the
next: each is a new fork of the same warm parent, which never runs a step itself.

Fork safety: a fork copies only the forking thread, so a lock another thread held at the fork stays
held in the child for good (an earlier fork server hung on one). The zygote therefore forks only
while it is the process's ONLY thread, checked in /proc before every fork; if its imports started
one, it says so and the runner uses warm workers instead. To keep the imports thread-free it
imports with OpenBLAS at one thread and jemalloc's background threads off (`QUIET_THREADS`, unless
the run sets them) and without polars (`HELD_BACK`: MLflow imports it only to register a dataset
type; its import starts a cleaner thread). A child puts back what the step would have had: the
BLAS thread count a new interpreter gets, polars importable, and a fresh seed for numpy's global
random generator (else every step of a run would draw the same "random" numbers).

Protocol, over a Unix socket pair: the zygote sends `{"ready", "threads"}` once imported; the
runner sends one JSON request per step, `{"argv", "cwd", "env"}` (argv: `python -m MODULE ...`), with the write end of the step's
output pipe as SCM_RIGHTS data; the zygote answers `{"pid"}` (or `{"error"}`) and `{"exit"}` when
it has reaped the child. The zygote exits when the runner's end closes.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import runpy
import select
import signal
import socket
import subprocess
import sys
import threading
from importlib import import_module
from pathlib import Path
from typing import NoReturn

# Settings that keep library imports from starting threads (read by the libraries at load time).
QUIET_THREADS = {"OPENBLAS_NUM_THREADS": "1", "JE_ARROW_MALLOC_CONF": "background_thread:false",
                 "_RJEM_MALLOC_CONF": "background_thread:false"}
HELD_BACK = ("polars",)
_MAX_MESSAGE = 1 << 20


def available() -> bool:
    return (hasattr(os, "fork") and hasattr(socket, "send_fds") and sys.platform.startswith("linux"))


def thread_names() -> list[str]:
    """This process's threads, by their kernel names (every thread, not only Python's)."""
    names = []
    for tid in sorted(os.listdir("/proc/self/task")):
        try:
            with open(f"/proc/self/task/{tid}/comm", encoding="utf-8") as f:
                names.append(f.read().strip())
        except OSError:
            continue  # it ended meanwhile
    return names


class ForkedStep:
    """The runner's handle on one forked step, shaped like the `subprocess.Popen` it replaces."""

    def __init__(self, zygote: Zygote, pid: int, stdout):
        self._zygote, self.pid, self.stdout = zygote, pid, stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._zygote.exit_code(timeout=0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._zygote.exit_code(timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(["mlopsc", "step"], timeout or 0)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:  # not reaped yet: the pid is still the step's
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """The runner's end of the fork server: `ready`, then `start` one step at a time."""

    def __init__(self, env: dict[str, str], cwd: Path, warm: tuple[str, ...]):
        self.env, self.cwd = env, Path(cwd)
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._buffer = b""
        self.problem: str | None = None
        self._ready: bool | None = None
        imports_env = {**QUIET_THREADS, **env}
        argv = [sys.executable, "-m", "mlopsc.runtime.step_fork", str(theirs.fileno()), *warm]
        try:  # stdin stays the runner's: a forked step reads it as a new interpreter would
            self.proc = subprocess.Popen(argv, pass_fds=[theirs.fileno()], env=imports_env, cwd=cwd,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        finally:
            theirs.close()

    def ready(self, timeout: float) -> str | None:
        """None once the zygote can fork steps; else why it cannot (then it is closed)."""
        if self._ready is None:
            message = self._receive(timeout)
            if message is None:
                self.problem = f"not ready after {timeout:g} s"
            elif "ready" not in message:
                self.problem = "exited during its imports"
            elif len(message.get("threads", [])) != 1:
                self.problem = f"has threads after its imports ({', '.join(message['threads'])})"
            self._ready = self.problem is None
            if not self._ready:
                self.close()
        return self.problem

    def start(self, argv: list[str], cwd: Path, env: dict[str, str]) -> ForkedStep | None:
        """Fork the step with stdout and stderr on a new pipe; None if the zygote cannot."""
        read_fd, write_fd = os.pipe()
        try:
            request = json.dumps({"argv": argv, "cwd": str(cwd), "env": env}).encode() + b"\n"
            socket.send_fds(self._sock, [request], [write_fd])
            answer = self._receive(None)
        except OSError as e:
            answer = {"error": str(e)}
        finally:
            os.close(write_fd)
        if not answer or "pid" not in answer:
            os.close(read_fd)
            self.problem = (answer or {}).get("error") or "exited"
            self.close()
            return None
        stdout = open(read_fd, encoding="utf-8", errors="replace", newline=None)  # text, as Popen(text=True)
        return ForkedStep(self, int(answer["pid"]), stdout)

    def exit_code(self, timeout: float | None) -> int | None:
        """The running step's exit code once the zygote reaped it; None if not within `timeout`."""
        message = self._receive(timeout)
        if message is None:
            return None
        if "exit" not in message:  # the zygote died under its step: the step's code is lost with it
            return -signal.SIGKILL
        return int(message["exit"])

    def close(self) -> None:
        """Stop the zygote (it holds no step between steps: nothing to lose)."""
        try:
            self._sock.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def _receive(self, timeout: float | None) -> dict | None:
        """The next message; None on timeout; {} when the zygote has gone."""
        while b"\n" not in self._buffer:
            if timeout is not None:
                readable, _, _ = select.select([self._sock], [], [], timeout)
                if not readable:
                    return None
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                return {}
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)


# ---------------------------------------------------------------- the zygote process


def serve(fd: int, warm: list[str]) -> None:
    """Import the warm modules, say how many threads that left, then fork one child per request
    until the runner hangs up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the step and the runner
    sock = socket.socket(fileno=fd)
    warm_up(warm)
    send(sock, {"ready": True, "threads": thread_names()})
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
        serve_one(sock, json.loads(line), fds)
        fds = []


def serve_one(sock: socket.socket, request: dict, fds: list[int]) -> None:
    threads = thread_names()
    if len(threads) != 1:  # never fork beside another thread: its locks would stay held in the child
        send(sock, {"error": f"has threads ({', '.join(threads)})"})
    else:
        sys.stdout.flush()  # import-time output stays the zygote's (/dev/null), not the step's
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            sock.close()
            run_child(request, fds[0])
        send(sock, {"pid": pid})
        _, status = os.waitpid(pid, 0)
        send(sock, {"exit": os.waitstatus_to_exitcode(status)})
    for fd in fds:
        os.close(fd)


def send(sock: socket.socket, message: dict) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def warm_up(modules: list[str]) -> None:
    for name in HELD_BACK:
        sys.modules[name] = None  # type: ignore[assignment]  # `import polars` fails: optional users skip it
    for name in modules:
        if name.split(".")[0] in HELD_BACK:
            continue
        try:
            import_module(name)
        except Exception:  # noqa: BLE001  (an optional extra that is missing or broken: the step reports it)
            continue
    open_tracking_store()
    # What is imported now is shared by every child: keep the cycle collector off it, or each
    # child's collections walk (and copy-on-write) the whole warm heap.
    gc.collect()
    gc.freeze()


def open_tracking_store() -> None:
    """Open the run's embedded MLflow store (SQLite) once, as MLflow caches it per URI: opening it
    checks the schema against alembic's migration scripts, which each step would otherwise repeat
    (about a second of CPU). Its connections are closed before any fork: SQLAlchemy reopens them
    in each step, which never shares a connection with another process."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith("sqlite:") or "mlflow" not in sys.modules:
        return
    try:
        from mlflow import MlflowClient
        from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore
    except ImportError:
        return
    try:  # a first query makes MLflow build (and cache) both stores
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)
    except Exception:  # noqa: BLE001  (the step that needs the store reports what is wrong with it)
        pass
    for engine in (*TrackingStore._engine_map.values(), *RegistryStore._engine_map.values()):
        engine.dispose()


def run_child(request: dict, output_fd: int) -> NoReturn:
    """In the forked child: become `python -m mlopsc step ...` with the runner's cwd and env, and
    end as that program ends (`end_as_python_does`)."""
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.close(output_fd)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for name in HELD_BACK:
        if sys.modules.get(name, 0) is None:
            del sys.modules[name]
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    restore_blas_threads(request["env"])
    if "numpy.random" in sys.modules:  # (Python's `random` reseeds itself after a fork; numpy's global RNG does not)
        sys.modules["numpy.random"].seed()
    argv = request["argv"]  # [python, -m, MODULE, ...] (`is_module_command`)
    sys.argv = list(argv[2:])  # as `python -m` sets it (runpy puts the module's path first)
    sys.orig_argv = list(argv)
    from mlopsc.runtime import step_server

    action = step_server.step_action(argv)
    if action:  # what this step imports beyond the zygote's modules, for the next run's zygote
        atexit.register(step_server.remember_imports, action, frozenset(sys.modules), step_server.spec_of(argv))
    end_as_python_does(run_module(argv[2]))


INTERRUPTED = -signal.SIGINT


def run_module(name: str) -> int:
    """Run the module as `__main__`; the exit code the interpreter would give its program
    (INTERRUPTED for an uncaught Ctrl-C), after printing what it would print."""
    try:
        runpy.run_module(name, run_name="__main__", alter_sys=True)
    except SystemExit as e:
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code
        print(e.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        report_uncaught(e)
        return INTERRUPTED
    except BaseException as e:  # noqa: BLE001  (what an uncaught error does: its traceback, exit 1)
        report_uncaught(e)
        return 1
    return 0


def report_uncaught(error: BaseException) -> None:
    """The traceback the interpreter prints, from the program's own frames (not the fork's)."""
    tb = error.__traceback__
    while tb is not None and (tb.tb_frame.f_code.co_filename in (__file__, "<frozen runpy>")
                              or tb.tb_frame.f_code.co_filename.endswith("runpy.py")):
        tb = tb.tb_next
    sys.excepthook(type(error), error.with_traceback(tb), tb)  # (the hook prints the error's own traceback)


def end_as_python_does(code: int) -> NoReturn:
    """End the step as the interpreter ends a program (non-daemon threads joined, atexit handlers
    run: MLflow ends its active run there; stdout and stderr flushed; death by SIGINT after an
    uncaught Ctrl-C), but without tearing down the zygote's modules: a child freeing the whole
    inherited heap touches (and so copies) every page of it, ~0.4 s per step for nothing."""
    threading._shutdown()  # what Py_Finalize does first
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    if code == INTERRUPTED:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code & 0xFF)


def is_module_command(argv: list[str]) -> bool:
    """`python -m MODULE ...` with this interpreter: what a fork of the zygote can become."""
    return len(argv) >= 3 and argv[0] == sys.executable and argv[1] == "-m" and bool(argv[2])


def restore_blas_threads(env: dict[str, str]) -> None:
    """The zygote imported with one OpenBLAS thread; a step gets what a new interpreter would."""
    if "OPENBLAS_NUM_THREADS" in env or "numpy" not in sys.modules:
        return  # the run set it: the zygote imported with the run's own value
    # OpenBLAS's own order of precedence, then one thread per usable core
    chosen = env.get("GOTO_NUM_THREADS") or env.get("OMP_NUM_THREADS") or ""
    count = int(chosen) if chosen.isdigit() and int(chosen) > 0 else len(os.sched_getaffinity(0))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=count, user_api="blas")


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2:])
