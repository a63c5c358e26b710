"""The step actions behind `mlopsc step <action>`, as library functions (the deploy-side and
monitoring actions live in `deploy`, `export` and `monitoring`; `mlopsc.contract.ACTIONS` names
the function behind each action).

Each action takes a `StepContext` (the project IR, the step's `--arg`s, `--input`s and
`--output`s) and writes its outputs; it raises `StepFailed` with a clear message when the step
must stop the pipeline (bad data, a failed gate). The CLI only parses options into a context
and maps `StepFailed` to exit code 1.

On-disk conventions for outputs (the same on every target; a target only decides the paths):
- a `dataset` output is a directory with one `<dataset>.parquet` per dataset, plus
  `versions.json` (dataset name -> content hash or declared version, for lineage);
- a `metrics` output is a JSON file;
- a `model` output is a JSON file `{"model_uri", "run_id", "experiment", "tracking_uri"}`;
- a parameter output (`boolean`, `string`, ...) is a file holding its JSON value (`true`, `"3"`);
- the drift step's `report` is the JSON report, with the HTML page beside it as `report.html`.

Relative dataset URIs and entrypoints (`train.py:train`) resolve against the spec's directory;
a local run reads local paths and `file://` URIs only.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlopsc import ir


class StepFailed(Exception):
    """The step ran and decided the pipeline must stop; the message says why."""


@dataclass
class StepContext:
    project: ir.Project
    spec_dir: Path
    args: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    workdir: Path | None = None  # where `.mlopsc/` lives; default: spec_dir
    tracking_uri: str | None = None
    log: Callable[[str], None] = print
    target: str = "local"  # the platform the step runs on (the contract's --target)
    pipeline: str | None = None
    step: str | None = None
    artifact_metadata: dict[str, dict] = field(default_factory=dict)  # output -> KFP artifact metadata

    @property
    def root(self) -> Path:
        return self.workdir or self.spec_dir

    def output(self, name: str) -> Path:
        if name not in self.outputs:
            raise KeyError(f"step has no output {name!r}")
        path = Path(self.outputs[name])
        return path if path.is_absolute() else self.root / path

    def input_path(self, name: str) -> Path:
        path = Path(self.inputs[name])
        return path if path.is_absolute() else self.root / path


def action_function(action: str) -> Callable[[StepContext], dict]:
    """The function the step contract names for an action. Raises `KeyError` for an unknown one."""
    from mlopsc import contract

    module, _, name = contract.action(action).impl.partition(":")
    return getattr(importlib.import_module(module), name)


def run_step(action: str, ctx: StepContext) -> dict:
    """Run one action; return a small summary dict. Raises `StepFailed` or `KeyError`."""
    return action_function(action)(ctx)


# ---------------------------------------------------------------- helpers


def resolve_uri(uri: str, spec_dir: Path) -> Path:
    if uri.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        return Path(unquote(urlsplit(uri).path))
    if "://" in uri:
        raise StepFailed(
            f"dataset uri {uri!r} is not a local path: this runtime reads datasets from local paths "
            "only (reading s3:// or gs:// directly is not implemented yet); use a path relative to the spec"
        )
    p = Path(uri)
    return p if p.is_absolute() else spec_dir / p


def read_dataset(ds: ir.Dataset, spec_dir: Path):
    from mlopsc.runtime.datafiles import read

    path = resolve_uri(ds.uri, spec_dir)
    if not path.exists():
        raise StepFailed(f"dataset {ds.name!r}: {path} does not exist")
    return read(path, ds.format)


def load_callable(ref: str, base: Path) -> Callable[..., Any]:
    """`file.py:function` relative to `base` (or `package.module:function`)."""
    target, _, name = ref.partition(":")
    if not name:
        raise StepFailed(f"entrypoint {ref!r} must be `file.py:function`")
    if target.endswith(".py"):
        path = (base / target).resolve()
        if not path.is_file():
            raise StepFailed(f"entrypoint file {path} does not exist")
        mod_name = f"mlopsc_user_{path.stem}_{abs(hash(str(path))) & 0xFFFFFF:x}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.parent))
        before = set(sys.modules)
        try:
            sys.modules[mod_name] = module
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(path.parent))
        _pickle_by_value(path.parent, [mod_name, *(set(sys.modules) - before)])
    else:
        module = importlib.import_module(target)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise StepFailed(f"entrypoint {ref!r}: {name} is not a function in {target}")
    return fn


def _pickle_by_value(directory: Path, names: list[str]) -> None:
    """User code next to the spec is not importable where a model is loaded (a server, another
    step): pickle its classes by value into the model, not by module reference."""
    try:
        import cloudpickle
    except ImportError:
        return
    for name in names:
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if module is not None and file and Path(file).resolve().is_relative_to(directory):
            try:
                cloudpickle.register_pickle_by_value(module)
            except ValueError:
                pass


def call_with_supported(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `fn`, passing only the keyword arguments its signature accepts."""
    params = inspect.signature(fn).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return fn(*args, **kwargs)


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8", newline="\n")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_model_ref(path: Path, ref: dict) -> None:
    """A model output: the JSON file itself, or `model.json` inside it when the target hands a
    directory (SageMaker training's /opt/ml/model, uploaded as model.tar.gz)."""
    write_json(path / "model.json" if path.is_dir() else path, ref)


def read_model_ref(path: Path) -> dict:
    """Read what `write_model_ref` wrote: a file, a directory with `model.json`, or a directory
    with SageMaker's `model.tar.gz` holding it."""
    if path.is_file():
        return read_json(path)
    if (path / "model.json").is_file():
        return read_json(path / "model.json")
    archive = path / "model.tar.gz"
    if archive.is_file():
        import tarfile

        with tarfile.open(archive) as tar:
            member = next((m for m in tar.getmembers() if m.name.lstrip("./") == "model.json"), None)
            if member is not None:
                return json.loads(tar.extractfile(member).read().decode("utf-8"))
    raise StepFailed(f"no model reference at {path} (expected a JSON file, model.json or model.tar.gz)")


def write_frames(out_dir: Path, frames: dict[str, Any], versions: dict[str, str]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        tmp = out_dir / f".{name}.parquet.tmp"
        df.to_parquet(tmp, index=False)
        os.replace(tmp, out_dir / f"{name}.parquet")
    write_json(out_dir / "versions.json", versions)


def read_frames(in_dir: Path) -> tuple[dict[str, Any], dict[str, str]]:
    import pandas as pd

    frames = {p.stem: pd.read_parquet(p) for p in sorted(in_dir.glob("*.parquet"))}
    versions_file = in_dir / "versions.json"
    versions = read_json(versions_file) if versions_file.exists() else {}
    return frames, versions


def apply_views(project: ir.Project, frames: dict[str, Any], spec_dir: Path, only: set[str] | None = None) -> dict:
    """Apply each feature view's transform to its source dataset (and to datasets that take
    their schema from it, e.g. a holdout), in declaration order."""
    if not project.features or project.data is None:
        return frames
    out = dict(frames)
    for view in project.features.views:
        if not view.transform:
            continue
        fn = load_callable(view.transform, spec_dir)
        targets = [view.source] + [d.name for d in project.data.datasets if d.schema_from == view.source]
        for name in targets:
            if name in out and (only is None or name in only):
                out[name] = fn(out[name])
    return out


def training_dataset(project: ir.Project) -> str:
    data = project.data
    assert data is not None and data.datasets
    eval_name = project.evals.dataset if project.evals else None
    if project.features:
        for view in project.features.views:
            if view.source != eval_name:
                return view.source
    for ds in data.datasets:
        if ds.name != eval_name:
            return ds.name
    return data.datasets[0].name


def step_tracker(ctx: StepContext):
    """The step's MLflow tracker: the run's tracking URI, else `MLFLOW_TRACKING_URI`, else the work dir's store."""
    from mlopsc.runtime.tracking import Tracker

    uri = ctx.tracking_uri or ctx.args.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI") or None
    return Tracker(ctx.root, experiment=ctx.project.tracking.experiment, tracking_uri=uri)


_tracker = step_tracker  # the name deploy.py and monitoring.py import until the platform layer replaces it


# ---------------------------------------------------------------- actions


def validate(ctx: StepContext) -> dict:
    from mlopsc.runtime import datacheck
    from mlopsc.runtime.lineage import content_hash

    data = ctx.project.data
    if data is None:
        raise StepFailed("the spec declares no data")
    frames, versions, reports = {}, {}, []
    for ds in data.datasets:
        df = read_dataset(ds, ctx.spec_dir)
        report = datacheck.check_dataset(df, ds, data)
        reports.append(report)
        frames[ds.name] = df
        versions[ds.name] = content_hash(resolve_uri(ds.uri, ctx.spec_dir))
    summary = {"passed": all(r["passed"] for r in reports), "datasets": reports}
    if "report" in ctx.outputs:
        write_json(ctx.output("report"), summary)
    if not summary["passed"]:
        raise StepFailed("data validation failed:\n" + "\n".join(datacheck.format_report(r) for r in reports
                                                                  if not r["passed"]))
    if "data" in ctx.outputs:
        write_frames(ctx.output("data"), frames, versions)
    for r in reports:
        ctx.log(datacheck.format_report(r))
    return {"passed": True, "versions": versions}


def features(ctx: StepContext) -> dict:
    frames, versions = read_frames(ctx.input_path("data"))
    out = apply_views(ctx.project, frames, ctx.spec_dir)
    write_frames(ctx.output("features"), out, versions)
    return {"datasets": sorted(out)}


def train(ctx: StepContext) -> dict:
    """Train once with the spec's hyperparameters, or run the sweep (`--arg sweep=true`)."""
    from mlopsc.runtime.lineage import git_commit, lineage_tags

    project, t = ctx.project, ctx.project.training
    if t is None:
        raise StepFailed("the spec declares no training")
    frames, versions = read_frames(ctx.input_path("data"))
    df = frames[training_dataset(project)]
    label = project.data.label if project.data else None
    split = project.data.split if project.data else None
    fn = load_callable(t.entrypoint, ctx.spec_dir)
    hp = ir.thaw(t.hyperparameters)

    def fit(params: dict) -> tuple[Any, dict]:
        result = call_with_supported(
            fn, df, params, label=label,
            validation=split.validation if split else 0.2, seed=split.seed if split else 42,
            stratify=split.stratify if split else None,
        )
        model, metrics = result if isinstance(result, tuple) else (result, {})
        return model, {k: float(v) for k, v in metrics.items()}

    commit = ctx.inputs.get("git_commit")
    dirty = None
    if not commit or commit == "unknown":
        commit, dirty = git_commit(ctx.spec_dir)
    tags = lineage_tags(git_commit=commit, git_dirty=dirty, spec_hash=project.spec_hash,
                        data_versions=versions)
    tracker = step_tracker(ctx)
    sweep = t.sweep if ctx.args.get("sweep") == "true" else None
    tuning_hp = _sagemaker_hyperparameters() if sweep else None
    with tracker.start_run(run_name="train", tags=tags) as run:
        if sweep and tuning_hp is None:
            model, metrics, hp = _sweep(ctx, tracker, sweep, hp, fit)
        else:
            if tuning_hp:  # one trial of a SageMaker tuning job: its hyperparameters win
                hp = {**hp, **tuning_hp}
            tracker.log_params(hp)
            model, metrics = fit(hp)
            if sweep:
                print(f"{sweep.metric}={metrics.get(sweep.metric, float('nan'))}", flush=True)
        tracker.log_metrics(metrics)
        example = df.drop(columns=[label]).head(5) if label and label in df.columns else df.head(5)
        model_uri = tracker.log_model(model, input_example=example)
    ref = {"model_uri": model_uri, "run_id": run.info.run_id, "experiment": tracker.experiment_name,
           "tracking_uri": tracker.tracking_uri}
    write_model_ref(ctx.output("model"), ref)
    if "metrics" in ctx.outputs:
        write_json(ctx.output("metrics"), metrics)
    ctx.log(f"trained {project.registry.model}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
    return ref


def _sagemaker_hyperparameters() -> dict | None:
    """A SageMaker tuning trial's hyperparameters (JSON-encoded strings), or None elsewhere."""
    path = Path(os.environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")) / "hyperparameters.json"
    if not path.is_file():
        return None
    out = {}
    for k, v in read_json(path).items():
        try:
            out[k] = json.loads(v) if isinstance(v, str) else v
        except ValueError:
            out[k] = v
    return out


def _sweep(ctx: StepContext, tracker: Any, sweep: ir.Sweep, base: dict, fit) -> tuple[Any, dict, dict]:
    """Run the trials as nested MLflow runs; the best by the objective is the step's model."""
    import mlflow
    from mlopsc.runtime import sweep as sw

    proposals, note = sw.trials(sweep, seed=ctx.project.data.split.seed if ctx.project.data and
                                ctx.project.data.split else 0)
    if note:
        ctx.log(note)
    best: tuple[Any, dict, dict] | None = None
    best_value = None
    for i, overrides in enumerate(proposals, 1):
        hp = {**base, **overrides}
        with mlflow.start_run(run_name=f"trial-{i}", nested=True):
            tracker.log_params(hp)
            model, metrics = fit(hp)
            tracker.log_metrics(metrics)
        value = metrics.get(sweep.metric)
        if value is None:
            raise StepFailed(f"sweep objective {sweep.metric!r} is not among the metrics the training "
                             f"function returned ({', '.join(sorted(metrics))}) (spec {sweep.span})")
        print(f"{sweep.metric}={value}", flush=True)
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in overrides.items())
        ctx.log(f"trial {i}/{len(proposals)}: {shown} -> {sweep.metric}={value:.4g}")
        if sw.better(value, best_value, sweep.goal):
            best, best_value = (model, metrics, hp), value
    assert best is not None
    model, metrics, hp = best
    tracker.log_params({k: v for k, v in hp.items()})
    tracker.set_tags({"mlopsc.sweep.trials": str(len(proposals)), "mlopsc.sweep.strategy": sweep.strategy})
    ctx.log(f"best trial: {sweep.metric}={best_value:.4g}")
    return model, metrics, hp


def fine_tune(ctx: StepContext) -> dict:
    """LLM fine-tuning needs the GPU the spec asks for; without CUDA the step stops, located."""
    llm = ctx.project.llm
    ft = llm.fine_tune if llm else None
    if ft is None:
        raise StepFailed("the spec declares no llm.fine_tune")
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    gpu = f"{ft.resources.gpu_count} x {ft.resources.gpu_type or 'GPU'}" if ft.resources.gpu_count else "a GPU"
    if not cuda:
        raise StepFailed(f"{ft.span}: LLM fine-tuning ({ft.method} of {llm.base_model}) needs a CUDA GPU "
                         f"({gpu} requested) and this machine has none; run the train pipeline on a "
                         "cloud target (mlopsc compile --target kubeflow|sagemaker|vertex)")
    raise StepFailed(f"{ft.span}: the local runtime has no {ft.method} fine-tuning loop for {llm.base_model}; "
                     "run the train pipeline on a cloud target")


def evaluate(ctx: StepContext) -> dict:
    from mlopsc.runtime import evaluate as ev

    project, evals = ctx.project, ctx.project.evals
    if evals is None or project.data is None:
        raise StepFailed("the spec declares no evals")
    frames, _ = read_frames(ctx.input_path("data"))
    name = evals.dataset or training_dataset(project)
    frames = apply_views(project, frames, ctx.spec_dir, only={name})
    df = frames[name]
    label = project.data.label
    tracker = step_tracker(ctx)
    ref = read_model_ref(ctx.input_path("model"))
    model = tracker.load_model(ref["model_uri"])
    metrics = ev.evaluate_model(model, df, label, slices=evals.slices)
    baseline = None
    if evals.baseline:
        champion = tracker.version_for_alias(project.registry.model, evals.baseline)
        if champion is not None:
            base_model = tracker.load_model(f"models:/{project.registry.model}@{evals.baseline}")
            baseline = ev.evaluate_model(base_model, df, label)
            baseline.pop("slices", None)
    flat = {k: v for k, v in metrics.items() if k != "slices"}
    report = ev.gate_for_spec(flat, evals, baseline=baseline)
    report["slices"] = metrics.get("slices", {})
    report["dataset"] = name
    report["model_uri"] = ref["model_uri"]
    ev.write_evaluation(report, ctx.output("evaluation"))
    if "passed" in ctx.outputs:
        write_json(ctx.output("passed"), report["passed"])
    for c in report["checks"]:
        ctx.log(("ok   " if c["passed"] else "FAIL ") + c["message"])
    return {"passed": report["passed"], "failures": report["failures"]}


def register(ctx: StepContext) -> dict:
    from mlopsc.runtime.lineage import git_commit, lineage_tags

    project = ctx.project
    ref = read_model_ref(ctx.input_path("model"))
    if "evaluation" in ctx.inputs:
        evaluation = read_json(ctx.input_path("evaluation"))
        if not evaluation.get("passed"):
            raise StepFailed("refusing to register: the evaluation gate did not pass:\n  "
                             + "\n  ".join(evaluation.get("failures", [])))
    tracker = step_tracker(ctx)
    run = tracker.client.get_run(ref["run_id"])
    tags = {k: v for k, v in run.data.tags.items() if k.startswith("mlopsc.")}
    commit = ctx.inputs.get("git_commit")
    if commit and commit != "unknown":
        tags["mlopsc.git_commit"] = commit
    elif "mlopsc.git_commit" not in tags:
        head, _ = git_commit(ctx.spec_dir)
        if head:
            tags["mlopsc.git_commit"] = head
    tags.update(lineage_tags(spec_hash=project.spec_hash, run_id=ref["run_id"]))
    approval = project.registry.approval
    required = tuple(approval.required_for) if approval and ctx.args.get("approval", "pending") == "pending" else ()
    name = ctx.args.get("model", project.registry.model)
    version = tracker.register(ref["model_uri"], name, tags=tags, aliases=("candidate",),
                               approval_required_for=required)
    if "model_version" in ctx.outputs:
        write_json(ctx.output("model_version"), str(version.version))
    state = "pending approval for " + ", ".join(required) if required else "no approval required"
    ctx.log(f"registered {name} version {version.version} (alias candidate; {state})")
    return {"model": name, "version": str(version.version), "approval": "pending" if required else "not_required"}


def fail(ctx: StepContext) -> dict:
    message = ctx.args.get("message") or "the pipeline was stopped"
    details: list[str] = []
    if "evaluation" in ctx.inputs:
        details = read_json(ctx.input_path("evaluation")).get("failures", [])
    raise StepFailed(message + ("".join(f"\n  {d}" for d in details)))


def drift(ctx: StepContext) -> dict:
    from mlopsc.runtime import drift as dr
    from mlopsc.runtime.datafiles import read

    project, m = ctx.project, ctx.project.monitoring
    if m is None or m.drift is None or project.data is None:
        raise StepFailed("the spec declares no drift monitoring")
    ref_ds = project.data.dataset(m.drift.reference)
    if ref_ds is None:
        raise StepFailed(f"drift reference {m.drift.reference!r} is not a dataset")
    current_ref = ctx.inputs.get("current") or ctx.args.get("data")
    if not current_ref:
        raise StepFailed("no current data to compare: pass --data FILE")
    current_path = Path(current_ref) if Path(current_ref).is_absolute() else ctx.root / current_ref
    reference = read_dataset(ref_ds, ctx.spec_dir)
    current = read(current_path)
    columns = ref_ds.columns
    if not columns and ref_ds.schema_from:
        src = project.data.dataset(ref_ds.schema_from)
        columns = src.columns if src else ()
    report = dr.drift_for_spec(reference, current, m.drift, columns)
    out = ctx.output("report")
    write_json(out, report)
    html_path = out.with_name(out.name + ".html")
    tmp = html_path.with_name(html_path.name + ".tmp")
    tmp.write_text(dr.render_html(report), encoding="utf-8", newline="\n")
    os.replace(tmp, html_path)
    paths = {"json": str(out), "html": str(html_path)}
    if "violated" in ctx.outputs:
        write_json(ctx.output("violated"), report["drifted"])
    for f in report["features"]:
        stat = f["statistic"]
        shown = f"{stat:.4f}" if isinstance(stat, float) else str(stat)
        ctx.log(f"{'DRIFT' if f['drifted'] else 'ok   '} {f['feature']}: {f['method']} {shown} "
                f"(threshold {f['threshold']:g})")
    return {"drifted": report["drifted"], "drifted_features": report["drifted_features"], **paths}

