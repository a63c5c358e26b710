"""The data a monitor check reads: a file it is handed, or the captured traffic.

In order of precedence:

1. `--arg data=FILE` (what `mlopsc monitor --data` passes) or `--input current=...`: that file.
2. `--input captured=DIR`: every capture under DIR, already the window (SageMaker Model Monitor
   downloads the DataCapture files of its period there).
3. Otherwise the captured traffic of `--arg captures=ENVIRONMENT|LOCATION` (default: the
   monitored environment) at the target's capture location (`captures.location`), **since this
   step's last successful run**: the step commits its window (`Window.commit`) once it has
   reported, so a failed run reads the same traffic again next time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlopsc.runtime import captures
from mlopsc.runtime.capture_formats import CaptureFormatError
from mlopsc.runtime.steps import StepContext, StepFailed, step_storage


@dataclass
class Window:
    """Rows a check reads and where they came from."""

    frame: Any
    source: str
    location: str | None = None  # captures read since `since`: the window to commit
    since: str | None = None
    until: str | None = None
    step: str = ""

    def commit(self) -> None:
        """Remember the newest exchange read, so the next run starts after it."""
        if self.location and self.until:
            captures.save_until(self.location, self.step, self.until)


def feature_columns(ctx: StepContext) -> tuple[str, ...]:
    """Names for instances sent as lists: the reference dataset's columns without the label."""
    project = ctx.project
    data, m = project.data, project.monitoring
    if data is None:
        return ()
    name = m.drift.reference if m and m.drift else (data.datasets[0].name if data.datasets else None)
    ds = data.dataset(name) if name else None
    if ds is not None and not ds.columns and ds.schema_from:
        ds = data.dataset(ds.schema_from)
    return tuple(c.name for c in (ds.columns if ds else ()) if c.name != data.label)


def current(ctx: StepContext) -> Window:
    """The rows to check now (see the module's docstring)."""
    ref = ctx.args.get("data") or ctx.inputs.get("current")
    if ref:
        path = Path(ref) if Path(ref).is_absolute() else ctx.root / ref
        return Window(step_storage(ctx).read_table(path), str(path))
    if ctx.inputs.get("captured"):
        loc = str(ctx.input_path("captured"))
        return Window(_read(loc, None, feature_columns(ctx))[0], loc)
    return captured_since_last_run(ctx)


def captured_since_last_run(ctx: StepContext) -> Window:
    env = ctx.args.get("captures") or captures.monitored_environment(ctx.project)
    if not env:
        raise StepFailed("no data to check: the spec deploys no environment to capture traffic from; "
                         "pass --data FILE")
    loc = captures.location(ctx.project, ctx.target, env, ctx.root)
    step = ctx.step or ctx.args.get("step") or "monitor"
    since = captures.last_until(loc, step)
    frame, until = _read(loc, since, feature_columns(ctx))
    if frame.empty:
        after = f" since {since}" if since else ""
        raise StepFailed(f"no captured traffic in {loc}{after}: nothing to check (send traffic to the "
                         f"{env} endpoint, or pass --data FILE)")
    ctx.log(f"read {len(frame)} captured rows from {loc}" + (f" since {since}" if since else ""))
    return Window(frame, loc, loc, since, until, step)


def _read(loc: str, since: str | None, columns: tuple[str, ...]):
    try:
        return captures.read_window(loc, since, columns)
    except CaptureFormatError as e:
        raise StepFailed(f"captured traffic: {e}") from None
    except OSError as e:
        raise StepFailed(f"cannot read captured traffic at {loc}: {e}") from None


__all__ = ["Window", "current", "feature_columns"]
