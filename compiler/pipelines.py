"""The three lifecycle pipelines (train, deploy, monitor) as step graphs.

Every step is one `mlopsc step <action> ...` invocation of the step contract (`mlopsc.contract`);
targets only decide what each reference is and which native mechanism runs the step.
"""

from __future__ import annotations

from dataclasses import replace

from . import ir
from .contract import ENV_INPUT_PREFIX
from .ir import Condition, Constant, FromParam, FromStep, Input, Param, Pipeline, Port, Step
from .references import env_refs

PROCESSING = ir.Resources(cpu=1.0, memory_bytes=4 * 2**30)
LIGHT = ir.Resources(cpu=0.5, memory_bytes=2**30)
RESOLVE = "resolve-data"  # the step whose outputs are the data versions a run reads
RESOLVE_MODEL = "resolve-model"  # the step that fixes the registry version a deploy run acts on
MODEL_VERSION = FromStep(RESOLVE_MODEL, "model_version")


def build_pipelines(project: ir.Project) -> tuple[Pipeline, ...]:
    found = (train_pipeline(project), deploy_pipeline(project), monitor_pipeline(project))
    names = env_refs(project)
    return tuple(with_env_params(p, names) for p in found if p is not None)


def with_env_params(pipeline: Pipeline, names: list[str]) -> Pipeline:
    """Each `${env:NAME}` of the spec becomes a run parameter NAME (empty by default: the step's
    own environment) handed to every step as the input `env_NAME`, which the step runtime puts
    into its environment. A cloud step's process sees only what its platform gives it, so this is
    how `tracking.uri: ${env:MLFLOW_TRACKING_URI}` reaches every pod, job and container."""
    if not names:
        return pipeline
    params = tuple(Param(n, "string", "", f"value of ${{env:{n}}} for every step (empty: the step's own "
                         "environment)") for n in names)

    def add(step: Step | None) -> Step | None:
        return step and with_env_inputs(step, names)

    return replace(pipeline, params=pipeline.params + params, steps=tuple(add(s) for s in pipeline.steps),
                   on_failure=add(pipeline.on_failure))


def with_env_inputs(step: Step, names: list[str]) -> Step:
    """The step with an `env_NAME` input per `${env:NAME}` (a target that adds steps of its own
    calls this for them)."""
    have = {i.name for i in step.inputs}
    inputs = tuple(Input(f"{ENV_INPUT_PREFIX}{n}", "string", FromParam(n)) for n in names
                   if f"{ENV_INPUT_PREFIX}{n}" not in have)
    return replace(step, inputs=step.inputs + inputs) if inputs else step


def _common_params(project: ir.Project) -> list[Param]:
    repo = project.image.repository or project.name
    return [
        Param("image", "string", f"{repo}:latest", "container image (tag or digest) that runs every step"),
        Param("git_commit", "string", "unknown", "git commit of the spec and code, recorded as lineage"),
    ]


def _notify_step(project: ir.Project, pipeline: str) -> Step | None:
    channels: list[str] = []
    if project.monitoring:
        channels += project.monitoring.alerts
    if project.registry.approval:
        channels += [c for c in project.registry.approval.notify if c not in channels]
    if not channels:
        return None
    return Step(
        name="notify-failure", action="notify", kind="notify",
        args=(("channels", ",".join(channels)), ("pipeline", pipeline)),
        resources=LIGHT, cache=False,
    )


# ---------------------------------------------------------------- train


def train_pipeline(project: ir.Project) -> Pipeline | None:
    fine_tune = project.llm.fine_tune if project.llm else None
    if project.training is None and fine_tune is None:
        return None
    datasets = project.data.datasets if project.data else ()
    steps, data_source, train_source = _data_steps(project, datasets)
    steps.append(_train_step(project, train_source))
    evaluate = _evaluate_step(project, data_source)
    if evaluate:
        steps.append(evaluate)
    steps += _register_steps(project, gated=evaluate is not None)
    return Pipeline(
        name="train",
        description=f"Train, evaluate and register {project.registry.model}",
        params=tuple(_train_params(project, datasets)), steps=tuple(steps),
        schedule=project.triggers.schedule if project.triggers else None,
        on_failure=_notify_step(project, "train"),
    )


def _train_params(project: ir.Project, datasets: tuple[ir.Dataset, ...]) -> list[Param]:
    params = _common_params(project)
    for ds in datasets:
        params.append(Param(f"data_version_{ds.name}", "string", ds.version or "latest",
                            f"version of dataset `{ds.name}` ({project.data.versioning})"))
    return params


def _data_steps(project: ir.Project, datasets: tuple[ir.Dataset, ...]
                ) -> tuple[list[Step], FromStep | None, FromStep | None]:
    """validate-data and build-features, with where the validated data and the training data come from."""
    if not datasets:
        return [], None, None
    steps = [_resolve_step(project, datasets), Step(
        name="validate-data", action="validate", kind="processing",
        inputs=tuple(Input(f"version_{ds.name}", "string", FromStep(RESOLVE, f"version_{ds.name}"))
                     for ds in datasets),
        outputs=(Port("data", "dataset"), Port("report", "metrics")),
        resources=PROCESSING, span=project.data.span,
    )]
    data_source = FromStep("validate-data", "data")
    if not (project.features and project.features.views):
        return steps, data_source, data_source
    steps.append(Step(
        name="build-features", action="features", kind="processing",
        inputs=(Input("data", "dataset", data_source),),
        outputs=(Port("features", "dataset"),),
        resources=PROCESSING, span=project.features.span,
    ))
    return steps, data_source, FromStep("build-features", "features")


def _resolve_step(project: ir.Project, datasets: tuple[ir.Dataset, ...]) -> Step:
    """resolve-data: the requested versions in, the versions that will be read out. Never cached,
    so a scheduled run asks the store again; validate-data takes its outputs as inputs, so every
    cache key after it (KFP task inputs, SageMaker step arguments, `mlopsc run`'s key) changes
    exactly when the data does."""
    return Step(
        name=RESOLVE, action="resolve_data", kind="processing",
        inputs=tuple(Input(f"version_{ds.name}", "string", FromParam(f"data_version_{ds.name}"))
                     for ds in datasets),
        outputs=tuple(Port(f"version_{ds.name}", "string") for ds in datasets),
        resources=LIGHT, cache=False, span=project.data.span,
    )


def _train_step(project: ir.Project, source: FromStep | None) -> Step:
    """`train` (or a sweep) from the training section, else `fine_tune` from llm.fine_tune."""
    inputs = [Input("git_commit", "string", FromParam("git_commit"))]
    if source:
        inputs.insert(0, Input("data", "dataset", source))
    outputs = (Port("model", "model"), Port("metrics", "metrics"))
    t = project.training
    if t:
        return Step(
            name="train", action="train", kind="tuning" if t.sweep else "training",
            inputs=tuple(inputs), outputs=outputs, args=(("sweep", "true"),) if t.sweep else (),
            resources=t.resources, spot=t.spot, max_runtime_seconds=t.max_runtime_seconds,
            retries=1, span=t.span,
        )
    ft = project.llm.fine_tune
    return Step(
        name="train", action="fine_tune", kind="training",
        inputs=tuple(inputs), outputs=outputs, args=(("method", ft.method),),
        resources=ft.resources, spot=ft.spot, max_runtime_seconds=ft.max_runtime_seconds, retries=1, span=ft.span,
    )


def _evaluate_step(project: ir.Project, data_source: FromStep | None) -> Step | None:
    if not project.evals:
        return None
    inputs = [Input("model", "model", FromStep("train", "model"))]
    if data_source:
        inputs.append(Input("data", "dataset", data_source))
    return Step(
        name="evaluate", action="evaluate", kind="processing",
        inputs=tuple(inputs),
        outputs=(Port("evaluation", "metrics"), Port("passed", "boolean")),
        resources=PROCESSING, span=project.evals.span,
    )


def _register_steps(project: ir.Project, gated: bool) -> list[Step]:
    """register (when the evaluation gate passed), and gate-failed (when it did not)."""
    inputs = [Input("model", "model", FromStep("train", "model")),
              Input("git_commit", "string", FromParam("git_commit"))]
    if gated:
        inputs.insert(1, Input("evaluation", "metrics", FromStep("evaluate", "evaluation")))
    approval = project.registry.approval
    pending = bool(approval and approval.required_for)
    steps = [Step(
        name="register", action="register", kind="register",
        inputs=tuple(inputs),
        outputs=(Port("model_version", "string"),),
        args=(("model", project.registry.model), ("approval", "pending" if pending else "approved")),
        resources=LIGHT, when=Condition("evaluate", "passed", "==", True) if gated else None, cache=False,
        span=project.registry.span,
    )]
    if gated:
        steps.append(Step(
            name="gate-failed", action="fail", kind="fail",
            inputs=(Input("evaluation", "metrics", FromStep("evaluate", "evaluation")),),
            resources=LIGHT, when=Condition("evaluate", "passed", "==", False), cache=False,
            message="evaluation gate failed: a metric missed its threshold or regressed against the "
                    "baseline; the model was not registered (see the evaluation report)",
            span=project.evals.span,
        ))
    return steps


# ---------------------------------------------------------------- deploy


def deploy_pipeline(project: ir.Project) -> Pipeline | None:
    if project.deployment is None or not project.deployment.environments:
        return None
    params = _common_params(project) + [
        Param("model_version", "string", "latest",
              "registry version to deploy; `latest` takes the newest approved version"),
    ]
    steps: list[Step] = [Step(
        name=RESOLVE_MODEL, action="resolve_model", kind="processing",
        inputs=(Input("model_version", "string", FromParam("model_version")),),
        outputs=(Port("model_version", "string"),), args=(("model", project.registry.model),),
        resources=LIGHT, cache=False, span=project.deployment.span,
    )]
    for env in project.deployment.environments:
        steps += _environment_steps(project, env, steps[-1].name if len(steps) > 1 else None)
    return Pipeline(
        name="deploy",
        description=f"Deploy {project.registry.model} through "
                    + " -> ".join(e.name for e in project.deployment.environments),
        params=tuple(params), steps=tuple(steps), on_failure=_notify_step(project, "deploy"),
    )


def _environment_steps(project: ir.Project, env: ir.Environment, previous: str | None) -> list[Step]:
    """One environment: approval (if required), deploy or rollout, smoke test, load test; each
    after the one before (the load test runs beside the smoke test, after the deploy)."""
    steps: list[Step] = []
    if env.requires_approval:
        steps.append(Step(
            name=f"approve-{env.name}", action="approve", kind="approval",
            inputs=(Input("model_version", "string", MODEL_VERSION),),
            args=(("environment", env.name), ("model", project.registry.model)),
            after=(previous,) if previous else (), resources=LIGHT, cache=False, span=env.span,
        ))
        previous = steps[-1].name
    deploy = f"deploy-{env.name}"
    steps.append(Step(
        name=deploy, action="rollout" if env.strategy.type != "direct" else "deploy", kind="deploy",
        inputs=(Input("model_version", "string", MODEL_VERSION),),
        outputs=(Port("endpoint", "string"),),
        args=_deploy_args(project, env), after=(previous,) if previous else (),
        resources=LIGHT, cache=False, span=env.span,
    ))
    endpoint = Input("endpoint", "string", FromStep(deploy, "endpoint"))
    if env.smoke_test:
        steps.append(Step(
            name=f"smoke-test-{env.name}", action="smoke_test", kind="processing",
            inputs=(endpoint,), args=(("environment", env.name),),
            resources=LIGHT, cache=False, span=env.span,
        ))
    if env.load_test:
        lt = env.load_test
        steps.append(Step(
            name=f"load-test-{env.name}", action="load_test", kind="processing",
            inputs=(endpoint,),
            args=(("environment", env.name), ("rps", str(lt.rps)), ("duration", str(lt.duration_seconds)),
                  ("max_p95_ms", repr(lt.max_p95_ms))),
            after=(steps[-1].name,) if steps[-1].name != deploy else (),
            resources=PROCESSING, cache=False, span=lt.span,
        ))
    return steps


def _deploy_args(project: ir.Project, env: ir.Environment) -> tuple[tuple[str, str], ...]:
    s = env.strategy
    args = [("environment", env.name), ("model", project.registry.model), ("strategy", s.type)]
    if s.type == "canary":
        args += [("steps", ",".join(str(x) for x in s.steps)), ("interval", str(s.interval_seconds))]
    if s.sample is not None:
        args.append(("sample", repr(s.sample)))
    if s.split is not None:
        args.append(("split", repr(s.split)))
    if s.duration_seconds is not None:
        args.append(("duration", str(s.duration_seconds)))
    if env.rollback and env.rollback.max_error_rate is not None:
        args.append(("max_error_rate", repr(env.rollback.max_error_rate)))
    if env.rollback and env.rollback.max_p99_latency_ms is not None:
        args.append(("max_p99_latency_ms", repr(env.rollback.max_p99_latency_ms)))
    return tuple(args)


# ---------------------------------------------------------------- monitor


def monitor_pipeline(project: ir.Project) -> Pipeline | None:
    m = project.monitoring
    if m is None:
        return None
    checks: list[Step] = []
    outputs = (Port("report", "metrics"), Port("violated", "boolean"))
    if m.max_p99_latency_ms is not None or m.max_error_rate is not None:
        args = []
        if m.max_p99_latency_ms is not None:
            args.append(("max_p99_latency_ms", repr(m.max_p99_latency_ms)))
        if m.max_error_rate is not None:
            args.append(("max_error_rate", repr(m.max_error_rate)))
        checks.append(Step(name="check-infrastructure", action="monitor_infra", kind="processing",
                           outputs=outputs, args=tuple(args), resources=LIGHT, cache=False, span=m.span))
    # drift and performance read the traffic the monitored environment captured (its location is
    # the target's: runtime/captures.py)
    watched = (("captures", project.deployment.environments[-1].name),) if (
        project.deployment and project.deployment.environments) else ()
    if m.drift:
        d = m.drift
        checks.append(Step(
            name="detect-drift", action="drift", kind="processing", outputs=outputs,
            args=(("reference", d.reference), ("method", d.method), ("threshold", repr(d.threshold)),
                  ("features", ",".join(d.features))) + watched,
            resources=PROCESSING, cache=False, span=d.span,
        ))
    if m.performance:
        checks.append(Step(name="check-performance", action="performance", kind="processing", outputs=outputs,
                           args=(("labels", m.performance.labels),) + watched, resources=PROCESSING, cache=False,
                           span=m.performance.span))
    if m.llm:
        checks.append(Step(name="check-llm-quality", action="llm_quality", kind="processing", outputs=outputs,
                           resources=LIGHT, cache=False, span=m.llm.span))
    if m.evals_schedule and project.evals and project.evals.suite:
        checks.append(Step(name="run-eval-suite", action="eval_suite", kind="processing", outputs=outputs,
                           args=(("dataset", project.evals.suite.dataset),), resources=PROCESSING, cache=False,
                           span=project.evals.suite.span))
    feedback = [Step(name="collect-feedback", action="feedback", kind="processing",
                     outputs=(Port("report", "metrics"),), resources=PROCESSING, cache=False,
                     span=m.feedback.span)] if m.feedback else []
    act = Step(
        name="act-on-violations", action="act", kind="processing",
        inputs=tuple(Input(c.name.replace("-", "_") + "_violated", "boolean", FromStep(c.name, "violated"))
                     for c in checks),
        args=(("on_violation", ",".join(m.on_violation)), ("alerts", ",".join(m.alerts))),
        resources=LIGHT, cache=False, span=m.span,
    )
    return Pipeline(
        name="monitor",
        description=f"Monitor {project.registry.model} on schedule {m.schedule}",
        params=tuple(_common_params(project)), steps=tuple(checks) + tuple(feedback) + (act,), schedule=m.schedule,
        on_failure=_notify_step(project, "monitor"),
    )


# Constant is re-exported for targets that bind literal inputs.
__all__ = ["Constant", "build_pipelines"]
