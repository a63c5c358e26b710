"""The monitor's `collect-feedback` step (action `feedback`): feedback rates per signal and, when
the spec collects `correction`, the corrected examples written into the training dataset.

Corrections join the captured requests by request id (`captures.read_window`, the one capture
reader): each captured instance of a corrected request becomes a training row, its features as
sent and the correction as the label. They replace dataset rows with the same unique key
(`unique: true` columns) and are applied once (`feedback/_applied.json` keeps the ids). A
dataset in object storage is not rewritten: the rows go to `feedback/corrections.parquet`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlopsc.runtime import feedback
from mlopsc.runtime.steps import StepContext, StepFailed, training_dataset, write_json

META_COLUMNS = ("prediction", "request_id", "timestamp", "instance", "shadow")


def collect(ctx: StepContext) -> dict:
    m = ctx.project.monitoring
    fb = m.feedback if m else None
    if fb is None:
        raise StepFailed("the spec declares no monitoring.feedback")
    env = ctx.args.get("environment", "production")
    folder = feedback.directory(ctx.root, env)
    records = feedback.read(folder)
    captured = captured_requests(ctx, env)
    requests = int(captured["request_id"].nunique()) if captured is not None and len(captured) else None
    report: dict[str, Any] = {"check": "feedback", "environment": env, "feedback": len(records),
                              "served_requests": requests, "signals": feedback.rates(records, requests),
                              "violated": False, "checks": []}
    if "correction" in fb.signals:
        report["corrections"] = feed_corrections(ctx, folder, records, captured)
    for signal, entry in report["signals"].items():
        share = f", {entry['rate']:.2%} of {requests} served requests" if "rate" in entry else ""
        ctx.log(f"feedback {signal}: {entry['count']} on {entry['requests']} prediction(s){share}")
    if not records:
        ctx.log(f"no feedback recorded for {env} yet ({folder})")
    if "report" in ctx.outputs:
        write_json(ctx.output("report"), report)
    return {"feedback": len(records)}


def captured_requests(ctx: StepContext, environment: str):
    """The captured requests (features, prediction, request_id, timestamp), or None without a
    capture reader or captures."""
    try:
        from mlopsc.runtime import captures
    except ImportError:
        return None
    loc = captures.location(ctx.project, ctx.target, environment, ctx.root)
    frame, _seen = captures.read_window(loc)
    return frame


def corrected_rows(records: list[dict], captured: Any, label: str) -> Any:
    """One training row per captured instance of a corrected request (the last correction wins)."""
    latest = {r["request_id"]: r["value"] for r in sorted(records, key=lambda r: r["timestamp"])
              if r["signal"] == "correction"}
    rows = captured[captured["request_id"].isin(list(latest))].copy()
    rows[label] = rows["request_id"].map(latest)
    return rows


def feed_corrections(ctx: StepContext, folder: Path, records: list[dict], captured: Any) -> dict:
    project = ctx.project
    label = project.data.label if project.data else None
    if not label:
        return {"fed": 0, "note": "the spec has no label column to correct"}
    if captured is None:
        return {"fed": 0, "note": "no captured requests to join the corrections to"}
    applied_path = folder / "_applied.json"
    applied = set(json.loads(applied_path.read_text())) if applied_path.exists() else set()
    rows = corrected_rows([r for r in records if r["request_id"] not in applied], captured, label)
    if rows.empty:
        return {"fed": 0}
    ds = project.data.dataset(training_dataset(project))
    where = merge_into_dataset(ctx, ds, rows.drop(columns=[c for c in META_COLUMNS if c in rows.columns]), folder)
    write_json(applied_path, sorted(applied | set(rows["request_id"])))
    ctx.log(f"fed {len(rows)} corrected example(s) into {where}: the next train run reads them")
    return {"fed": len(rows), "into": str(where)}


def merge_into_dataset(ctx: StepContext, ds: Any, rows: Any, folder: Path) -> Path:
    import pandas as pd

    if "://" in ds.uri:
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / "corrections.parquet"
        old = pd.read_parquet(out) if out.exists() else None
        pd.concat([old, rows], ignore_index=True).to_parquet(out, index=False)
        return out
    path = Path(ds.uri) if Path(ds.uri).is_absolute() else ctx.spec_dir / ds.uri
    current = read_table(path, ds.format)
    rows = rows.reindex(columns=current.columns).astype(current.dtypes.to_dict(), errors="ignore")
    unique = [c.name for c in ds.columns if getattr(c, "unique", False) and c.name in rows.columns]
    if unique:
        keys = rows[unique].drop_duplicates(keep="last")
        current = current.merge(keys, on=unique, how="left", indicator=True)
        current = current[current["_merge"] == "left_only"].drop(columns="_merge")
        rows = rows.drop_duplicates(subset=unique, keep="last")
    write_table(pd.concat([current, rows], ignore_index=True), path, ds.format)
    return path


def read_table(path: Path, fmt: str):
    import pandas as pd

    return pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)


def write_table(df: Any, path: Path, fmt: str) -> None:
    """Written beside, then renamed: a train run never reads half a file."""
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "csv":
        df.to_csv(tmp, index=False)
    else:
        df.to_parquet(tmp, index=False)
    tmp.replace(path)
