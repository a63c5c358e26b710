"""`mlopsc serve` (one environment's registry alias over HTTP) and `mlopsc monitor` (the monitor
pipeline on new data, once or on a cron schedule)."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

from mlopsc.cron import next_run, normalize
from mlopsc.runtime.runner import Interrupted, RunFailed, Runner, RunOptions

DATA_ACTIONS = ("drift", "performance", "llm_quality", "eval_suite")


def _load(spec: str, err):
    from mlopsc.api import load_project
    from mlopsc.diagnostics import SpecError, render

    try:
        return load_project(spec)
    except SpecError as e:
        err(render(e.diagnostics, "text").rstrip())
        return None


def serve(spec: str, environment: str, *, host: str = "127.0.0.1", port: int = 8080,
          tracking_uri: str | None = None, workdir: str | None = None) -> int:
    def err(m):
        print(m, file=sys.stderr, flush=True)

    project = _load(spec, err)
    if project is None:
        return 1
    envs = [e.name for e in project.deployment.environments] if project.deployment else []
    if environment not in envs:
        err(f"error: the spec has no deployment environment {environment!r} (environments: {', '.join(envs)})")
        return 2
    from mlopsc.runtime.platforms.tracking_store import resolve_tracking_uri
    from mlopsc.runtime.serving import ModelServer
    from mlopsc.runtime.tracking import Tracker

    root = Path(workdir or os.getcwd()).resolve()
    tracker = Tracker(root, project.tracking.experiment, tracking_uri=resolve_tracking_uri(tracking_uri, project))
    model = project.registry.model
    version = tracker.version_for_alias(model, environment)
    if version is None:
        err(f"error: no version of {model} is deployed to {environment} (alias {environment!r} is not set): "
            f"run `mlopsc run {spec}` first")
        return 1
    from mlopsc.runtime.captures import CaptureWriter, spec_sample

    capture = CaptureWriter(root / ".mlopsc" / "captures" / environment, model=model, version=str(version.version),
                            environment=environment, sample=spec_sample(project))
    server = ModelServer(tracker.load_model(f"models:/{model}/{version.version}"), name=model,
                         version=str(version.version), host=host, port=port, capture=capture)
    server.start()
    print(f"serving {model} version {version.version} ({environment}) at {server.url}/predict", flush=True)
    from mlopsc.runtime.feedback import FeedbackLog

    server.feedback = FeedbackLog.for_server(project, root, environment)  # None without monitoring.feedback
    import signal

    def stop(*_a):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    from mlopsc.runtime.localserve import record_foreground

    record = record_foreground(root, environment, server.url, str(version.version))
    try:
        server.serve_forever()
    finally:
        record.unlink(missing_ok=True)
    return 0


class MonitorRunner(Runner):
    """The monitor pipeline through the runner: every check runs every time (no cache)."""

    def __init__(self, project, opts: RunOptions, data: str | None):
        super().__init__(project, opts)
        self.data = str(Path(data).resolve()) if data else None

    def command(self, pipeline, step, inputs, staging):
        argv = super().command(pipeline, step, inputs, staging)
        if self.data and step.action in DATA_ACTIONS:
            argv += ["--arg", f"data={self.data}"]
        return argv

    def read_cache(self, pipeline, step):
        return None


def monitor(spec: str, data: str | None, *, schedule: str | None = None, tracking_uri: str | None = None,
            workdir: str | None = None) -> int:
    def out(m):
        print(m, flush=True)

    def err(m):
        print(m, file=sys.stderr, flush=True)

    project = _load(spec, err)
    if project is None:
        return 1
    pipeline = project.pipeline("monitor")
    if pipeline is None:
        err("error: the spec declares no monitoring")
        return 2
    # drift and performance read the traffic captured since their last run when no file is given
    needs_data = [s.name for s in pipeline.steps if s.action == "llm_quality"]
    if needs_data and not data:
        err(f"error: {', '.join(needs_data)} need(s) new data: pass --data FILE (or set MLOPSC_MONITOR_DATA)")
        return 2
    if data and not os.path.isfile(data):
        err(f"error: data file {data} does not exist")
        return 2
    if not schedule:
        return _monitor_once(project, spec, data, tracking_uri, workdir, out, err)
    try:
        normalize(schedule)
    except ValueError as e:
        err(f"error: --schedule {schedule!r}: {e}")
        return 2
    out(f"monitoring {project.name} on schedule {schedule!r} (Ctrl-C stops)")
    try:
        while True:
            when = next_run(schedule, dt.datetime.now().replace(second=0, microsecond=0))
            out(f"next check at {when:%Y-%m-%d %H:%M}")
            while dt.datetime.now() < when:
                time.sleep(min(30.0, max(0.5, (when - dt.datetime.now()).total_seconds())))
            _monitor_once(project, spec, data, tracking_uri, workdir, out, err)
    except KeyboardInterrupt:
        return 0


def _monitor_once(project, spec, data, tracking_uri, workdir, out, err) -> int:
    opts = RunOptions(spec=spec, pipeline="monitor", tracking_uri=tracking_uri, workdir=workdir, out=out, err=err)
    runner = MonitorRunner(project, opts, data)
    pipeline = project.pipeline("monitor")
    runner.params = runner.pipeline_params(pipeline)
    runner.will_walk([pipeline])
    try:
        runner.run_pipeline(pipeline)
    except RunFailed:
        return 1
    except Interrupted:
        return 130
    finally:
        runner.hasher.save()
        runner.close_step_server()
    violated = [s.name for s in pipeline.steps if runner.values.get(("monitor", s.name, "violated")) is True]
    for s in pipeline.steps:
        if s.action == "drift":
            report = runner.out_dir("monitor", s.name) / "report"
            out(f"drift report: {report} (JSON), {report}.html (HTML)")
    if violated:
        err(f"monitoring violations: {', '.join(violated)}")
        return 1
    out("no violations")
    return 0


__all__ = ["monitor", "next_run", "serve"]
