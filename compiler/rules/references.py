"""E301-E303: names that must resolve between sections (datasets, columns, entities, metrics,
environments), schema_from cycles, and drift with nothing to watch."""

from __future__ import annotations

from .. import ir
from .columns import all_columns, columns, datasets, environments, eval_metrics
from .report import Report


def schema_from(p: ir.Project, r: Report) -> None:
    """E301 a schema_from naming no other dataset; E302 a schema_from chain that loops."""
    names = datasets(p)
    for ds in p.data.datasets if p.data else ():
        if ds.schema_from is not None:
            r.unknown(ds.span, ds.schema_from, names - {ds.name}, "dataset", at=("schema_from",))
            if _reaches_cycle(p.data, ds.name):
                r.error(ds.span, "E302", f"`schema_from` of `{ds.name}` forms a cycle", at=("schema_from",))


def _reaches_cycle(data: ir.Data, start: str) -> bool:
    seen: set[str] = set()
    current: ir.Dataset | None = data.dataset(start)
    while current is not None:
        if current.name in seen:
            return True
        seen.add(current.name)
        current = data.dataset(current.schema_from) if current.schema_from else None
    return False


def data_columns(p: ir.Project, r: Report) -> None:
    """E301 a label or stratify column that no dataset declares."""
    if p.data is None:
        return
    label = p.data.label
    declared = [cols for name in datasets(p) if (cols := columns(p, name)) is not None]
    if label is not None and declared and not any(label in cols for cols in declared):
        r.unknown(p.data.span, label, all_columns(p), "column", at=("label",))
    split = p.data.split
    if split is not None and split.stratify is not None and all_columns(p):
        r.unknown(split.span, split.stratify, all_columns(p), "column", at=("stratify",))


def feature_views(p: ir.Project, r: Report) -> None:
    """E301 a view's unknown entity or source dataset, an entity's unknown join key column."""
    if p.features is None:
        return
    entities = {e.name for e in p.features.entities}
    for view in p.features.views:
        r.unknown(view.span, view.entity, entities, "entity", at=("entity",))
        r.unknown(view.span, view.source, datasets(p), "dataset", at=("source",))
    cols = all_columns(p)
    for entity in p.features.entities if cols else ():
        r.unknown(entity.span, entity.join_key, cols, "column", at=("join_key",))


def evals(p: ir.Project, r: Report) -> None:
    """E301 the eval datasets, regression metrics, slice columns and baseline environment."""
    e = p.evals
    if e is None:
        return
    if e.dataset is not None:
        r.unknown(e.span, e.dataset, datasets(p), "dataset", at=("dataset",))
    if e.suite is not None:
        r.unknown(e.suite.span, e.suite.dataset, datasets(p), "dataset", at=("dataset",))
    metrics = eval_metrics(p) | ({"score"} if e.suite else set())
    for metric, _ in e.max_regression:
        r.unknown(e.span, metric, metrics, "evaluation metric", at=("max_regression", metric))
    cols = all_columns(p)
    for i, column in enumerate(e.slices if cols else ()):
        r.unknown(e.span, column, cols, "column", at=("slices", i))
    if e.baseline is not None:
        r.unknown(e.span, e.baseline, environments(p) | {"none"}, "environment", at=("baseline",))


def sweep_objective(p: ir.Project, r: Report) -> None:
    """E301 a sweep objective that is not an evaluation metric (or its val_/train_ form)."""
    sweep = p.training.sweep if p.training else None
    if sweep is None:
        return
    reported = eval_metrics(p)
    allowed = reported | {f"val_{m}" for m in reported} | {f"train_{m}" for m in reported}
    r.unknown(sweep.span, sweep.metric, allowed, "metric", at=("objective", "metric"))


def approval(p: ir.Project, r: Report) -> None:
    """E301 an approval for an environment that is not deployed to."""
    approval = p.registry.approval
    for i, env in enumerate(approval.required_for if approval else ()):
        r.unknown(approval.span, env, environments(p), "environment", at=("required_for", i))


def drift(p: ir.Project, r: Report) -> None:
    """E301 an unknown reference dataset or column; E303 a drift check with no column to watch."""
    d = p.monitoring.drift if p.monitoring else None
    if d is None:
        return
    r.unknown(d.span, d.reference, datasets(p), "dataset", at=("reference",))
    cols = columns(p, d.reference)
    written = r.written(d.span, "features")
    if cols is not None and written:
        for i, feature in enumerate(d.features):
            r.unknown(d.span, feature, cols, "column", at=("features", i))
    elif cols is not None and not d.features:  # normalization's default: all but the label and unique ids
        r.error(d.span, "E303", f"drift has no columns to watch: `{d.reference}` has only the label and unique ids",
                "list the columns to watch in `features`")
    elif cols is None and d.reference in datasets(p) and not written:
        r.error(d.span, "E303", f"drift needs `features`: dataset `{d.reference}` declares no schema",
                "list the columns to watch, or add a schema to the reference dataset")


def llm(p: ir.Project, r: Report) -> None:
    """E301 the fine-tuning dataset and fallback routes; E304 a route defined twice or falling back to itself."""
    if p.llm is None:
        return
    if p.llm.fine_tune is not None:
        r.unknown(p.llm.fine_tune.span, p.llm.fine_tune.dataset, datasets(p), "dataset", at=("dataset",))
    gateway = p.llm.gateway
    if gateway is None:
        return
    seen: set[str] = set()
    for route in gateway.routes:
        if route.name in seen:
            r.error(route.span, "E304", f"route `{route.name}` is defined twice", at=("name",))
        seen.add(route.name)
    for source, fallbacks in gateway.fallbacks:
        r.unknown(gateway.span, source, seen, "route", at=("fallbacks", source))
        for i, target in enumerate(fallbacks):
            r.unknown(gateway.span, target, seen, "route", at=("fallbacks", source, i))
            if target == source:
                r.error(gateway.span, "E304", f"route `{source}` cannot fall back to itself", at=("fallbacks", source, i))


RULES = (schema_from, data_columns, feature_views, evals, sweep_objective, approval, drift, llm)
