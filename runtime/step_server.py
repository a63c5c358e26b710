"""The step server of `mlopsc run`: steps fork from a zygote (`step_fork`, the default), or run in
warm workers, interpreters started ahead of their step that have imported MLflow, torch, pandas
and the step runtime (the fallback when the zygote cannot fork, and `MLOPSC_STEP_WORKER=spawn`).

Why: each step used to be a new interpreter that imported MLflow and torch after the previous
step ended, which was most of a local run's time (+89% over calling the step functions in one
process). A warm worker is the same new interpreter, only started early: the server spawns the
next one while the current step runs, so its imports overlap that step (on two busy cores they
mostly cannot, which is why the zygote forks instead).

Each worker runs exactly ONE step and exits: it *is* that step's process (its own pid, exit code,
signals; `subprocess.Popen` is the runner's handle on it, as for a fresh interpreter), so the step
contract, Ctrl-C and SIGTERM handling, resume and atomic outputs are those of `python -m mlopsc
step ...`. A worker is never forked.

Protocol: the worker is spawned with the run's environment and working directory, stdout and
stderr on the pipe that becomes the step's output, and a readiness pipe. It imports the warm
modules with its output on /dev/null and Ctrl-C ignored (an idle worker is not a step), writes one
byte on the readiness pipe, then reads one JSON request `{"argv", "cwd", "env"}` on its request
pipe and becomes that step (stdin is the runner's, as a new interpreter's is). The runner waits
for readiness at most `READY_TIMEOUT` seconds; a worker that
is not ready by then (hung, or dead) is killed and the step runs as a new interpreter, with a
message. `MLOPSC_STEP_WORKER=0` turns the server off (each step a new interpreter after the last).
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import NoReturn

from mlopsc.runtime import step_fork

# What every step imports; beyond that a worker imports what the last step of the same action
# imported (`learned`), so it costs the CPU a new interpreter would spend, only earlier.
BASE_MODULES = ("mlopsc.cli", "mlopsc.runtime.stepmain", "mlopsc.runtime.steps")
# Steps that import none of that run as a new interpreter (~0.2 s of CPU), so a run whose other
# steps are all cached never starts a worker.
COLD_ACTIONS = frozenset({"resolve_data"})
# Steps that time something (prediction latency): no worker imports beside them, so the figure
# is the model's; the step after them starts its worker when they end.
MEASURING_ACTIONS = frozenset({"evaluate", "load_test", "smoke_test", "monitor_infra"})
ENABLE_VARIABLE = "MLOPSC_STEP_WORKER"
# A worker imports for a few seconds (tens on a loaded machine); one not ready after this long is
# hung or broken, and a new interpreter is the safer way to run the step.
READY_TIMEOUT = 300.0


def imports_file(action: str, spec: str | os.PathLike | None = None) -> Path:
    """Where the modules a step of `action` imported are kept: per user, Python version and spec
    file, so one project's steps never make another's import more."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    version = f"py{sys.version_info[0]}{sys.version_info[1]}"
    key = hashlib.sha256(str(Path(spec).resolve()).encode()).hexdigest()[:16] if spec else "any-spec"
    return Path(base) / "mlopsc" / "warm-imports" / version / key / f"{action}.txt"


def learned_imports(action: str, spec: str | os.PathLike | None = None) -> list[str]:
    """What the last step of `action` imported, in its order ([] before the first)."""
    try:
        return imports_file(action, spec).read_text(encoding="utf-8").split()
    except OSError:
        return []


def warm_modules(*actions: str | None, spec: str | os.PathLike | None = None) -> tuple[str, ...]:
    """BASE_MODULES, then what the last step of each action (of `spec`) imported, in order."""
    names = dict.fromkeys(BASE_MODULES)
    for action in actions:
        if action:
            names.update(dict.fromkeys(learned_imports(action, spec)))
    return tuple(names)


def spec_of(argv: list[str]) -> str | None:
    """The `--spec` of a step's command line (resolved against the cwd), or None."""
    for flag, value in zip(argv, argv[1:]):
        if flag == "--spec":
            return os.path.abspath(value)
    return None


def available() -> bool:
    """On unless `MLOPSC_STEP_WORKER=0`; needs POSIX descriptor passing (`pass_fds`)."""
    return os.environ.get(ENABLE_VARIABLE, "1") != "0" and os.name == "posix"


def fork_enabled() -> bool:
    """Steps fork from a zygote unless `MLOPSC_STEP_WORKER=spawn` (warm workers only)."""
    return os.environ.get(ENABLE_VARIABLE, "1") != "spawn"


class WarmWorker:
    """One pre-started interpreter waiting for its step."""

    def __init__(self, env: dict[str, str], cwd: Path, warm: tuple[str, ...]):
        self.env, self.cwd = env, cwd
        ready_read, ready_write = os.pipe()
        request_read, self._request = os.pipe()
        argv = [sys.executable, "-m", "mlopsc.runtime.step_server", str(ready_write), str(request_read), *warm]
        try:  # stdin is the runner's, as a new interpreter's is (an approval prompts at the terminal)
            self.proc = subprocess.Popen(argv, pass_fds=[ready_write, request_read], env=env, cwd=cwd,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        except BaseException:
            os.close(self._request)
            raise
        finally:
            os.close(ready_write)
            os.close(request_read)
        self._ready = ready_read

    def wait_ready(self, timeout: float) -> str | None:
        """None once the worker is warm and waiting; else why it cannot take a step."""
        try:
            readable, _, _ = select.select([self._ready], [], [], timeout)
            if not readable:
                return f"not ready after {timeout:g} s"
            return None if os.read(self._ready, 1) == b"1" else f"exited during its imports ({self.proc.wait()})"
        finally:
            os.close(self._ready)
            self._ready = -1

    def start(self, argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen | None:
        """Hand the worker its step; the step's process, or None if the worker died meanwhile."""
        request = json.dumps({"argv": argv, "cwd": str(cwd), "env": env}).encode()
        try:
            with open(self._request, "wb") as pipe:
                self._request = -1
                pipe.write(request)
        except OSError:  # BrokenPipeError included: it died
            self.kill()
            return None
        return self.proc

    def kill(self) -> None:
        for fd in (self._ready, self._request):
            if fd >= 0:
                os.close(fd)
        self._ready = self._request = -1
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        try:
            if self.proc.stdout is not None:
                self.proc.stdout.close()
        except OSError:
            pass


class StepServer:
    """The run's warm workers: at most one waiting ahead of the next step.

    `start_step` hands a waiting worker its step (spawning one first if none waits) and, when
    `more` says further steps will run, spawns the next worker right away so that its imports
    overlap this step. A worker is used only for the environment and directory it was spawned
    with; anything else runs as a new interpreter."""

    def __init__(self, env: dict[str, str], cwd: Path, next_action: str | None = None,
                 warm: tuple[str, ...] | None = None, ready_timeout: float = READY_TIMEOUT,
                 say: Callable[[str], None] | None = None, actions: tuple[str, ...] = (),
                 fork: bool | None = None, spec: str | None = None):
        self.env, self.cwd, self.warm, self.spec = env, cwd, warm, spec
        self.ready_timeout = ready_timeout
        self.say = say or (lambda m: print(m, file=sys.stderr, flush=True))
        self.waiting: WarmWorker | None = None
        self.zygote: step_fork.Zygote | None = None
        if step_fork.available() and (fork if fork is not None else fork_enabled()):
            try:  # every step of the run forks from it: it imports what all of their actions need
                self.zygote = step_fork.Zygote(env, cwd, warm or warm_modules(next_action, *actions, spec=spec))
            except OSError as e:
                self.say(f"      (step fork server did not start: {e}; steps run in warm workers)")
        if self.zygote is None:
            self.prepare(next_action)

    def prepare(self, action: str | None) -> None:
        """Spawn the worker for the next step (of `action`) now: it imports while the current step runs."""
        if self.waiting is None:
            try:
                self.waiting = WarmWorker(self.env, self.cwd, self.warm or warm_modules(action, spec=self.spec))
            except OSError as e:
                self.say(f"      (warm step worker did not start: {e}; steps run as new interpreters)")

    def start_step(self, argv: list[str], cwd: Path, env: dict[str, str],
                   more: bool | str = True) -> subprocess.Popen | None:
        """The step's process, run by a warm worker; None when the step should be a new interpreter.
        `more`: whether steps follow (a string: the next one's action), to spawn its worker now."""
        if env != self.env or Path(cwd) != Path(self.cwd):
            return None
        if self.zygote is not None and step_fork.is_module_command(argv):
            forked = self.fork_step(argv, cwd, env)
            if forked is not None:
                return forked
        self.prepare(step_action(argv))
        worker, self.waiting = self.waiting, None
        if worker is None:
            return None
        try:
            problem = worker.wait_ready(self.ready_timeout)
        except BaseException:  # Ctrl-C while it imports: it will never be a step
            worker.kill()
            raise
        proc = worker.start(argv, cwd, env) if problem is None else None
        if proc is None:
            worker.kill()
            self.say(f"      (warm step worker {problem or 'died before its step'}: "
                     "running the step as a new interpreter)")
        if more:
            self.prepare(more if isinstance(more, str) else None)
        return proc

    def forks(self) -> bool:
        """Whether steps are forked from a zygote (not yet known to have failed)."""
        return self.zygote is not None

    def fork_step(self, argv: list[str], cwd: Path, env: dict[str, str]) -> step_fork.ForkedStep | None:
        """The step forked by the zygote; None (and warm workers from now on) if it cannot fork."""
        assert self.zygote is not None
        try:
            problem = self.zygote.ready(self.ready_timeout)
        except BaseException:  # Ctrl-C while it imports: it will never fork a step
            self.zygote.close()
            self.zygote = None
            raise
        forked = self.zygote.start(argv, cwd, env) if problem is None else None
        if forked is None:
            self.say(f"      (step fork server {self.zygote.problem}: steps run in warm workers)")
            self.zygote.close()
            self.zygote = None
        return forked

    def close(self) -> None:
        """Stop the zygote and the waiting worker (they hold no step: nothing to lose)."""
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None
        if self.waiting is not None:
            self.waiting.kill()
            self.waiting = None


# ---------------------------------------------------------------- the worker process


def serve(ready_fd: int, request_fd: int, warm: list[str]) -> None:
    """Import the slow modules, say so, then become the one step the runner sends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an idle worker is no step: Ctrl-C is the runner's
    quietly(warm_up, warm)
    os.write(ready_fd, b"1")
    os.close(ready_fd)
    with open(request_fd, "rb") as pipe:
        request = pipe.read()
    if not request:
        sys.exit(0)  # the runner needs no more steps
    run_step(json.loads(request))


def quietly(action: Callable[[list[str]], None], arg: list[str]) -> None:
    """Run `action` with stdout and stderr on /dev/null: import-time noise is not the step's output."""
    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        action(arg)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def step_action(argv: list[str]) -> str | None:
    """The action of `python -m mlopsc step <action> ...`; None for another command."""
    return argv[4] if len(argv) > 4 and argv[3] == "step" and argv[4].isidentifier() else None


def remember_imports(action: str, since: frozenset[str] | None = None, spec: str | None = None) -> None:
    """At the step's exit: the mlopsc and library modules it imported (libraries to three name
    levels), in import order, for the next worker of this action. Never the project's own code:
    it may change before the next run. `since`: the modules a forked step started with (its
    zygote's, imported for every action): only what it added joins the action's list."""
    roots = tuple(p for p in {sys.prefix, sys.base_prefix, sys.exec_prefix} if p)
    names = []
    for name, module in list(sys.modules.items()):
        if name.startswith("__") or module is None or (since is not None and name in since):
            continue
        origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
        if name.split(".")[0] == "mlopsc" or (name.count(".") <= 2 and (origin in ("built-in", "frozen")
                                                                      or origin.startswith(roots))):
            names.append(name)
    if since is not None:
        known = learned_imports(action, spec)
        if not names:
            return
        names = known + [n for n in names if n not in set(known)]
    path = imports_file(action, spec)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text("\n".join(names) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only home: workers import less ahead, nothing else changes


def warm_up(modules: list[str]) -> None:
    for name in modules:
        try:
            import_module(name)
        except Exception:  # noqa: BLE001  (an optional extra that is missing or broken: the step reports it)
            continue
    # The warm heap lives as long as the step: keep the cycle collector's full passes off it.
    gc.collect()
    gc.freeze()


def run_step(request: dict) -> NoReturn:
    """Become `python -m mlopsc step ...` with the runner's cwd and env.

    Whatever ends `main()` (its SystemExit, an uncaught Ctrl-C or error) unwinds to the top of
    this module, so the interpreter ends the worker as it ends any program: the exit code, a
    traceback for an error, death by SIGINT for an uncaught Ctrl-C, non-daemon threads joined and
    atexit handlers run (MLflow ends its active run there)."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv = request["argv"]
    sys.argv = ["mlopsc", *argv[3:]]  # argv is [python, -m, mlopsc, step, ...]
    sys.orig_argv = list(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    action = step_action(argv)
    if action:
        atexit.register(remember_imports, action, None, spec_of(argv))
    from mlopsc.cli import main

    main()
    sys.exit(0)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
