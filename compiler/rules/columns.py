"""What the reference rules ask of the IR: dataset, column, environment and metric names."""

from __future__ import annotations

from .. import ir


def datasets(p: ir.Project) -> set[str]:
    return {d.name for d in p.data.datasets} if p.data else set()


def columns(p: ir.Project, dataset: str) -> set[str] | None:
    """The dataset's columns (its own or through schema_from); None when it declares none."""
    found = p.data.dataset(dataset) if p.data else None
    names = {c.name for c in found.columns} if found else set()
    return names or None


def all_columns(p: ir.Project) -> set[str]:
    """Every declared column and every feature-view feature: what a column reference may name."""
    cols: set[str] = set()
    for name in datasets(p):
        cols |= columns(p, name) or set()
    for view in p.features.views if p.features else ():
        cols |= {f for f, _ in view.features}
    return cols


def environments(p: ir.Project) -> set[str]:
    return {e.name for e in p.deployment.environments} if p.deployment else set()


def eval_metrics(p: ir.Project) -> set[str]:
    return {t.metric for t in p.evals.thresholds} if p.evals else set()
