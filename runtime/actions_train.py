"""The training actions: `train` (once, an in-process Optuna sweep, or one trial of a SageMaker tuning job)
and `fine_tune`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlopsc import ir
from mlopsc.runtime.steps import (
    StepContext,
    StepFailed,
    call_with_supported,
    load_callable,
    read_frames,
    read_json,
    step_tracker,
    training_dataset,
    write_json,
    write_model_ref,
)


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
        from mlopsc.runtime.training_contract import checked

        return checked(result, t.entrypoint)

    commit = ctx.inputs.get("git_commit")
    dirty = None
    if not commit or commit == "unknown":
        commit, dirty = git_commit(ctx.spec_dir)
    tags = lineage_tags(git_commit=commit, git_dirty=dirty, spec_hash=project.spec_hash,
                        data_versions=versions)
    if os.environ.get("MLOPSC_KATIB_TRIAL"):  # a Katib trial: the controller finds the best one's run
        tags = {**tags, "mlopsc.katib.trial": os.environ["MLOPSC_KATIB_TRIAL"]}
    tracker = step_tracker(ctx)
    sweep = t.sweep if ctx.args.get("sweep") == "true" else None
    tuning_hp = tuning_hyperparameters() if sweep else None
    with tracker.start_run(run_name="train", tags=tags) as run:
        if sweep and tuning_hp is None:
            model, metrics, hp = run_sweep(ctx, tracker, sweep, hp, fit)
        else:
            if tuning_hp:  # one trial of a SageMaker tuning job: its hyperparameters win
                hp = {**hp, **tuning_hp}
            tracker.log_params(hp)
            model, metrics = fit(hp)
            if sweep:
                report_trial_metric(sweep.metric, metrics.get(sweep.metric, float("nan")))
        tracker.log_metrics(metrics)
        log_training_inputs(ctx, tracker, frames, versions)
        model_uri = log_trained_model(ctx, tracker, model, df)
    ref = {"model_uri": model_uri, "run_id": run.info.run_id, "experiment": tracker.experiment_name,
           "tracking_uri": tracker.tracking_uri}
    write_model_ref(ctx.output("model"), ref)
    if "metrics" in ctx.outputs:
        write_json(ctx.output("metrics"), metrics)
    ctx.log(f"trained {project.registry.model}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
    return ref


def log_trained_model(ctx: StepContext, tracker: Any, model: Any, df: Any) -> str:
    """Log the model with the spec's framework flavor, or as a pyfunc carrying the feature
    transforms of the training dataset (and the user's code files); the input example is raw
    rows: without the label and without the columns the transforms compute."""
    project = ctx.project
    name = training_dataset(project)
    transforms, files = [], {project.training.entrypoint.partition(":")[0]}
    for view in project.features.views if project.features else ():
        if view.transform and view.source == name:
            transforms.append((load_callable(view.transform, ctx.spec_dir), tuple(f for f, _ in view.features)))
            files.add(view.transform.partition(":")[0])
    computed = {f for _, features in transforms for f in features}
    label = project.data.label if project.data else None
    example = df.drop(columns=[c for c in df.columns if c == label or c in computed]).head(5)
    code_paths = sorted(str((ctx.spec_dir / f).resolve()) for f in files
                        if f.endswith(".py") and (ctx.spec_dir / f).is_file())
    return tracker.log_model(model, input_example=example, framework=project.training.framework,
                             transforms=tuple(transforms), code_paths=code_paths)


def log_training_inputs(ctx: StepContext, tracker: Any, frames: dict, versions: dict) -> None:
    """`mlflow.log_input` for each dataset read: its name, source URI and the version read."""
    data = ctx.project.data
    for name, df in frames.items():
        ds = data.dataset(name) if data else None
        if ds is not None and name in versions:
            tracker.log_input(name, ds.uri, str(versions[name]), df)


KATIB_HP = "MLOPSC_TRIAL_HP_"  # targets/kubeflow/katib.py sets these in each trial's container


def tuning_hyperparameters() -> dict | None:
    """A native tuner's trial hyperparameters (JSON-encoded strings): SageMaker's
    hyperparameters.json, or Katib's `MLOPSC_TRIAL_HP_<name>` env; None outside a trial."""
    trial = {k[len(KATIB_HP):]: v for k, v in os.environ.items() if k.startswith(KATIB_HP)}
    path = Path(os.environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config")) / "hyperparameters.json"
    if not trial and not path.is_file():
        return None
    out = {}
    for k, v in (trial or read_json(path)).items():
        try:
            out[k] = json.loads(v) if isinstance(v, str) else v
        except ValueError:
            out[k] = v
    return out


def report_trial_metric(metric: str, value: float) -> None:
    """A native tuner's trial objective: `<metric>=<value>` on stdout (SageMaker's regex, Katib's
    StdOut collector) and, in a Vertex trial, the line cloudml-hypertune writes for Vertex."""
    print(f"{metric}={value}", flush=True)
    if "CLOUD_ML_TRIAL_ID" in os.environ:
        import time

        path = Path(os.environ.get("CLOUD_ML_HP_METRIC_FILE", "/tmp/hypertune/output.metrics"))
        path.parent.mkdir(parents=True, exist_ok=True)
        line = {"timestamp": time.time(), "trial": os.environ["CLOUD_ML_TRIAL_ID"], metric: str(value),
                "global_step": "0", "checkpoint_path": ""}
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")


def run_sweep(ctx: StepContext, tracker: Any, sweep: ir.Sweep, base: dict, fit) -> tuple[Any, dict, dict]:
    """Run the Optuna study's trials as nested MLflow runs; the best trial's model is the step's
    model (what the pipeline evaluates and registers)."""
    import mlflow
    from mlopsc.runtime import sweep as sw

    count, note = sw.trial_count(sweep)
    if note:
        ctx.log(note)
    results: dict[int, tuple[Any, dict, dict]] = {}

    def objective(number: int, overrides: dict) -> float:
        hp = {**base, **overrides}
        with mlflow.start_run(run_name=f"trial-{number + 1}", nested=True):
            tracker.log_params(hp)
            model, metrics = fit(hp)
            tracker.log_metrics(metrics)
        value = metrics.get(sweep.metric)
        if value is None:
            raise StepFailed(f"sweep objective {sweep.metric!r} is not among the metrics the training "
                             f"function returned ({', '.join(sorted(metrics))}) (spec {sweep.span})")
        print(f"{sweep.metric}={value}", flush=True)
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in overrides.items())
        ctx.log(f"trial {number + 1}/{count}: {shown} -> {sweep.metric}={value:.4g}")
        results[number] = (model, metrics, hp)
        return value

    seed = ctx.project.data.split.seed if ctx.project.data and ctx.project.data.split else 0
    study = sw.run_study(sweep, objective, seed=seed)
    model, metrics, hp = results[study.best_trial.number]
    tracker.log_params(dict(hp))
    tracker.set_tags({"mlopsc.sweep.trials": str(len(study.trials)), "mlopsc.sweep.strategy": sweep.strategy,
                      "mlopsc.sweep.sampler": type(study.sampler).__name__,
                      "mlopsc.sweep.best_trial": str(study.best_trial.number + 1)})
    ctx.log(f"best trial {study.best_trial.number + 1}: {sweep.metric}={study.best_value:.4g}")
    return model, metrics, hp


def fine_tune(ctx: StepContext) -> dict:
    """LoRA / QLoRA / full fine-tuning with transformers + peft (`mlopsc.runtime.llm_finetune`)."""
    from mlopsc.runtime.llm_finetune import fine_tune as run_fine_tune

    return run_fine_tune(ctx)
