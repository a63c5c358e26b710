"""The data actions: `validate` (read the datasets, check them against their schema), `features`
(apply the feature views) and `drift` (the current data against the reference)."""

from __future__ import annotations

import os

from mlopsc.runtime.steps import (
    StepContext,
    StepFailed,
    apply_views,
    read_frames,
    requested_version,
    step_storage,
    training_dataset,
    write_frames,
    write_json,
)


def validate(ctx: StepContext) -> dict:
    """Read each dataset in the version the run asks for (`version_<ds>`), check it, and record
    the version actually read (`versions.json`, what lineage and the registered model name)."""
    from mlopsc.runtime import datacheck

    data = ctx.project.data
    if data is None:
        raise StepFailed("the spec declares no data")
    storage = step_storage(ctx)
    frames, versions, reports = {}, {}, []
    for ds in data.datasets:
        resolved = storage.resolve_dataset(ds, ctx.spec_dir, requested_version(ctx, ds.name))
        df = storage.read_resolved(resolved, ds.format)
        report = datacheck.check_dataset(df, ds, data)
        reports.append(report)
        frames[ds.name] = df
        versions[ds.name] = resolved.version
        ctx.log(f"read {ds.name} from {resolved.uri} ({resolved.version})")
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
    """Apply the feature views: inline, or through Feast (`features.store: feast`)."""
    frames, versions = read_frames(ctx.input_path("data"))
    project = ctx.project
    if project.features and project.features.store == "feast" and project.features.views:
        out = feast_features(ctx, frames)
    else:
        out = apply_views(project, frames, ctx.spec_dir)
    write_frames(ctx.output("features"), out, versions)
    return {"datasets": sorted(out)}


def feast_features(ctx: StepContext, frames: dict) -> dict:
    """Write the target's feature repository, the views' offline files (the transforms run as a
    batch transformation), `apply`, the training rows from `get_historical_features`
    (point-in-time correct), and `materialize` to the online store. Datasets other than the
    training rows (e.g. a holdout) get the transforms inline, as the served model does."""
    from mlopsc.runtime import feast_store

    project = ctx.project
    name = training_dataset(project)
    path = feast_store.write_repo(project, ctx.target, feast_store.repo_path(ctx.root))
    offline = feast_store.write_offline(path, ctx.target, project, frames, ctx.spec_dir)
    store = feast_store.open_store(path)
    store.apply(feast_store.definitions(path))
    out = apply_views(project, frames, ctx.spec_dir, only={n for n in frames if n != name})
    out[name] = feast_store.historical(store, project, frames[name])
    feast_store.materialize(store, offline, project)
    ctx.log(f"feast: applied {len(project.features.views)} view(s) in {path}, "
            f"{len(out[name])} training rows from get_historical_features, online store materialized")
    return out


def drift(ctx: StepContext) -> dict:
    """The current data (a file, or the traffic captured since the last run: `live_data`)
    against the reference dataset; the window is committed once the report is written."""
    from mlopsc.runtime import drift as dr
    from mlopsc.runtime import live_data

    project, m = ctx.project, ctx.project.monitoring
    if m is None or m.drift is None or project.data is None:
        raise StepFailed("the spec declares no drift monitoring")
    ref_ds = project.data.dataset(m.drift.reference)
    if ref_ds is None:
        raise StepFailed(f"drift reference {m.drift.reference!r} is not a dataset")
    window = live_data.current(ctx)
    reference = step_storage(ctx).read_dataset(ref_ds, ctx.spec_dir, requested_version(ctx, ref_ds.name))
    columns = ref_ds.columns
    if not columns and ref_ds.schema_from:
        src = project.data.dataset(ref_ds.schema_from)
        columns = src.columns if src else ()
    report = dr.drift_for_spec(reference, window.frame, _watched(m.drift, columns, project.data.label), columns)
    report["source"] = window.source
    if window.location:
        report["window"] = {"since": window.since, "until": window.until}
    paths = _write_drift(ctx, report, dr.render_html)
    for f in report["features"]:
        stat = f["statistic"]
        shown = f"{stat:.4f}" if isinstance(stat, float) else str(stat)
        ctx.log(f"{'DRIFT' if f['drifted'] else 'ok   '} {f['feature']}: {f['method']} {shown} "
                f"(threshold {f['threshold']:g})")
    _publish_metrics(ctx, report)
    window.commit()
    return {"drifted": report["drifted"], "drifted_features": report["drifted_features"], **paths}


def _watched(d, columns, label):
    """The spec's drift features; without a list, every schema column but the label (captured
    traffic carries no label) and unique keys (every new id is a new category) — or every
    reference column when the schema names none."""
    from dataclasses import replace

    if d.features or not columns:
        return d
    return replace(d, features=tuple(c.name for c in columns if c.name != label and not c.unique))


def _write_drift(ctx: StepContext, report: dict, render_html) -> dict[str, str]:
    out = ctx.output("report")
    write_json(out, report)
    html_path = out.with_name(out.name + ".html")
    tmp = html_path.with_name(html_path.name + ".tmp")
    tmp.write_text(render_html(report), encoding="utf-8", newline="\n")
    os.replace(tmp, html_path)
    if "violated" in ctx.outputs:
        write_json(ctx.output("violated"), report["drifted"])
    return {"json": str(out), "html": str(html_path)}


def _publish_metrics(ctx: StepContext, report: dict) -> None:
    """Under SageMaker Model Monitor, the CloudWatch metrics the compiled drift alarms watch."""
    from mlopsc.runtime import model_monitor

    written = model_monitor.publish_drift_metrics(report)
    if written:
        ctx.log(f"wrote {written[1]} CloudWatch metric(s) to {written[0]}")
