"""`mlopsc run`: the train and deploy pipelines of one spec as local processes.

The runner executes the compiled local plan (`plan.json`, built in memory by the same compile
`mlopsc compile --target local` does, see `run_plan`): each step runs the plan's `mlopsc step`
command, with references resolved and outputs in a staging folder. The IR decides the walk
(conditions, skips, cache keys). Around it:

- **cache** (`run_state`, `cachekey`): a step whose key matches its last successful run, with its
  outputs still in place, is reported `cached` and not run. Deploy-side steps are also checked
  against the registry: a deploy is "up to date" only while the environment's alias still
  points at the version it deployed.
- **atomic outputs** (`run_process`): a step writes into `runs/<pipeline>/.staging/<step>/`; only
  when it exits 0 is that folder renamed over `runs/<pipeline>/<step>/` and the cache entry
  written. Ctrl-C (and SIGTERM) stops the running step, removes its staging folder and writes
  nothing else.
- **resume**: `--resume` continues a failed run at the failed step, trusting the steps the
  failed run completed (`runs/<pipeline>/state.json`) without hashing them again.
- **progress** (`run_report`): one line per step with its status and seconds; the step's own
  lines indented.
- **serving** (`run_servers`): after a deploy, the production endpoint is printed and sent one
  prediction; servers the run started are stopped at the end unless `serve=True`.

The tracking URI is `--tracking-uri`, else the spec's `tracking.uri` when it resolves, else
`MLFLOW_TRACKING_URI` (docker-compose sets it to its MLflow service), else the embedded store
`sqlite:///<workdir>/.mlopsc/mlflow.db`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlopsc import ir
from mlopsc.runtime.platforms.tracking_store import resolve_tracking_uri
from mlopsc.runtime.run_plan import LocalPlan, compile_local_plan
from mlopsc.runtime.run_process import terminate_as_interrupt
from mlopsc.runtime.run_report import Reporter
from mlopsc.runtime.run_servers import ProductionUnanswered, Servers
from mlopsc.runtime.run_state import Registry, RunStore
from mlopsc.runtime.run_walk import Interrupted, PipelineWalk, RunFailed

__all__ = ["Interrupted", "RunFailed", "RunOptions", "Runner", "run", "terminate_as_interrupt"]


@dataclass
class RunOptions:
    spec: str
    pipeline: str = "all"  # train | deploy | all
    until: str | None = None
    approve: bool = False
    resume: bool = False
    tracking_uri: str | None = None
    workdir: str | None = None
    serve: bool = False
    predict: bool = True
    out: Callable[[str], None] = field(default=lambda m: print(m, flush=True))
    err: Callable[[str], None] = field(default=lambda m: print(m, file=sys.stderr, flush=True))


def step_environment(tracking_uri: str, workdir: Path, approve: bool) -> dict[str, str]:
    """What every step process runs with: the tracking store, the work directory, quiet libraries."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "MLOPSC_WORKDIR": str(workdir),
           "PYTHONUNBUFFERED": "1",
           "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", "ignore"),
           "MLFLOW_LOGGING_LEVEL": os.environ.get("MLFLOW_LOGGING_LEVEL", "WARNING"),
           "GIT_PYTHON_REFRESH": "quiet", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    if approve:
        env["MLOPSC_APPROVE"] = "1"
    return env


class Runner(PipelineWalk):
    """One `mlopsc run`: the pipelines in order (each walked by `PipelineWalk`), then the
    production endpoint. `plan` defaults to the spec's compiled local plan."""

    def __init__(self, project: ir.Project, opts: RunOptions, plan: LocalPlan | None = None):
        self.opts = opts
        store = RunStore(Path(opts.workdir or os.getcwd()).resolve())
        self.tracking_uri = resolve_tracking_uri(opts.tracking_uri, project, store.workdir)
        env = step_environment(self.tracking_uri, store.workdir, opts.approve)
        super().__init__(project, plan or load_plan(opts.spec), Path(opts.spec).resolve(), store,
                         Registry(self.tracking_uri, project.registry.model), Reporter(opts.out, opts.err), env, opts)
        self.servers = Servers(store.workdir, env, opts.out)

    def pipelines(self) -> list[ir.Pipeline] | None:
        """The pipelines to run, in order; None (after saying why) when the options name none."""
        names = ["train", "deploy"] if self.opts.pipeline == "all" else [self.opts.pipeline]
        pipelines = [p for p in (self.project.pipeline(n) for n in names) if p is not None]
        if not pipelines:
            self.opts.err(f"error: the spec has no {' or '.join(names)} pipeline")
            return None
        if self.opts.until and not any(p.step(self.opts.until) for p in pipelines):
            known = ", ".join(s.name for p in pipelines for s in p.steps)
            self.opts.err(f"error: --until {self.opts.until}: no such step (steps: {known})")
            return None
        return pipelines

    def run(self) -> int:
        pipelines = self.pipelines()
        if pipelines is None:
            return 2
        self.opts.out(f"mlopsc run {self.project.name}: tracking {self.tracking_uri}, "
                      f"work directory {self.store.workdir}")
        start = time.perf_counter()
        code = 0
        try:
            self.run_pipelines(pipelines)
        except (RunFailed, ProductionUnanswered):
            code = 1
        except Interrupted:
            code = 130
        else:
            self.record_usage()  # before the seal: writing them changes the store the seal fingerprints
            self.seal_registry()
        finally:
            self.hasher.save()
            self.close_step_server()
            self.record_usage()
            if not (self.opts.serve and code == 0):
                self.servers.stop_started()
        self.report.summary(code, time.perf_counter() - start)
        if code == 0 and self.opts.serve:
            self.servers.serve_until_interrupted()
        return code

    def run_pipelines(self, pipelines: list[ir.Pipeline]) -> None:
        first = pipelines[0]
        self.will_walk(pipelines)
        for index, pipeline in enumerate(pipelines):
            self.pipelines_after = len(pipelines) - index - 1
            if not self.run_pipeline(pipeline, first=pipeline is first):
                return  # --until reached
        if any(p.name == "deploy" for p in pipelines) and not self.opts.until:
            self.servers.production(self.project, self.spec.parent, self.registry, self.opts.predict)


def load_plan(spec: str) -> LocalPlan:
    """The compiled local plan of a spec that is known to compile (it was loaded already)."""
    plan, diagnostics = compile_local_plan(spec)
    if plan is None:
        raise ValueError(f"{spec} does not compile for the local target: {diagnostics}")
    return LocalPlan.from_json(plan)


def run(opts: RunOptions) -> int:
    from mlopsc.api import load_project
    from mlopsc.diagnostics import SpecError, render

    try:
        project = load_project(opts.spec)  # once: the plan is compiled from the same IR
    except SpecError as e:
        opts.err(render(e.diagnostics, "text").rstrip())
        return 1
    plan, diagnostics = compile_local_plan(opts.spec, project)
    if plan is None:
        opts.err(render(diagnostics, "text").rstrip())
        return 1
    terminate_as_interrupt()
    return Runner(project, opts, LocalPlan.from_json(plan)).run()
