"""`mlopsc run`: the train and deploy pipelines of one spec as local processes.

Each step runs as `python -m mlopsc step <action> ...`, the same contract every target uses,
with the output paths of `targets/local/paths.py` under the work directory. The runner adds:

- **cache**: a step whose key (see `cachekey`) matches its last successful run, with its outputs
  still in place, is reported `cached` and not run. Deploy-side steps are also checked against
  the registry: a deploy is "up to date" only while the environment's alias still points at the
  version it deployed.
- **atomic outputs**: a step writes into `runs/<pipeline>/.staging/<step>/`; only when it exits 0
  is that folder renamed over `runs/<pipeline>/<step>/` and the cache entry written. Ctrl-C
  stops the running step, removes its staging folder and writes nothing else.
- **resume**: `--resume` continues a failed run at the failed step, trusting the steps the
  failed run completed (`runs/<pipeline>/state.json`) without hashing them again.
- **progress**: one line per step with its status and seconds; the step's own lines indented.
- **serving**: after a deploy, the production endpoint is printed and sent one prediction;
  servers the run started are stopped at the end unless `serve=True`.

The tracking URI is `--tracking-uri`, else the spec's `tracking.uri` when it resolves, else
`MLFLOW_TRACKING_URI` (docker-compose sets it to its MLflow service), else the embedded store
`sqlite:///<workdir>/.mlopsc/mlflow.db`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlopsc import ir
from mlopsc.contract import StepCall, step_args
from mlopsc.runtime import cachekey, localserve

STATE = ".mlopsc"
PARAMETER_KINDS = ("string", "integer", "number", "boolean")


class RunFailed(Exception):
    """The run stopped; the message says where and why (already printed)."""


class Interrupted(Exception):
    pass


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


@dataclass
class StepResult:
    name: str
    status: str  # ok | cached | resumed | skipped | failed | interrupted
    seconds: float = 0.0
    message: str = ""


class Runner:
    def __init__(self, project: ir.Project, opts: RunOptions):
        self.project = project
        self.opts = opts
        self.spec = Path(opts.spec).resolve()
        self.spec_dir = self.spec.parent
        self.workdir = Path(opts.workdir or os.getcwd()).resolve()
        self.state = self.workdir / STATE
        self.state.mkdir(parents=True, exist_ok=True)
        self.tracking_uri = opts.tracking_uri or _spec_tracking_uri(project) or \
            os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///" + str(self.state / "mlflow.db")
        self.hasher = cachekey.Hasher(self.state / "cache" / "files.json")
        self.results: list[StepResult] = []
        self.values: dict[tuple[str, str, str], Any] = {}  # (pipeline, step, output) -> parameter value
        self.params: dict[str, str] = {}
        self._client = None
        self.initial_pids = self._server_pids()
        self.env = {**os.environ, "MLFLOW_TRACKING_URI": self.tracking_uri, "MLOPSC_WORKDIR": str(self.workdir),
                    "PYTHONUNBUFFERED": "1",
                    "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", "ignore"),
                    "MLFLOW_LOGGING_LEVEL": os.environ.get("MLFLOW_LOGGING_LEVEL", "WARNING"),
                    "GIT_PYTHON_REFRESH": "quiet", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
        if opts.approve:
            self.env["MLOPSC_APPROVE"] = "1"

    # ------------------------------------------------------------ paths and records

    def out_dir(self, pipeline: str, step: str) -> Path:
        return self.workdir / STATE / "runs" / pipeline / step

    def staging_dir(self, pipeline: str, step: str) -> Path:
        return self.workdir / STATE / "runs" / pipeline / ".staging" / step

    def cache_file(self, pipeline: str, step: str) -> Path:
        return self.state / "cache" / pipeline / f"{step}.json"

    def run_state_file(self, pipeline: str) -> Path:
        return self.state / "runs" / pipeline / "state.json"

    # ------------------------------------------------------------ the run

    def run(self) -> int:
        names = ["train", "deploy"] if self.opts.pipeline == "all" else [self.opts.pipeline]
        pipelines = [p for p in (self.project.pipeline(n) for n in names) if p is not None]
        if not pipelines:
            self.opts.err(f"error: the spec has no {' or '.join(names)} pipeline")
            return 2
        if self.opts.until and not any(p.step(self.opts.until) for p in pipelines):
            known = ", ".join(s.name for p in pipelines for s in p.steps)
            self.opts.err(f"error: --until {self.opts.until}: no such step (steps: {known})")
            return 2
        self.opts.out(f"mlopsc run {self.project.name}: tracking {self.tracking_uri}, work directory {self.workdir}")
        start = time.perf_counter()
        code = 0
        try:
            for pipeline in pipelines:
                if not self.run_pipeline(pipeline):
                    break
            else:
                if any(p.name == "deploy" for p in pipelines) and not self.opts.until:
                    self.production()
        except RunFailed:
            code = 1
        except Interrupted:
            code = 130
        finally:
            self.hasher.save()
            if not (self.opts.serve and code == 0):
                self.stop_started_servers()
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        verdict = {0: "done", 1: "FAILED", 130: "INTERRUPTED"}[code]
        self.opts.out(f"{verdict} in {time.perf_counter() - start:.1f} s ({summary})")
        if code == 0 and self.opts.serve:
            self.serve_until_interrupted()
        return code

    def run_pipeline(self, pipeline: ir.Pipeline) -> bool:
        """Run one pipeline; False when the run stops here (--until reached)."""
        self.opts.out(f"[{pipeline.name}] {pipeline.description}")
        self.params = self.pipeline_params(pipeline)
        previous = self.read_run_state(pipeline.name)
        resume_from = None
        if self.opts.resume:
            if previous and previous.get("status") == "failed":
                resume_from = previous
            elif pipeline is self.project.pipeline(self.opts.pipeline if self.opts.pipeline != "all" else "train"):
                self.opts.out("  (--resume: the last run did not fail; running normally)")
        elif previous and previous.get("status") == "failed":
            self.opts.out(f"  (the last run failed at {previous.get('failed')}; --resume continues there)")
        done: dict[str, str] = {}  # step -> ok|cached|skipped|...
        record = {"status": "running", "completed": {}}
        for step in pipeline.steps:
            try:
                status = self.run_one(pipeline, step, done, resume_from, record)
            except Interrupted:
                record.update(status="failed", failed=step.name, interrupted=True)
                self.write_run_state(pipeline.name, record)
                raise
            done[step.name] = status
            if status == "failed":
                record.update(status="failed", failed=step.name)
                self.write_run_state(pipeline.name, record)
                self.on_failure(pipeline, step)
                raise RunFailed(step.name)
            if self.opts.until == step.name:
                record["status"] = "stopped"
                self.write_run_state(pipeline.name, record)
                self.opts.out(f"stopped after {step.name} (--until)")
                return False
        record["status"] = "succeeded"
        self.write_run_state(pipeline.name, record)
        return True

    def run_one(self, pipeline: ir.Pipeline, step: ir.Step, done: dict[str, str], resume_from: dict | None,
                record: dict) -> str:
        upstream_missing = [u for u in step.upstream() if done.get(u) in (None, "skipped")
                            and not (step.when and u == step.when.step)]
        if step.when is not None:
            value = self.values.get((pipeline.name, step.when.step, step.when.output))
            holds = (value == step.when.value) if step.when.op == "==" else (value != step.when.value)
            if not holds:
                self.progress(StepResult(step.name, "skipped", 0.0, f"condition {step.when.step}."
                                         f"{step.when.output} {step.when.op} {json.dumps(step.when.value)}"))
                return "skipped"
        if upstream_missing:
            self.progress(StepResult(step.name, "skipped", 0.0, f"needs {', '.join(upstream_missing)}"))
            return "skipped"
        inputs = self.resolve_inputs(pipeline, step)
        t0 = time.perf_counter()
        if resume_from and step.name in resume_from.get("completed", {}) and self.outputs_present(pipeline, step):
            self.load_values(pipeline, step)
            record["completed"][step.name] = resume_from["completed"][step.name]
            self.progress(StepResult(step.name, "resumed", time.perf_counter() - t0, "completed by the failed run"))
            return "resumed"
        key = cachekey.step_key(self.project, self.spec_dir, step, self.key_inputs(pipeline, step, inputs),
                                self.hasher, extra={"tracking": self.tracking_uri})
        entry = self.read_cache(pipeline.name, step.name)
        if entry and entry.get("key") == key and self.outputs_present(pipeline, step) and self.still_valid(step, entry):
            self.load_values(pipeline, step)
            record["completed"][step.name] = key
            note = entry.get("note") or ""
            self.progress(StepResult(step.name, "cached", time.perf_counter() - t0, note))
            return "cached"
        inputs = self.revive_endpoints(pipeline, step, inputs)
        ok, note = self.execute(pipeline, step, inputs)
        seconds = time.perf_counter() - t0
        if not ok:
            self.progress(StepResult(step.name, "failed", seconds))
            return "failed"
        self.load_values(pipeline, step)
        self.write_cache(pipeline.name, step.name, {"key": key, "note": self.cache_note(pipeline, step)})
        record["completed"][step.name] = key
        self.write_run_state(pipeline.name, record)
        self.progress(StepResult(step.name, "ok", seconds, note))
        return "ok"

    # ------------------------------------------------------------ one step as a process

    def command(self, pipeline: ir.Pipeline, step: ir.Step, inputs: dict[str, tuple[str, str]],
                staging: Path) -> list[str]:
        call = StepCall(action=step.action, spec=str(self.spec), target="local", pipeline=pipeline.name,
                        step=step.name, args=step_args(step),
                        inputs=tuple((name, value) for name, (_, value) in inputs.items()),
                        outputs=tuple((o.name, str(staging / o.name)) for o in step.outputs))
        return [sys.executable, "-m", *call.argv()]

    def execute(self, pipeline: ir.Pipeline, step: ir.Step, inputs: dict[str, tuple[str, str]]) -> tuple[bool, str]:
        staging = self.staging_dir(pipeline.name, step.name)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        argv = self.command(pipeline, step, inputs, staging)
        self.opts.out(f"  {step.name} ...")
        log_path = self.state / "runs" / pipeline.name / f"{step.name}.log"
        proc = subprocess.Popen(argv, cwd=self.workdir, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        try:
            with open(log_path, "w", encoding="utf-8") as log:
                assert proc.stdout is not None
                for line in proc.stdout:
                    log.write(line)
                    log.flush()
                    line = line.rstrip("\n")
                    if line and not _noise(line):
                        (self.opts.err if line.startswith("error:") else self.opts.out)("      " + line)
            code = proc.wait()
        except KeyboardInterrupt:
            self.interrupt(proc, staging, step)
            raise Interrupted() from None
        if code != 0:
            shutil.rmtree(staging, ignore_errors=True)
            if code == 130:
                self.progress(StepResult(step.name, "interrupted"))
                raise Interrupted()
            return False, ""
        final = self.out_dir(pipeline.name, step.name)
        old = final.with_name(f".{step.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
        return True, ""

    def interrupt(self, proc: subprocess.Popen, staging: Path, step: ir.Step) -> None:
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(staging, ignore_errors=True)
        self.progress(StepResult(step.name, "interrupted"))
        self.opts.err(f"interrupted during {step.name}: its outputs were discarded; completed steps stay cached")

    # ------------------------------------------------------------ inputs, outputs, parameters

    def pipeline_params(self, pipeline: ir.Pipeline) -> dict[str, str]:
        params = {p.name: "" if p.default is None else str(p.default) for p in pipeline.params}
        params["git_commit"] = _git_head(self.spec_dir) or "unknown"
        if pipeline.name == "deploy":
            registered = self.values.get(("train", "register", "model_version"))
            if registered is not None:
                params["model_version"] = str(registered)
            elif params.get("model_version") in ("", "latest"):
                params["model_version"] = self.latest_version() or "latest"
        return params

    def latest_version(self) -> str | None:
        """The newest registered version (what `model_version=latest` deploys), or None."""
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.search_model_versions(f"name='{self.project.registry.model}'")
        except MlflowException:
            return None
        return str(max(int(v.version) for v in found)) if found else None

    def resolve_inputs(self, pipeline: ir.Pipeline, step: ir.Step) -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        for i in step.inputs:
            src = i.source
            if isinstance(src, ir.FromStep):
                producer = pipeline.step(src.step)
                port = producer.output(src.output) if producer else None
                if port is not None and port.is_artifact:
                    out[i.name] = ("artifact", str(self.out_dir(pipeline.name, src.step) / src.output))
                else:
                    value = self.values.get((pipeline.name, src.step, src.output))
                    out[i.name] = ("param", value if isinstance(value, str) else json.dumps(value))
            elif isinstance(src, ir.FromParam):
                out[i.name] = ("param", self.params.get(src.param, ""))
            else:
                out[i.name] = ("param", str(src.value))
        return out

    def key_inputs(self, pipeline: ir.Pipeline, step: ir.Step,
                   inputs: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
        """Inputs as the cache sees them: lineage (git_commit) left out, an endpoint URL replaced by
        its deploy step's key (the URL changes whenever servers restart; the deployment does not)."""
        out = {}
        for i in step.inputs:
            if i.name == "git_commit":
                continue
            if isinstance(i.source, ir.FromStep) and i.kind in PARAMETER_KINDS and \
                    pipeline.step(i.source.step).action in ("deploy", "rollout"):
                entry = self.read_cache(pipeline.name, i.source.step) or {}
                out[i.name] = ("param", "deployment:" + str(entry.get("key")))
            else:
                out[i.name] = inputs[i.name]
        return out

    def revive_endpoints(self, pipeline: ir.Pipeline, step: ir.Step,
                         inputs: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
        """A step about to run against an endpoint whose servers are gone (a cached or resumed
        deploy from an earlier run) gets the deploy step run again first."""
        for i in step.inputs:
            if not (isinstance(i.source, ir.FromStep) and i.name in inputs and inputs[i.name][0] == "param"):
                continue
            producer = pipeline.step(i.source.step)
            if producer is None or producer.action not in ("deploy", "rollout"):
                continue
            if localserve.healthy(inputs[i.name][1]):
                continue
            self.opts.out(f"  ({producer.name}: {inputs[i.name][1]} is not running; deploying again)")
            ok, _ = self.execute(pipeline, producer, self.resolve_inputs(pipeline, producer))
            if not ok:
                raise RunFailed(producer.name)
            self.load_values(pipeline, producer)
            return self.resolve_inputs(pipeline, step)
        return inputs

    def outputs_present(self, pipeline: ir.Pipeline, step: ir.Step) -> bool:
        return all((self.out_dir(pipeline.name, step.name) / o.name).exists() for o in step.outputs)

    def load_values(self, pipeline: ir.Pipeline, step: ir.Step) -> None:
        for o in step.outputs:
            if o.kind in PARAMETER_KINDS:
                path = self.out_dir(pipeline.name, step.name) / o.name
                if path.exists():
                    self.values[(pipeline.name, step.name, o.name)] = json.loads(path.read_text(encoding="utf-8"))

    # ------------------------------------------------------------ cache records

    def read_cache(self, pipeline: str, step: str) -> dict | None:
        path = self.cache_file(pipeline, step)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def write_cache(self, pipeline: str, step: str, entry: dict) -> None:
        _write_json(self.cache_file(pipeline, step), entry)

    def read_run_state(self, pipeline: str) -> dict | None:
        try:
            return json.loads(self.run_state_file(pipeline).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def write_run_state(self, pipeline: str, record: dict) -> None:
        _write_json(self.run_state_file(pipeline), record)

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    def cache_note(self, pipeline: ir.Pipeline, step: ir.Step) -> str:
        if step.action in ("deploy", "rollout"):
            env = dict(step.args).get("environment")
            record = _read_json(self.state / "deployments" / f"{env}.json") or {}
            return f"version {record.get('version')} serving {env} as decided (up to date)"
        if step.action == "register":
            return f"version {self.values.get((pipeline.name, step.name, 'model_version'))} already registered"
        return ""

    def still_valid(self, step: ir.Step, entry: dict) -> bool:
        """Side effects outside the work directory still hold (the registry may have moved on)."""
        from mlflow.exceptions import MlflowException

        args = dict(step.args)
        model = args.get("model") or self.project.registry.model
        try:
            if step.action == "register":
                version = self.values.get(("train", step.name, "model_version"))
                path = self.out_dir("train", step.name) / "model_version"
                version = json.loads(path.read_text()) if path.exists() else version
                self.client.get_model_version(model, str(version))
            elif step.action == "approve":
                version = self.params.get("model_version")
                mv = self.client.get_model_version(model, str(version))
                return mv.tags.get("mlopsc.approval") == "approved"
            elif step.action in ("deploy", "rollout"):
                env = args.get("environment")
                record = _read_json(self.state / "deployments" / f"{env}.json") or {}
                mv = self.client.get_model_version_by_alias(model, env)
                return str(mv.version) == str(record.get("version")) == str(self.params.get("model_version"))
        except MlflowException:
            return False
        return True

    # ------------------------------------------------------------ reporting

    def progress(self, r: StepResult) -> None:
        self.results.append(r)
        shown = {"ok": "ok", "cached": "cached", "resumed": "resumed", "skipped": "skipped", "failed": "FAILED",
                 "interrupted": "INTERRUPTED"}[r.status]
        line = f"  {r.name:<28} {shown:<11} {r.seconds:6.1f} s"
        if r.message:
            line += f"  {r.message}"
        (self.opts.err if r.status in ("failed", "interrupted") else self.opts.out)(line)

    def on_failure(self, pipeline: ir.Pipeline, step: ir.Step) -> None:
        log = self.state / "runs" / pipeline.name / f"{step.name}.log"
        lines = _read_lines(log)
        first = next((i for i, ln in enumerate(lines) if ln.startswith("error: ")), None)
        reason = "\n  ".join(lines[first:]).removeprefix("error: ") if first is not None else f"see {log}"
        self.opts.err(f"run stopped: {pipeline.name} pipeline failed at {step.name}: {reason}")
        if step.name == "validate-data" or step.action == "fail":
            self.opts.err("nothing was registered")
        if pipeline.on_failure is not None:
            from mlopsc.runtime.monitoring import send_alerts

            channels = [c for c in dict(pipeline.on_failure.args).get("channels", "").split(",") if c]
            send_alerts(channels, {"text": f"{self.project.name}: {pipeline.name} failed at {step.name}",
                                   "pipeline": pipeline.name, "step": step.name}, self.opts.out)

    # ------------------------------------------------------------ the production endpoint

    def production(self) -> None:
        dep = self.project.deployment
        if dep is None or not dep.environments:
            return
        env = dep.environments[-1].name
        model = self.project.registry.model
        state = localserve.read_state(self.workdir, env)
        url = state.get("endpoint") if state else None
        live = bool(url and all(localserve.alive(p.get("pid")) for p in state.get("processes", []))
                    and localserve.healthy(url))
        if not live:
            version = self.client.get_model_version_by_alias(model, env).version
            info = localserve.start("model", ["--model-uri", f"models:/{model}/{version}", "--name", model,
                                              "--version", str(version), "--tracking-uri", self.tracking_uri],
                                    self.workdir, f"{env}-champion-v{version}", env=self.env)
            url = info["url"]
            localserve.write_state(self.workdir, env, {"environment": env, "endpoint": url, "version": str(version),
                                                       "processes": [{"role": "champion", "version": str(version),
                                                                      **info}]})
        self.opts.out(f"{env} endpoint: {url}/predict")
        if not self.opts.predict:
            return
        from mlopsc.runtime.deploy import traffic_instances
        from mlopsc.runtime.httpbase import Upstream
        from mlopsc.runtime.steps import StepContext

        ctx = StepContext(project=self.project, spec_dir=self.spec_dir, workdir=self.workdir, log=lambda _m: None)
        row = traffic_instances(ctx, 1)
        status, answer = Upstream(timeout=30).post_json(url + "/predict", {"instances": row})
        self.opts.out(f"prediction for {json.dumps(row[0])}:")
        self.opts.out(f"  HTTP {status} {json.dumps(answer)}")
        if status != 200:
            raise RunFailed("the production endpoint did not answer a prediction")

    def _server_pids(self) -> set[int]:
        pids = set()
        for env in localserve.environments(self.workdir):
            for p in (localserve.read_state(self.workdir, env) or {}).get("processes", []):
                if localserve.alive(p.get("pid")):
                    pids.add(p["pid"])
        return pids

    def stop_started_servers(self) -> None:
        for env in localserve.environments(self.workdir):
            state = localserve.read_state(self.workdir, env) or {}
            started = [p for p in state.get("processes", []) if p.get("pid") not in self.initial_pids]
            for p in started:
                localserve.stop(p.get("pid"))
            if started:
                localserve.write_state(self.workdir, env, None)

    def serve_until_interrupted(self) -> None:
        self.opts.out("serving; Ctrl-C stops the servers")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop_started_servers()


def _git_head(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _spec_tracking_uri(project: ir.Project) -> str | None:
    from mlopsc.runtime.stepio import RefError, resolve_value

    uri = project.tracking.uri
    if not uri:
        return None
    try:
        return resolve_value(uri) or None
    except RefError:
        return None


NOISE = ("warnings.warn", "UserWarning", "FutureWarning", "DeprecationWarning", "INFO mlflow", "Registered model",
         "Created version", "Successfully registered", "color_warning(", "WARNING mlflow", "🏃", "🧪", "View run", "View experiment")


def _noise(line: str) -> bool:
    return any(n in line for n in NOISE)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def terminate_as_interrupt() -> None:
    """SIGTERM (docker stop, a supervisor) stops like Ctrl-C: the running step is interrupted and
    nothing half written is kept."""
    def handler(*_a: Any) -> None:
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, handler)


def run(opts: RunOptions) -> int:
    from mlopsc.api import load_project
    from mlopsc.diagnostics import SpecError, render

    try:
        project = load_project(opts.spec)
    except SpecError as e:
        opts.err(render(e.diagnostics, "text").rstrip())
        return 1
    terminate_as_interrupt()
    return Runner(project, opts).run()
