"""The model's gate: `evaluate` (metrics against thresholds and the baseline), `fail` (stop the
pipeline when the gate did not pass) and `register` (the model with its lineage)."""

from __future__ import annotations

from mlopsc.runtime.steps import (
    StepContext,
    StepFailed,
    apply_views,
    read_frames,
    read_json,
    read_model_ref,
    step_tracker,
    training_dataset,
    write_json,
)


def evaluate(ctx: StepContext) -> dict:
    from mlopsc.runtime import evaluate as ev

    project, evals = ctx.project, ctx.project.evals
    if evals is None or project.data is None:
        raise StepFailed("the spec declares no evals")
    if evals.suite is not None and project.llm is not None:  # an LLM: its eval suite is the gate
        from mlopsc.runtime.llm_eval import evaluate_suite

        return evaluate_suite(ctx)
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
    name = ctx.args.get("model", project.registry.model)
    existing = registered_version_of_run(tracker, name, ref["run_id"])
    if existing is not None:
        return _already_registered(ctx, name, existing)
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
    version = tracker.register(ref["model_uri"], name, tags=tags, aliases=("candidate",),
                               approval_required_for=required)
    if "model_version" in ctx.outputs:
        write_json(ctx.output("model_version"), str(version.version))
    state = "pending approval for " + ", ".join(required) if required else "no approval required"
    ctx.log(f"registered {name} version {version.version} (alias candidate; {state})")
    return {"model": name, "version": str(version.version), "approval": "pending" if required else "not_required"}


def registered_version_of_run(tracker, name: str, run_id: str):
    """The version of `name` already registered from this training run, if any: a cached train
    step (a scheduled run on unchanged data) hands on the same run, which is not a new model."""
    found = tracker.client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return min(found, key=lambda v: int(v.version)) if found else None


def _already_registered(ctx: StepContext, name: str, version) -> dict:
    if "model_version" in ctx.outputs:
        write_json(ctx.output("model_version"), str(version.version))
    ctx.log(f"{name} version {version.version} is this training run's model, registered before: "
            "nothing new to register")
    return {"model": name, "version": str(version.version), "approval": "unchanged"}


def fail(ctx: StepContext) -> dict:
    message = ctx.args.get("message") or "the pipeline was stopped"
    details: list[str] = []
    if "evaluation" in ctx.inputs:
        details = read_json(ctx.input_path("evaluation")).get("failures", [])
    raise StepFailed(message + ("".join(f"\n  {d}" for d in details)))
