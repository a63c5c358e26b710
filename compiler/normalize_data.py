"""Normalization of the image, data, features, training, tracking, evals and registry sections."""

from __future__ import annotations

from . import ir
from . import normalize_defaults as default
from .normalize_context import Context, max_runtime, num, resources, spot, thresholds

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

FORMAT_BY_SUFFIX = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".json": "json"}


def image(ctx: Context, raw: dict) -> ir.Image:
    return ir.Image(
        base=raw.get("base", default.IMAGE_BASE),
        requirements=raw.get("requirements"),
        repository=raw.get("repository"),
        span=ctx.span(("image",)),
        repository_span=ctx.span(("image", "repository")),
    )


def data(ctx: Context, raw: dict | None) -> ir.Data | None:
    if raw is None:
        return None
    datasets_raw = raw.get("datasets") or {}
    split = raw.get("split")
    return ir.Data(
        versioning=raw.get("versioning", default.DATA_VERSIONING),
        label=raw.get("label"),
        datasets=tuple(dataset(ctx, name, datasets_raw) for name in datasets_raw),
        split=ir.Split(
            validation=float(split.get("validation", default.SPLIT_VALIDATION)),
            seed=int(split.get("seed", default.SPLIT_SEED)),
            stratify=split.get("stratify"),
            span=ctx.span(("data", "split")),
        ) if split is not None else None,
        span=ctx.span(("data",)),
    )


def inherited(name: str, all_raw: dict, key: str) -> tuple[str | None, Any]:
    """(dataset, value) of the first dataset that writes `key`, following `schema_from` from
    `name`; (None, None) when none does. Stops at a missing dataset or a cycle: the rules report
    those (E301, E302), so normalization only has to survive them."""
    seen: set[str] = set()
    while name in all_raw and name not in seen:
        seen.add(name)
        if key in all_raw[name]:
            return name, all_raw[name][key]
        name = all_raw[name].get("schema_from")
    return None, None


def dataset(ctx: Context, name: str, all_raw: dict) -> ir.Dataset:
    raw = all_raw[name]
    path = ("data", "datasets", name)
    owner, schema = inherited(name, all_raw, "schema")
    checks = inherited(name, all_raw, "checks")[1] or {}
    uri = raw["uri"]
    fmt = raw.get("format") or next((f for s, f in FORMAT_BY_SUFFIX.items() if uri.endswith(s)), default.DATASET_FORMAT)
    return ir.Dataset(
        name=name,
        uri=uri,
        format=fmt,
        version=raw.get("version"),
        columns=tuple(column(ctx, col, spec, ("data", "datasets", owner, "schema", col))
                      for col, spec in (schema or {}).items()),
        min_rows=checks.get("min_rows"),
        max_null_fraction=num(checks.get("max_null_fraction")),
        schema_from=raw.get("schema_from"),
        span=ctx.span(path),
    )


def column(ctx: Context, name: str, spec: dict, path: tuple) -> ir.Column:
    return ir.Column(
        name=name,
        type=spec["type"],
        nullable=bool(spec.get("nullable", default.COLUMN_NULLABLE)),
        unique=bool(spec.get("unique", default.COLUMN_UNIQUE)),
        min=num(spec.get("min")),
        max=num(spec.get("max")),
        values=tuple(spec["values"]) if "values" in spec else None,
        span=ctx.span(path),
    )


def features(ctx: Context, raw: dict | None) -> ir.Features | None:
    if raw is None:
        return None
    entities = raw.get("entities") or {}
    return ir.Features(
        store=raw.get("store", default.FEATURE_STORE),
        views=tuple(view(ctx, name, spec, entities) for name, spec in (raw.get("views") or {}).items()),
        entities=tuple(ir.Entity(name, e.get("join_key", name), ctx.span(("features", "entities", name)))
                       for name, e in entities.items()),
        span=ctx.span(("features",)),
    )


def view(ctx: Context, name: str, raw: dict, entities: dict) -> ir.FeatureView:
    path = ("features", "views", name)
    return ir.FeatureView(
        name=name,
        entity=raw["entity"],
        join_key=entities.get(raw["entity"], {}).get("join_key", raw["entity"]),
        source=raw["source"],
        ttl_seconds=ctx.optional_seconds(raw, "ttl", path),
        transform=raw.get("transform"),
        features=tuple((f, t) for f, t in (raw.get("features") or {}).items()),
        span=ctx.span(path),
        timestamp=raw.get("timestamp"),
    )


def training(ctx: Context, raw: dict | None) -> ir.Training | None:
    if raw is None:
        return None
    runtime = max_runtime(ctx, raw, ("training",))
    sweep_raw = raw.get("sweep")
    return ir.Training(
        entrypoint=raw["entrypoint"],
        framework=raw.get("framework", default.TRAINING_FRAMEWORK),
        hyperparameters=ir.freeze(raw.get("hyperparameters") or {}),
        resources=resources(ctx, raw.get("resources"), ("training", "resources"), default.TRAINING_RESOURCES),
        spot=spot(ctx, raw.get("spot"), ("training", "spot"), runtime),
        checkpoints=raw.get("checkpoints"),
        max_runtime_seconds=runtime,
        sweep=sweep(ctx, sweep_raw) if sweep_raw is not None else None,
        span=ctx.span(("training",)),
    )


def sweep(ctx: Context, raw: dict) -> ir.Sweep:
    params = []
    for name, dist in (raw.get("parameters") or {}).items():
        (kind, values), = dist.items()
        params.append(ir.SweepParameter(
            name=name, distribution=kind, values=ir.freeze(values),
            span=ctx.span(("training", "sweep", "parameters", name)),
        ))
    objective = raw["objective"]
    return ir.Sweep(
        strategy=raw.get("strategy", default.SWEEP_STRATEGY),
        metric=objective["metric"],
        goal=objective.get("goal", default.SWEEP_GOAL),
        max_trials=int(raw.get("max_trials", default.SWEEP_MAX_TRIALS)),
        parallel_trials=int(raw.get("parallel_trials", default.SWEEP_PARALLEL_TRIALS)),
        parameters=tuple(params),
        span=ctx.span(("training", "sweep")),
    )


def tracking(ctx: Context, raw: dict, name: str) -> ir.Tracking:
    return ir.Tracking(
        backend=raw.get("backend", default.TRACKING_BACKEND),
        experiment=raw.get("experiment", name),
        uri=raw.get("uri"),
        span=ctx.span(("tracking",)),
        uri_span=ctx.span(("tracking", "uri")),
    )


def evals(ctx: Context, raw: dict | None) -> ir.Evals | None:
    if raw is None:
        return None
    suite = raw.get("suite")
    baseline = raw.get("baseline", default.EVALS_BASELINE)
    return ir.Evals(
        dataset=raw.get("dataset"),
        thresholds=thresholds(ctx, raw.get("metrics"), ("evals", "metrics")),
        baseline=None if baseline == "none" else baseline,
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


def registry(ctx: Context, raw: dict, name: str) -> ir.Registry:
    approval = raw.get("approval")
    return ir.Registry(
        model=raw.get("model", name),
        approval=ir.Approval(
            required_for=tuple(approval.get("required_for") or ()),
            notify=tuple(approval.get("notify") or ()),
            timeout_seconds=ctx.seconds(("registry", "approval", "timeout"), approval.get("timeout", "24h")),
            span=ctx.span(("registry", "approval")),
        ) if approval is not None else None,
        span=ctx.span(("registry",)),
    )
