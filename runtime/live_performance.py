"""Performance on live traffic: delayed labels joined to the captured predictions by request id.

`monitoring.performance.labels` names a file or a directory / prefix (local, `s3://`, `gs://`) of
label files (parquet, csv, jsonl, json), each row a `request_id` and the spec's label column; an
optional `instance` column says which instance of a multi-instance request the label is for
(default 0). The predictions come from every capture at the monitored environment's location
(`captures.location`): labels arrive after the predictions' window has been checked for drift,
so this check reads the captured predictions whatever their age.
"""

from __future__ import annotations

import io
from pathlib import Path

from mlopsc.runtime import captures
from mlopsc.runtime.steps import StepContext, StepFailed

LABEL_SUFFIXES = (".parquet", ".csv", ".jsonl", ".json")


def read_labels(ctx: StepContext, uri: str):
    """Every label file at `uri` (a file, a directory or a prefix), concatenated."""
    import pandas as pd
    from mlopsc.runtime import datafiles, storage

    loc = uri if storage.is_remote(uri) else str(storage.local_path(uri, ctx.spec_dir))
    fs, root = (storage.filesystem(loc) if storage.is_remote(loc) else _local_fs(loc))
    if not fs.exists(root):
        raise StepFailed(f"no labels at {uri}: performance needs fresh labels")
    files = sorted(p for p in (fs.find(root) if fs.isdir(root) else [root]) if p.endswith(LABEL_SUFFIXES))
    if not files:
        raise StepFailed(f"no label files (parquet, csv, jsonl, json) at {uri}")
    frames = []
    for path in files:
        with fs.open(path, "rb") as f:
            data = io.BytesIO(f.read())
        frames.append(_read_one(datafiles, data, Path(path).suffix.lstrip(".")))
    return pd.concat(frames, ignore_index=True)


def _local_fs(loc: str):
    import fsspec

    return fsspec.filesystem("file"), loc


def _read_one(datafiles, data, fmt: str):
    import pandas as pd

    if fmt == "parquet":
        return pd.read_parquet(data)
    if fmt == "csv":
        return pd.read_csv(data, dtype={"request_id": str})
    return pd.read_json(data, lines=fmt == "jsonl", orient="records", dtype={"request_id": str})


def joined_predictions(ctx: StepContext, labels, label: str):
    """The captured predictions that have a label: columns `prediction` and the label."""
    env = ctx.args.get("captures") or captures.monitored_environment(ctx.project)
    if not env:
        raise StepFailed("labels with request ids need captured predictions: the spec deploys no environment")
    loc = captures.location(ctx.project, ctx.target, env, ctx.root)
    if ctx.inputs.get("captured"):
        loc = str(ctx.input_path("captured"))
    frame, _ = captures.read_window(loc)
    frame["instance"] = frame.groupby("request_id").cumcount()
    labels = labels.copy()
    labels["request_id"] = labels["request_id"].astype(str)
    if "instance" not in labels.columns:
        labels["instance"] = 0
    joined = frame[["request_id", "instance", "prediction"]].merge(
        labels[["request_id", "instance", label]], on=["request_id", "instance"], how="inner")
    ctx.log(f"joined {len(joined)} of {len(labels)} labels to captured predictions at {loc}")
    return joined


def joined_metrics(ctx: StepContext, labels, label: str) -> tuple[dict, int]:
    """Classification metrics of the joined predictions (probabilities or classes)."""
    import numpy as np
    from mlopsc.runtime.metrics import classification_metrics

    joined = joined_predictions(ctx, labels, label)
    if joined.empty:
        raise StepFailed("no label matches a captured prediction by request id: nothing to measure")
    scores = np.asarray([_score(p) for p in joined["prediction"]], dtype=np.float64)
    truth = joined[label].astype(bool).to_numpy()
    return classification_metrics(truth, scores), len(joined)


def _score(prediction) -> float:
    """A prediction as the positive class's score: a number, a bool, or {probability|score: x}."""
    if isinstance(prediction, dict):
        for key in ("probability", "score", "prediction"):
            if key in prediction:
                return _score(prediction[key])
    if isinstance(prediction, (list, tuple)) and prediction:
        return float(prediction[-1])
    return float(prediction) if prediction is not None else float("nan")


__all__ = ["joined_metrics", "joined_predictions", "read_labels"]
