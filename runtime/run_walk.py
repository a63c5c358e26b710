"""The walk through one pipeline of `mlopsc run`: conditions and skips, `--until`, `--resume`,
the cache, and each step run as its compiled plan command (`run_plan`) in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mlopsc import ir
from mlopsc.contract import StepCall
from mlopsc.runtime import cachekey, step_server, usage
from mlopsc.runtime.run_plan import LocalPlan, Resolved, process_argv, resolve_inputs, step_ref
from mlopsc.runtime.run_process import discard, fresh_dir, move_into_place, run_process
from mlopsc.runtime.run_report import Reporter, StepResult
from mlopsc.runtime.run_servers import healthy
from mlopsc.runtime.run_state import CHECKED, DEPLOYS, CacheChecks, Registry, RunStore
from mlopsc.runtime.step_server import StepServer


class RunFailed(Exception):
    """The run stopped; the message says where and why (already printed)."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM stopped the run during a step."""


def git_head(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def condition_text(when: ir.Condition) -> str:
    return f"condition {when.step}.{when.output} {when.op} {json.dumps(when.value)}"


class PipelineWalk:
    def __init__(self, project: ir.Project, plan: LocalPlan, spec: Path, store: RunStore, registry: Registry,
                 report: Reporter, env: dict[str, str], opts: Any):
        self.project, self.plan, self.spec = project, plan, spec
        self.store, self.registry, self.report = store, registry, report
        self.env, self.opts = env, opts
        self.hasher = cachekey.Hasher(store.hash_index())
        self.checks = CacheChecks(store, registry)
        self.values: dict[tuple[str, str, str], Any] = {}  # (pipeline, step, output) -> parameter value
        self.params: dict[str, str] = {}
        self.server: StepServer | None = None  # started by the first step that runs (none when all are cached)
        self.run_actions: tuple[str, ...] = ()  # the actions of every step this run may run (the zygote warms them)
        self.pipelines_after = 0  # pipelines this run walks after the current one
        self.confirmed: list[tuple[str, str]] = []  # registry-checked steps this run ran or found valid
        self.usage: list[dict] = []  # usage records of the steps this run executed (`record_usage`)
        self.did_real_work = False  # a step other than the never-cached ones ran

    def step_server(self, next_action: str | None = None) -> StepServer | None:
        """The run's warm step workers (`step_server`); None where steps run as new interpreters."""
        if self.server is None and step_server.available():
            self.server = step_server.StepServer(self.env, self.store.workdir, next_action, say=self.opts.err,
                                                 actions=self.run_actions, spec=str(self.spec))
        return self.server

    def will_walk(self, pipelines: list[ir.Pipeline]) -> None:
        """The pipelines this run walks: a zygote warms what all their steps import."""
        self.run_actions = tuple(dict.fromkeys(s.action for p in pipelines for s in p.steps
                                               if s.action not in step_server.COLD_ACTIONS))

    def more_after(self, pipeline: ir.Pipeline, step: ir.Step) -> bool | str:
        """Whether a step that runs in a warm worker may follow `step` (here or in a later
        pipeline): the next such step's action when it is in this pipeline."""
        later = pipeline.steps[[s.name for s in pipeline.steps].index(step.name) + 1:]
        warm = [s.action for s in later if s.action not in step_server.COLD_ACTIONS]
        return warm[0] if warm else self.pipelines_after > 0

    def more_will_run(self, pipeline: ir.Pipeline) -> bool:
        """Whether steps beyond the cold ones will likely run: an unconditional one never ran."""
        return any(self.read_cache(pipeline.name, s.name) is None for s in pipeline.steps
                   if s.when is None and s.action not in step_server.COLD_ACTIONS)

    def seal_registry(self) -> None:
        """After a successful run: the registry as it is now is what this run's registry-checked
        steps were confirmed against, so the next run trusts them while it stays unchanged
        (without importing MLflow)."""
        fingerprint = self.registry.fingerprint()
        for pipeline, step in self.confirmed if fingerprint is not None else ():
            entry = self.store.read_cache(pipeline, step)
            if entry is not None:
                self.store.write_cache(pipeline, step, {**entry, "registry": fingerprint})

    def record_usage(self) -> None:
        """Write this run's usage records into MLflow, unless only never-cached steps ran: then
        they wait in the pending file, so a cached re-run does not import MLflow for them."""
        if not self.usage:
            return
        if not self.did_real_work:
            usage.keep_pending(self.store.workdir, self.usage)
        elif self.server is not None and self.server.forks():
            usage.keep_pending(self.store.workdir, self.usage)  # then written by a fork of the zygote
            argv = [sys.executable, "-m", "mlopsc.runtime.usage", str(self.store.workdir), self.registry.tracking_uri]
            run_process(argv, cwd=self.store.workdir, env=self.env, log_path=self.store.workdir / usage.LOG,
                        out=self.opts.err, err=self.opts.err, server=self.server, more=False)
        else:
            usage.write(self.registry.client, self.store.workdir, self.usage, warn=self.opts.err)
        self.usage = []

    def close_step_server(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    # ------------------------------------------------------------ the pipeline

    def run_pipeline(self, pipeline: ir.Pipeline, first: bool = True) -> bool:
        """Run one pipeline; False when the run stops here (--until reached)."""
        self.opts.out(f"[{pipeline.name}] {pipeline.description}")
        self.params = self.pipeline_params(pipeline)
        resume_from = self.resume_point(pipeline.name, first)
        done: dict[str, str] = {}  # step -> ok|cached|skipped|...
        record: dict[str, Any] = {"status": "running", "completed": {}}
        for step in pipeline.steps:
            try:
                done[step.name] = self.run_one(pipeline, step, done, resume_from, record)
            except Interrupted:
                record.update(status="failed", failed=step.name, interrupted=True)
                self.store.write_run_state(pipeline.name, record)
                raise
            if done[step.name] == "failed":
                self.stop_failed(pipeline, step, record)
            if self.opts.until == step.name:
                record["status"] = "stopped"
                self.store.write_run_state(pipeline.name, record)
                self.opts.out(f"stopped after {step.name} (--until)")
                return False
        record["status"] = "succeeded"
        self.store.write_run_state(pipeline.name, record)
        return True

    def resume_point(self, pipeline: str, first: bool) -> dict | None:
        """The failed run's state to continue from with --resume; None to run normally."""
        previous = self.store.read_run_state(pipeline)
        failed = bool(previous and previous.get("status") == "failed")
        if self.opts.resume and failed:
            return previous
        if self.opts.resume and first:
            self.opts.out("  (--resume: the last run did not fail; running normally)")
        elif failed:
            self.opts.out(f"  (the last run failed at {previous.get('failed')}; --resume continues there)")
        return None

    def stop_failed(self, pipeline: ir.Pipeline, step: ir.Step, record: dict) -> None:
        record.update(status="failed", failed=step.name)
        self.store.write_run_state(pipeline.name, record)
        self.report.failure(pipeline.name, step.name, self.store.log_file(pipeline.name, step.name),
                            registered_nothing=step.action in ("resolve_data", "validate", "fail"))
        if pipeline.on_failure is not None:
            from mlopsc.runtime.monitoring import send_alerts

            channels = [c for c in dict(pipeline.on_failure.args).get("channels", "").split(",") if c]
            send_alerts(channels, {"text": f"{self.project.name}: {pipeline.name} failed at {step.name}",
                                   "pipeline": pipeline.name, "step": step.name}, self.opts.out)
        raise RunFailed(step.name)

    def pipeline_params(self, pipeline: ir.Pipeline) -> dict[str, str]:
        params = {p.name: "" if p.default is None else str(p.default) for p in pipeline.params}
        params["git_commit"] = git_head(self.spec.parent) or "unknown"
        if pipeline.name == "deploy":
            registered = self.values.get(("train", "register", "model_version"))
            if registered is not None:
                params["model_version"] = str(registered)
            elif params.get("model_version") in ("", "latest"):
                params["model_version"] = self.registry.latest_version() or "latest"
        return params

    # ------------------------------------------------------------ one step

    def skip_reason(self, pipeline: ir.Pipeline, step: ir.Step, done: dict[str, str]) -> str | None:
        """Why the step does not run: its condition does not hold, or an upstream step did not run."""
        when = step.when
        if when is not None:
            value = self.values.get((pipeline.name, when.step, when.output))
            if (value == when.value) != (when.op == "=="):
                return condition_text(when)
        missing = [u for u in step.upstream() if done.get(u) in (None, "skipped") and not (when and u == when.step)]
        return f"needs {', '.join(missing)}" if missing else None

    def run_one(self, pipeline: ir.Pipeline, step: ir.Step, done: dict[str, str], resume_from: dict | None,
                record: dict) -> str:
        reason = self.skip_reason(pipeline, step, done)
        if reason:
            self.report.progress(StepResult(step.name, "skipped", 0.0, reason))
            return "skipped"
        call = self.plan.call(pipeline.name, step.name)
        inputs = self.inputs(pipeline, call)
        t0 = time.perf_counter()
        if resume_from and step.name in resume_from.get("completed", {}) and \
                self.store.outputs_present(pipeline.name, step):
            self.load_values(pipeline, step)
            record["completed"][step.name] = resume_from["completed"][step.name]
            self.report.progress(StepResult(step.name, "resumed", time.perf_counter() - t0,
                                            "completed by the failed run"))
            return "resumed"
        key = cachekey.step_key(self.project, self.spec.parent, step, self.key_inputs(pipeline, call, inputs),
                                self.hasher, extra={"tracking": self.registry.tracking_uri})
        if self.cached(pipeline, step, key):
            self.load_values(pipeline, step)
            record["completed"][step.name] = key
            note = (self.read_cache(pipeline.name, step.name) or {}).get("note") or ""
            self.report.progress(StepResult(step.name, "cached", time.perf_counter() - t0, note))
            return "cached"
        ok = self.execute(pipeline, step, self.revive_endpoints(pipeline, call, inputs))
        seconds = time.perf_counter() - t0
        # wall time and resources of every executed step, for `mlopsc cost --actual`
        self.usage.append(usage.entry(self.project, pipeline.name, step, seconds, "ok" if ok else "failed"))
        self.did_real_work = self.did_real_work or step.action not in cachekey.NEVER_CACHED
        if not ok:
            self.report.progress(StepResult(step.name, "failed", seconds))
            return "failed"
        self.completed(pipeline, step, key, record)
        self.report.progress(StepResult(step.name, "ok", time.perf_counter() - t0))
        return "ok"

    def cached(self, pipeline: ir.Pipeline, step: ir.Step, key: str) -> bool:
        if step.action in cachekey.NEVER_CACHED:
            return False
        entry = self.read_cache(pipeline.name, step.name)
        valid = bool(entry and entry.get("key") == key and self.store.outputs_present(pipeline.name, step)
                     and self.checks.still_valid(step, self.params, entry))
        if valid and step.action in CHECKED:
            self.confirmed.append((pipeline.name, step.name))
        return valid

    def completed(self, pipeline: ir.Pipeline, step: ir.Step, key: str, record: dict) -> None:
        self.load_values(pipeline, step)
        registered = self.values.get((pipeline.name, step.name, "model_version"))
        self.store.write_cache(pipeline.name, step.name, {"key": key, "note": self.checks.note(step, registered)})
        if step.action in CHECKED:
            self.confirmed.append((pipeline.name, step.name))
        record["completed"][step.name] = key
        self.store.write_run_state(pipeline.name, record)

    def command(self, pipeline: ir.Pipeline, step: ir.Step, inputs: dict[str, Resolved], staging: Path) -> list[str]:
        """The step's plan command as this machine runs it (`mlopsc monitor` adds its data here)."""
        return process_argv(self.plan.call(pipeline.name, step.name), spec=self.spec, inputs=inputs, staging=staging)

    def read_cache(self, pipeline: str, step: str) -> dict | None:
        """The step's cache entry (`mlopsc monitor` runs every check every time: it has none)."""
        return self.store.read_cache(pipeline, step)

    def out_dir(self, pipeline: str, step: str) -> Path:
        return self.store.out_dir(pipeline, step)

    def execute(self, pipeline: ir.Pipeline, step: ir.Step, inputs: dict[str, Resolved]) -> bool:
        """Run the step's plan command; True when it exited 0 and its outputs are in place."""
        staging = fresh_dir(self.store.staging_dir(pipeline.name, step.name))
        argv = self.command(pipeline, step, inputs, staging)
        more = False if step.action in step_server.MEASURING_ACTIONS else self.more_after(pipeline, step)
        if step.action in step_server.COLD_ACTIONS and self.more_will_run(pipeline):
            self.step_server(more if isinstance(more, str) else None)  # its imports overlap this step
        self.opts.out(f"  {step.name} ...")
        cold = step.action in step_server.COLD_ACTIONS
        try:
            code = run_process(argv, cwd=self.store.workdir, env=self.env,
                               log_path=self.store.log_file(pipeline.name, step.name),
                               out=self.opts.out, err=self.opts.err,
                               server=None if cold else self.step_server(), more=more)
        except KeyboardInterrupt:
            discard(staging)
            self.report.interrupted(step.name)
            raise Interrupted() from None
        if code != 0:
            discard(staging)
            if code == 130:
                self.report.progress(StepResult(step.name, "interrupted"))
                raise Interrupted()
            return False
        move_into_place(staging, self.store.out_dir(pipeline.name, step.name))
        return True

    # ------------------------------------------------------------ inputs and outputs

    def inputs(self, pipeline: ir.Pipeline, call: StepCall) -> dict[str, Resolved]:
        return resolve_inputs(call, self.params, lambda step, output: self.output_of(pipeline, step, output))

    def output_of(self, pipeline: ir.Pipeline, step: str, output: str) -> Resolved:
        """A producer's output as an input: the artifact's path, or the parameter's value."""
        producer = pipeline.step(step)
        port = producer.output(output) if producer else None
        if port is not None and port.is_artifact:
            return "artifact", str(self.store.out_dir(pipeline.name, step) / output)
        value = self.values.get((pipeline.name, step, output))
        return "param", value if isinstance(value, str) else json.dumps(value)

    def deploy_producer(self, pipeline: ir.Pipeline, ref: str) -> ir.Step | None:
        """The deploy step whose output `ref` names, if it names one."""
        found = step_ref(ref)
        producer = pipeline.step(found[0]) if found else None
        return producer if producer is not None and producer.action in DEPLOYS else None

    def key_inputs(self, pipeline: ir.Pipeline, call: StepCall, inputs: dict[str, Resolved]) -> dict[str, Resolved]:
        """Inputs as the cache sees them: lineage (git_commit) left out, an endpoint URL replaced by
        its deploy step's key (the URL changes whenever servers restart; the deployment does not)."""
        out = {}
        for name, ref in call.inputs:
            if name == "git_commit":
                continue
            producer = self.deploy_producer(pipeline, ref)
            if producer is not None and inputs[name][0] == "param":
                entry = self.read_cache(pipeline.name, producer.name) or {}
                out[name] = ("param", "deployment:" + str(entry.get("key")))
            else:
                out[name] = inputs[name]
        return out

    def revive_endpoints(self, pipeline: ir.Pipeline, call: StepCall,
                         inputs: dict[str, Resolved]) -> dict[str, Resolved]:
        """A step about to run against an endpoint whose servers are gone (a cached or resumed
        deploy from an earlier run) gets the deploy step run again first."""
        for name, ref in call.inputs:
            producer = self.deploy_producer(pipeline, ref)
            if producer is None or inputs[name][0] != "param" or healthy(inputs[name][1]):
                continue
            self.opts.out(f"  ({producer.name}: {inputs[name][1]} is not running; deploying again)")
            producer_call = self.plan.call(pipeline.name, producer.name)
            if not self.execute(pipeline, producer, self.inputs(pipeline, producer_call)):
                raise RunFailed(producer.name)
            self.load_values(pipeline, producer)
            return self.inputs(pipeline, call)
        return inputs

    def load_values(self, pipeline: ir.Pipeline, step: ir.Step) -> None:
        for name, value in self.store.parameter_values(pipeline.name, step).items():
            self.values[(pipeline.name, step.name, name)] = value
