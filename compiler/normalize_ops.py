"""Normalization of the deployment, monitoring, triggers, cost and llm sections."""

from __future__ import annotations

from . import ir
from . import normalize_defaults as default
from .normalize_context import Context, autoscaling, max_runtime, num, resources, spot, thresholds
from .units import duration_seconds

EVALS_SCHEDULES = {"hourly": "0 * * * *", "daily": "0 0 * * *", "weekly": "0 0 * * 0", "never": None}


def deployment(ctx: Context, raw: dict | None, approval: dict | None) -> ir.Deployment | None:
    if raw is None:
        return None
    serving = raw.get("serving") or {}
    needs_approval = set((approval or {}).get("required_for") or ())
    return ir.Deployment(
        serving=ir.Serving(
            runtime=serving.get("runtime", default.SERVING_RUNTIME),
            resources=resources(ctx, serving.get("resources"), ("deployment", "serving", "resources"),
                                default.SERVING_RESOURCES),
            autoscaling=autoscaling(ctx, serving.get("autoscaling"), ("deployment", "serving", "autoscaling")),
            span=ctx.span(("deployment", "serving")),
        ),
        environments=tuple(
            environment(ctx, name, env or {}, name in needs_approval)
            for name, env in (raw.get("environments") or {}).items()
        ),
        span=ctx.span(("deployment",)),
    )


def environment(ctx: Context, name: str, raw: dict, requires_approval: bool) -> ir.Environment:
    path = ("deployment", "environments", name)
    tests = raw.get("tests") or {}
    load = tests.get("load")
    rollback = raw.get("rollback")
    return ir.Environment(
        name=name,
        smoke_test=bool(tests.get("smoke", default.SMOKE_TEST)),
        load_test=ir.LoadTest(
            rps=int(load["rps"]),
            duration_seconds=ctx.seconds(path + ("tests", "load", "duration"), load["duration"]),
            max_p95_ms=float(load["max_p95_ms"]),
            span=ctx.span(path + ("tests", "load")),
        ) if load is not None else None,
        strategy=strategy(ctx, raw.get("strategy") or default.STRATEGY, path + ("strategy",)),
        rollback=ir.Rollback(
            max_error_rate=num(rollback.get("max_error_rate")),
            max_p99_latency_ms=num(rollback.get("max_p99_latency_ms")),
            span=ctx.span(path + ("rollback",)),
        ) if rollback is not None else None,
        requires_approval=requires_approval,
        span=ctx.span(path),
    )


def strategy(ctx: Context, raw: dict, path: tuple) -> ir.Strategy:
    kind = raw.get("type", default.STRATEGY_TYPE)
    # Canary steps are what the spec writes (none is an E401); other strategies move all traffic at once.
    steps = tuple(int(s) for s in raw.get("steps", ())) if kind == "canary" else (100,)
    interval = ctx.seconds(path + ("interval",), raw.get("interval", default.STRATEGY_INTERVAL),
                           duration_seconds(default.STRATEGY_INTERVAL))
    return ir.Strategy(
        type=kind,
        steps=steps,
        interval_seconds=interval,
        sample=num(raw.get("sample")),
        split=num(raw.get("split")),
        duration_seconds=ctx.optional_seconds(raw, "duration", path),
        span=ctx.span(path),
    )


def monitoring(ctx: Context, raw: dict | None, data: ir.Data | None) -> ir.Monitoring | None:
    if raw is None:
        return None
    infra = raw.get("infrastructure") or {}
    drift_raw = raw.get("drift")
    perf = raw.get("performance")
    llm_raw = raw.get("llm")
    feedback = raw.get("feedback")
    return ir.Monitoring(
        schedule=ctx.cron(("monitoring", "schedule"), raw["schedule"]),
        max_p99_latency_ms=num(infra.get("max_p99_latency_ms")),
        max_error_rate=num(infra.get("max_error_rate")),
        drift=drift(ctx, drift_raw, data) if drift_raw is not None else None,
        performance=ir.Performance(
            labels=perf["labels"],
            thresholds=thresholds(ctx, perf.get("metrics"), ("monitoring", "performance", "metrics")),
            span=ctx.span(("monitoring", "performance")),
        ) if perf is not None else None,
        llm=ir.LlmQuality(
            max_hallucination_rate=num(llm_raw.get("max_hallucination_rate")),
            max_refusal_rate=num(llm_raw.get("max_refusal_rate")),
            min_tool_call_success=num(llm_raw.get("min_tool_call_success")),
            span=ctx.span(("monitoring", "llm")),
        ) if llm_raw is not None else None,
        evals_schedule=EVALS_SCHEDULES[raw.get("evals", default.MONITORING_EVALS)],
        feedback=ir.Feedback(
            signals=tuple(feedback.get("signals") or ()),
            store=feedback.get("store"),
            span=ctx.span(("monitoring", "feedback")),
        ) if feedback is not None else None,
        on_violation=tuple(raw.get("on_violation") or default.ON_VIOLATION),
        alerts=tuple(raw.get("alerts") or ()),
        capture_sample=float((raw.get("capture") or {}).get("sample", default.CAPTURE_SAMPLE)),
        span=ctx.span(("monitoring",)),
    )


def drift(ctx: Context, raw: dict, data: ir.Data | None) -> ir.Drift:
    features = raw.get("features")
    if features is None:
        # Every column of the reference but the label and unique ids (none when it has no schema).
        reference = data.dataset(raw["reference"]) if data else None
        label = data.label if data else None
        features = [c.name for c in reference.columns if c.name != label and not c.unique] if reference else []
    return ir.Drift(
        reference=raw["reference"],
        method=raw.get("method", default.DRIFT_METHOD),
        threshold=float(raw.get("threshold", default.DRIFT_THRESHOLD)),
        features=tuple(features),
        span=ctx.span(("monitoring", "drift")),
    )


def triggers(ctx: Context, raw: dict | None) -> ir.Triggers | None:
    if raw is None:
        return None
    return ir.Triggers(
        data=raw.get("data", default.TRIGGER_DATA),
        code=raw.get("code", default.TRIGGER_CODE),
        schedule=ctx.cron(("triggers", "schedule"), raw["schedule"]) if raw.get("schedule") else None,
        span=ctx.span(("triggers",)),
    )


def cost(ctx: Context, raw: dict | None) -> ir.Cost | None:
    if raw is None:
        return None
    return ir.Cost(
        budget_monthly_usd=float(raw["budget_monthly_usd"]),
        alert_at=float(raw.get("alert_at", default.COST_ALERT_AT)),
        prices=raw.get("prices"),
        span=ctx.span(("cost",)),
    )


def llm(ctx: Context, raw: dict | None) -> ir.Llm | None:
    if raw is None:
        return None
    fine_tune_raw = raw.get("fine_tune")
    serving = raw.get("serving")
    gateway_raw = raw.get("gateway")
    return ir.Llm(
        prompts=tuple(
            ir.Prompt(name=n, path=p, span=ctx.span(("llm", "prompts", n)))
            for n, p in (raw.get("prompts") or {}).items()
        ),
        base_model=raw["base_model"],
        fine_tune=fine_tune(ctx, fine_tune_raw) if fine_tune_raw is not None else None,
        serving=ir.LlmServing(
            engine=serving.get("engine", default.LLM_SERVING_ENGINE),
            max_model_len=serving.get("max_model_len"),
            tensor_parallel=int(serving.get("tensor_parallel", default.TENSOR_PARALLEL)),
            resources=resources(ctx, serving.get("resources"), ("llm", "serving", "resources"),
                                default.SERVING_RESOURCES),
            autoscaling=autoscaling(ctx, serving.get("autoscaling"), ("llm", "serving", "autoscaling")),
            span=ctx.span(("llm", "serving")),
        ) if serving is not None else None,
        gateway=gateway(ctx, gateway_raw) if gateway_raw is not None else None,
        span=ctx.span(("llm",)),
    )


def fine_tune(ctx: Context, raw: dict) -> ir.FineTune:
    path = ("llm", "fine_tune")
    lora = {"r": default.LORA_R, "alpha": default.LORA_ALPHA, "dropout": default.LORA_DROPOUT, **(raw.get("lora") or {})}
    runtime = max_runtime(ctx, raw, path)
    return ir.FineTune(
        method=raw.get("method", default.FINE_TUNE_METHOD),
        dataset=raw["dataset"],
        lora=ir.freeze(lora),
        epochs=int(raw.get("epochs", default.FINE_TUNE_EPOCHS)),
        learning_rate=float(raw.get("learning_rate", default.FINE_TUNE_LEARNING_RATE)),
        resources=resources(ctx, raw.get("resources"), path + ("resources",), default.TRAINING_RESOURCES),
        spot=spot(ctx, raw.get("spot"), path + ("spot",), runtime),
        max_runtime_seconds=runtime,
        span=ctx.span(path),
    )


def gateway(ctx: Context, raw: dict) -> ir.Gateway:
    path = ("llm", "gateway")
    cache = raw.get("cache") or {}
    if "ttl" in cache:  # kept as written (the LiteLLM config converts it); checked here like every duration
        ctx.seconds(path + ("cache", "ttl"), cache["ttl"])
    return ir.Gateway(
        engine=raw.get("engine", default.GATEWAY_ENGINE),
        routes=tuple(
            ir.Route(name=r["name"], model=r["model"], provider=r["provider"], api_key=r.get("api_key"),
                     span=ctx.span(path + ("routes", i)))
            for i, r in enumerate(raw.get("routes") or ())
        ),
        fallbacks=tuple((k, tuple(v)) for k, v in sorted((raw.get("fallbacks") or {}).items())),
        cache=ir.freeze(cache),
        budget=ir.freeze(raw.get("budget") or {}),
        span=ctx.span(path),
    )
