"""What `mlopsc run` prints: one progress line per step (status and seconds), why a run
stopped (the step's own `error:` lines, from its log) and the closing summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SHOWN = {"ok": "ok", "cached": "cached", "resumed": "resumed", "skipped": "skipped", "failed": "FAILED",
         "interrupted": "INTERRUPTED"}
VERDICTS = {0: "done", 1: "FAILED", 130: "INTERRUPTED"}


@dataclass
class StepResult:
    name: str
    status: str  # ok | cached | resumed | skipped | failed | interrupted
    seconds: float = 0.0
    message: str = ""


class Reporter:
    def __init__(self, out: Callable[[str], None], err: Callable[[str], None]):
        self.out = out
        self.err = err
        self.results: list[StepResult] = []

    def progress(self, r: StepResult) -> None:
        self.results.append(r)
        line = f"  {r.name:<28} {SHOWN[r.status]:<11} {r.seconds:6.1f} s"
        if r.message:
            line += f"  {r.message}"
        (self.err if r.status in ("failed", "interrupted") else self.out)(line)

    def summary(self, code: int, seconds: float) -> None:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        shown = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        self.out(f"{VERDICTS[code]} in {seconds:.1f} s ({shown})")

    def failure(self, pipeline: str, step: str, log: Path, registered_nothing: bool) -> None:
        """Why the run stopped: the step's first `error: ` line and everything after it."""
        lines = read_lines(log)
        first = next((i for i, ln in enumerate(lines) if ln.startswith("error: ")), None)
        reason = "\n  ".join(lines[first:]).removeprefix("error: ") if first is not None else f"see {log}"
        self.err(f"run stopped: {pipeline} pipeline failed at {step}: {reason}")
        if registered_nothing:
            self.err("nothing was registered")

    def interrupted(self, step: str) -> None:
        self.progress(StepResult(step, "interrupted"))
        self.err(f"interrupted during {step}: its outputs were discarded; completed steps stay cached")


def read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
