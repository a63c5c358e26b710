"""One step of `mlopsc run` as a child process: its output streamed (noise filtered) and logged,
Ctrl-C and SIGTERM passed on to it, and its staging folder moved over the step's output folder
only when it exits 0, so a half-written output never replaces a complete one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlopsc.runtime.step_server import StepServer

# Lines MLflow and warnings print that say nothing about the step (they stay in the step's log).
NOISE = ("warnings.warn", "UserWarning", "FutureWarning", "DeprecationWarning", "INFO mlflow", "Registered model",
         "Created version", "Successfully registered", "color_warning(", "WARNING mlflow", "🏃", "🧪", "View run",
         "View experiment")
STOP_GRACE_SECONDS = 15


def is_noise(line: str) -> bool:
    return any(n in line for n in NOISE)


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def run_process(argv: list[str], *, cwd: Path, env: dict[str, str], log_path: Path,
                out: Callable[[str], None], err: Callable[[str], None], server: StepServer | None = None,
                more: bool | str = True) -> int:
    """Run `argv`, showing its lines indented and writing them all to `log_path`; its exit code.
    With a `server` (`step_server`), the process is a warm worker that imported the step's
    libraries ahead of it (`more`: steps follow, so it starts the next one; a string: the next
    one's action), else a new interpreter. On KeyboardInterrupt the child is stopped first (SIGINT, then SIGKILL), then it
    propagates."""
    proc = server.start_step(argv, cwd, env, more) if server is not None else None
    if proc is None:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
    try:
        assert proc.stdout is not None
        _stream(proc.stdout, log_path, out, err)
        return proc.wait()
    except KeyboardInterrupt:
        stop(proc)
        raise
    finally:
        proc.stdout.close()


def _stream(lines: Iterable[str], log_path: Path, out: Callable[[str], None], err: Callable[[str], None]) -> None:
    with open(log_path, "w", encoding="utf-8") as log:
        for line in lines:
            log.write(line)
            log.flush()
            line = line.rstrip("\n")
            if line and not is_noise(line):
                (err if line.startswith("error:") else out)("      " + line)


def stop(proc: subprocess.Popen) -> None:
    """Interrupt the child like Ctrl-C would, so it can end its MLflow run; kill it if it hangs."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def move_into_place(staging: Path, final: Path) -> None:
    """Replace `final` with `staging` by renames (the old folder is kept aside until the swap)."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, final)
    shutil.rmtree(old, ignore_errors=True)


def terminate_as_interrupt() -> None:
    """SIGTERM (docker stop, a supervisor) stops like Ctrl-C: the running step is interrupted and
    nothing half written is kept."""
    def handler(*_a: Any) -> None:
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, handler)
