"""Schema-valid spec data -> IR: defaults applied, units resolved, spans attached.

Runs only after schema and semantic checks passed, so it may assume the shape is right.
Defaults here mirror the `default` values documented in the schema; tests compare the two.
"""

from __future__ import annotations

import hashlib
from typing import Any

from . import ir
from .loader import Document, Path
from .pipelines import build_pipelines
from .target_settings import from_document as targets_block
from .units import cpu_cores, cron, duration_seconds, size_bytes

DEFAULT_TRAINING_RESOURCES = {"cpu": 2, "memory": "8Gi"}
DEFAULT_SERVING_RESOURCES = {"cpu": 1, "memory": "2Gi"}
DEFAULT_MAX_RUNTIME = "24h"
EVALS_SCHEDULES = {"hourly": "0 * * * *", "daily": "0 0 * * *", "weekly": "0 0 * * 0", "never": None}


class _Context:
    def __init__(self, doc: Document):
        self.doc = doc

    def span(self, path: Path) -> ir.Span:
        line, col = self.doc.source_map.locate(path)
        return ir.Span(self.doc.file, line, col)


def normalize(doc: Document) -> ir.Project:
    ctx = _Context(doc)
    d = doc.data
    name = d["name"]
    data = _data(ctx, d.get("data"))
    project = ir.Project(
        api_version=d["apiVersion"],
        name=name,
        description=d.get("description", ""),
        owner=d.get("owner"),
        labels=tuple(sorted((d.get("labels") or {}).items())),
        spec_path=doc.file,
        spec_hash=hashlib.sha256(doc.raw).hexdigest(),
        image=_image(ctx, d.get("image") or {}),
        data=data,
        features=_features(ctx, d.get("features")),
        training=_training(ctx, d.get("training")),
        tracking=_tracking(ctx, d.get("tracking") or {}, name),
        evals=_evals(ctx, d.get("evals")),
        registry=_registry(ctx, d.get("registry") or {}, name),
        deployment=_deployment(ctx, d.get("deployment"), (d.get("registry") or {}).get("approval")),
        monitoring=_monitoring(ctx, d.get("monitoring"), data),
        triggers=_triggers(ctx, d.get("triggers")),
        cost=_cost(ctx, d.get("cost")),
        llm=_llm(ctx, d.get("llm")),
        targets=targets_block(doc),
        span=ctx.span(()),
    )
    return _with_pipelines(project)


def _with_pipelines(project: ir.Project) -> ir.Project:
    from dataclasses import replace

    return replace(project, pipelines=build_pipelines(project))


# ---------------------------------------------------------------- shared shapes


def resources(ctx: _Context, raw: dict | None, path: Path, default: dict) -> ir.Resources:
    raw = raw or {}
    gpu = raw.get("gpu") or {}
    return ir.Resources(
        cpu=cpu_cores(raw.get("cpu", default["cpu"])),
        memory_bytes=size_bytes(raw.get("memory", default["memory"])),
        gpu_count=int(gpu.get("count", 0)),
        gpu_type=gpu.get("type"),
        span=ctx.span(path) if raw else ctx.span(path[:-1]),
    )


def _max_runtime(raw: dict) -> int:
    """max_runtime, defaulting to spot's max_wait (the longest a spot job may take) or 24h."""
    spot = raw.get("spot") or {}
    fallback = spot["max_wait"] if spot.get("enabled") and "max_wait" in spot else DEFAULT_MAX_RUNTIME
    return duration_seconds(raw.get("max_runtime", fallback))


def _spot(ctx: _Context, raw: dict | None, path: Path, max_runtime: int) -> ir.Spot | None:
    if not raw:
        return None
    wait = duration_seconds(raw["max_wait"]) if "max_wait" in raw else max_runtime
    return ir.Spot(enabled=bool(raw.get("enabled", False)), max_wait_seconds=wait, span=ctx.span(path))


def _autoscaling(ctx: _Context, raw: dict | None, path: Path) -> ir.Autoscaling:
    raw = raw or {}
    low = int(raw.get("min_replicas", 1))
    return ir.Autoscaling(
        min_replicas=low,
        max_replicas=int(raw.get("max_replicas", max(low, 1))),
        target_concurrency=raw.get("target_concurrency"),
        span=ctx.span(path),
    )


def _thresholds(ctx: _Context, raw: dict | None, path: Path) -> tuple[ir.Threshold, ...]:
    return tuple(
        ir.Threshold(metric=m, min=_num(t.get("min")), max=_num(t.get("max")), span=ctx.span(path + (m,)))
        for m, t in sorted((raw or {}).items())
    )


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


# ---------------------------------------------------------------- sections


def _image(ctx: _Context, raw: dict) -> ir.Image:
    return ir.Image(
        base=raw.get("base", "python:3.11-slim"),
        requirements=raw.get("requirements"),
        repository=raw.get("repository"),
        span=ctx.span(("image",)),
    )


def _data(ctx: _Context, raw: dict | None) -> ir.Data | None:
    if raw is None:
        return None
    datasets_raw = raw.get("datasets") or {}
    datasets = tuple(_dataset(ctx, name, datasets_raw) for name in datasets_raw)
    split = raw.get("split")
    return ir.Data(
        versioning=raw.get("versioning", "hash"),
        label=raw.get("label"),
        datasets=datasets,
        split=ir.Split(
            validation=float(split.get("validation", 0.2)),
            seed=int(split.get("seed", 42)),
            stratify=split.get("stratify"),
            span=ctx.span(("data", "split")),
        ) if split is not None else None,
        span=ctx.span(("data",)),
    )


_FORMAT_BY_SUFFIX = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".json": "json"}


def _dataset(ctx: _Context, name: str, all_raw: dict) -> ir.Dataset:
    raw = all_raw[name]
    path = ("data", "datasets", name)
    # schema_from inherits columns and checks from another dataset (one level, checked for cycles).
    source = all_raw.get(raw.get("schema_from"), {}) if raw.get("schema_from") else {}
    schema_raw = raw.get("schema", source.get("schema")) or {}
    schema_path = path + ("schema",) if "schema" in raw else ("data", "datasets", raw.get("schema_from"), "schema")
    checks = raw.get("checks", source.get("checks")) or {}
    uri = raw["uri"]
    fmt = raw.get("format") or next((f for s, f in _FORMAT_BY_SUFFIX.items() if uri.endswith(s)), "parquet")
    return ir.Dataset(
        name=name,
        uri=uri,
        format=fmt,
        version=raw.get("version"),
        columns=tuple(
            ir.Column(
                name=col,
                type=spec["type"],
                nullable=bool(spec.get("nullable", True)),
                unique=bool(spec.get("unique", False)),
                min=_num(spec.get("min")),
                max=_num(spec.get("max")),
                values=tuple(spec["values"]) if "values" in spec else None,
                span=ctx.span(schema_path + (col,)),
            )
            for col, spec in schema_raw.items()
        ),
        min_rows=checks.get("min_rows"),
        max_null_fraction=_num(checks.get("max_null_fraction")),
        schema_from=raw.get("schema_from"),
        span=ctx.span(path),
    )


def _features(ctx: _Context, raw: dict | None) -> ir.Features | None:
    if raw is None:
        return None
    entities = raw.get("entities") or {}
    views = []
    for name, view in (raw.get("views") or {}).items():
        path = ("features", "views", name)
        views.append(ir.FeatureView(
            name=name,
            entity=view["entity"],
            join_key=entities.get(view["entity"], {}).get("join_key", view["entity"]),
            source=view["source"],
            ttl_seconds=duration_seconds(view["ttl"]) if "ttl" in view else None,
            transform=view.get("transform"),
            features=tuple((f, t) for f, t in (view.get("features") or {}).items()),
            span=ctx.span(path),
        ))
    return ir.Features(store=raw.get("store", "inline"), views=tuple(views), span=ctx.span(("features",)))


def _training(ctx: _Context, raw: dict | None) -> ir.Training | None:
    if raw is None:
        return None
    max_runtime = _max_runtime(raw)
    sweep = raw.get("sweep")
    return ir.Training(
        entrypoint=raw["entrypoint"],
        framework=raw.get("framework", "custom"),
        hyperparameters=ir.freeze(raw.get("hyperparameters") or {}),
        resources=resources(ctx, raw.get("resources"), ("training", "resources"), DEFAULT_TRAINING_RESOURCES),
        spot=_spot(ctx, raw.get("spot"), ("training", "spot"), max_runtime),
        checkpoints=raw.get("checkpoints"),
        max_runtime_seconds=max_runtime,
        sweep=_sweep(ctx, sweep) if sweep is not None else None,
        span=ctx.span(("training",)),
    )


def _sweep(ctx: _Context, raw: dict) -> ir.Sweep:
    params = []
    for name, dist in (raw.get("parameters") or {}).items():
        (kind, values), = dist.items()
        params.append(ir.SweepParameter(
            name=name, distribution=kind, values=ir.freeze(values),
            span=ctx.span(("training", "sweep", "parameters", name)),
        ))
    objective = raw["objective"]
    return ir.Sweep(
        strategy=raw.get("strategy", "random"),
        metric=objective["metric"],
        goal=objective.get("goal", "maximize"),
        max_trials=int(raw.get("max_trials", 10)),
        parallel_trials=int(raw.get("parallel_trials", 1)),
        parameters=tuple(params),
        span=ctx.span(("training", "sweep")),
    )


def _tracking(ctx: _Context, raw: dict, name: str) -> ir.Tracking:
    return ir.Tracking(
        backend=raw.get("backend", "mlflow"),
        experiment=raw.get("experiment", name),
        uri=raw.get("uri"),
        span=ctx.span(("tracking",)),
    )


def _evals(ctx: _Context, raw: dict | None) -> ir.Evals | None:
    if raw is None:
        return None
    suite = raw.get("suite")
    return ir.Evals(
        dataset=raw.get("dataset"),
        thresholds=_thresholds(ctx, raw.get("metrics"), ("evals", "metrics")),
        baseline=None if raw.get("baseline", "none") == "none" else raw.get("baseline"),
        max_regression=tuple(sorted((k, float(v)) for k, v in (raw.get("max_regression") or {}).items())),
        slices=tuple(raw.get("slices") or ()),
        suite=ir.EvalSuite(
            dataset=suite["dataset"],
            scorers=tuple(suite["scorers"]),
            min_score=float(suite["min_score"]),
            span=ctx.span(("evals", "suite")),
        ) if suite is not None else None,
        span=ctx.span(("evals",)),
    )


def _registry(ctx: _Context, raw: dict, name: str) -> ir.Registry:
    approval = raw.get("approval")
    return ir.Registry(
        model=raw.get("model", name),
        approval=ir.Approval(
            required_for=tuple(approval.get("required_for") or ()),
            notify=tuple(approval.get("notify") or ()),
            span=ctx.span(("registry", "approval")),
        ) if approval is not None else None,
        span=ctx.span(("registry",)),
    )


def _deployment(ctx: _Context, raw: dict | None, approval: dict | None) -> ir.Deployment | None:
    if raw is None:
        return None
    serving = raw.get("serving") or {}
    needs_approval = set((approval or {}).get("required_for") or ())
    return ir.Deployment(
        serving=ir.Serving(
            runtime=serving.get("runtime", "mlflow"),
            resources=resources(ctx, serving.get("resources"), ("deployment", "serving", "resources"),
                                DEFAULT_SERVING_RESOURCES),
            autoscaling=_autoscaling(ctx, serving.get("autoscaling"), ("deployment", "serving", "autoscaling")),
            span=ctx.span(("deployment", "serving")),
        ),
        environments=tuple(
            _environment(ctx, name, env or {}, name in needs_approval)
            for name, env in (raw.get("environments") or {}).items()
        ),
        span=ctx.span(("deployment",)),
    )


def _environment(ctx: _Context, name: str, raw: dict, requires_approval: bool) -> ir.Environment:
    path = ("deployment", "environments", name)
    tests = raw.get("tests") or {}
    load = tests.get("load")
    strategy = raw.get("strategy") or {}
    rollback = raw.get("rollback")
    kind = strategy.get("type", "direct")
    return ir.Environment(
        name=name,
        smoke_test=bool(tests.get("smoke", False)),
        load_test=ir.LoadTest(
            rps=int(load["rps"]),
            duration_seconds=duration_seconds(load.get("duration", "1m")),
            max_p95_ms=float(load["max_p95_ms"]),
            span=ctx.span(path + ("tests", "load")),
        ) if load is not None else None,
        strategy=ir.Strategy(
            type=kind,
            steps=tuple(int(s) for s in strategy.get("steps", [100])) if kind == "canary" else (100,),
            interval_seconds=duration_seconds(strategy.get("interval", "10m")),
            sample=_num(strategy.get("sample")),
            split=_num(strategy.get("split")),
            duration_seconds=duration_seconds(strategy["duration"]) if "duration" in strategy else None,
            span=ctx.span(path + ("strategy",)),
        ),
        rollback=ir.Rollback(
            max_error_rate=_num(rollback.get("max_error_rate")),
            max_p99_latency_ms=_num(rollback.get("max_p99_latency_ms")),
            span=ctx.span(path + ("rollback",)),
        ) if rollback is not None else None,
        requires_approval=requires_approval,
        span=ctx.span(path),
    )


def _monitoring(ctx: _Context, raw: dict | None, data: ir.Data | None) -> ir.Monitoring | None:
    if raw is None:
        return None
    infra = raw.get("infrastructure") or {}
    drift = raw.get("drift")
    perf = raw.get("performance")
    llm = raw.get("llm")
    feedback = raw.get("feedback")
    return ir.Monitoring(
        schedule=cron(raw["schedule"]),
        max_p99_latency_ms=_num(infra.get("max_p99_latency_ms")),
        max_error_rate=_num(infra.get("max_error_rate")),
        drift=_drift(ctx, drift, data) if drift is not None else None,
        performance=ir.Performance(
            labels=perf["labels"],
            thresholds=_thresholds(ctx, perf.get("metrics"), ("monitoring", "performance", "metrics")),
            span=ctx.span(("monitoring", "performance")),
        ) if perf is not None else None,
        llm=ir.LlmQuality(
            max_hallucination_rate=_num(llm.get("max_hallucination_rate")),
            max_refusal_rate=_num(llm.get("max_refusal_rate")),
            min_tool_call_success=_num(llm.get("min_tool_call_success")),
            span=ctx.span(("monitoring", "llm")),
        ) if llm is not None else None,
        evals_schedule=EVALS_SCHEDULES[raw.get("evals", "never")],
        feedback=ir.Feedback(
            signals=tuple(feedback.get("signals") or ()),
            store=feedback.get("store"),
            span=ctx.span(("monitoring", "feedback")),
        ) if feedback is not None else None,
        on_violation=tuple(raw.get("on_violation") or ("alert",)),
        alerts=tuple(raw.get("alerts") or ()),
        span=ctx.span(("monitoring",)),
    )


def _drift(ctx: _Context, raw: dict, data: ir.Data | None) -> ir.Drift:
    features = raw.get("features")
    if features is None:
        reference = data.dataset(raw["reference"]) if data else None
        label = data.label if data else None
        features = [c.name for c in reference.columns if c.name != label and not c.unique] if reference else []
    return ir.Drift(
        reference=raw["reference"],
        method=raw.get("method", "psi"),
        threshold=float(raw.get("threshold", 0.2)),
        features=tuple(features),
        span=ctx.span(("monitoring", "drift")),
    )


def _triggers(ctx: _Context, raw: dict | None) -> ir.Triggers | None:
    if raw is None:
        return None
    return ir.Triggers(
        data=raw.get("data", "ignore"),
        code=raw.get("code", "ignore"),
        schedule=cron(raw["schedule"]) if raw.get("schedule") else None,
        span=ctx.span(("triggers",)),
    )


def _cost(ctx: _Context, raw: dict | None) -> ir.Cost | None:
    if raw is None:
        return None
    return ir.Cost(
        budget_monthly_usd=float(raw["budget_monthly_usd"]),
        alert_at=float(raw.get("alert_at", 0.8)),
        span=ctx.span(("cost",)),
    )


def _llm(ctx: _Context, raw: dict | None) -> ir.Llm | None:
    if raw is None:
        return None
    fine_tune = raw.get("fine_tune")
    serving = raw.get("serving")
    gateway = raw.get("gateway")
    return ir.Llm(
        prompts=tuple(
            ir.Prompt(name=n, path=p, span=ctx.span(("llm", "prompts", n)))
            for n, p in (raw.get("prompts") or {}).items()
        ),
        base_model=raw["base_model"],
        fine_tune=_fine_tune(ctx, fine_tune) if fine_tune is not None else None,
        serving=ir.LlmServing(
            engine=serving.get("engine", "vllm"),
            max_model_len=serving.get("max_model_len"),
            tensor_parallel=int(serving.get("tensor_parallel", 1)),
            resources=resources(ctx, serving.get("resources"), ("llm", "serving", "resources"),
                                DEFAULT_SERVING_RESOURCES),
            autoscaling=_autoscaling(ctx, serving.get("autoscaling"), ("llm", "serving", "autoscaling")),
            span=ctx.span(("llm", "serving")),
        ) if serving is not None else None,
        gateway=_gateway(ctx, gateway) if gateway is not None else None,
        span=ctx.span(("llm",)),
    )


def _fine_tune(ctx: _Context, raw: dict) -> ir.FineTune:
    lora = {"r": 16, "alpha": 32, "dropout": 0.05, **(raw.get("lora") or {})}
    max_runtime = _max_runtime(raw)
    return ir.FineTune(
        method=raw.get("method", "lora"),
        dataset=raw["dataset"],
        lora=ir.freeze(lora),
        epochs=int(raw.get("epochs", 1)),
        resources=resources(ctx, raw.get("resources"), ("llm", "fine_tune", "resources"),
                            DEFAULT_TRAINING_RESOURCES),
        spot=_spot(ctx, raw.get("spot"), ("llm", "fine_tune", "spot"), max_runtime),
        max_runtime_seconds=max_runtime,
        span=ctx.span(("llm", "fine_tune")),
    )


def _gateway(ctx: _Context, raw: dict) -> ir.Gateway:
    return ir.Gateway(
        engine=raw.get("engine", "litellm"),
        routes=tuple(
            ir.Route(name=r["name"], model=r["model"], provider=r["provider"], api_key=r.get("api_key"),
                     span=ctx.span(("llm", "gateway", "routes", i)))
            for i, r in enumerate(raw.get("routes") or ())
        ),
        fallbacks=tuple((k, tuple(v)) for k, v in sorted((raw.get("fallbacks") or {}).items())),
        cache=ir.freeze(raw.get("cache") or {}),
        budget=ir.freeze(raw.get("budget") or {}),
        span=ctx.span(("llm", "gateway")),
    )
