"""`features.store: feast` at run time, through the Feast SDK.

The features step writes the target's feature repository (the same text `mlopsc compile` emits,
from `mlopsc.targets.feast_repo`) under `.mlopsc/feast/`, runs each view's transform over its
source (a batch transformation) into the view's offline file, `apply`s the definitions, builds
the training rows with `get_historical_features` (each row gets every feature as of its own
event time: point-in-time correct) and materializes the online store. Model servers started by
`localserve` wrap their model in `OnlineFeatures`, which looks features up with
`get_online_features` by entity key, so a request may carry only the entity id.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from mlopsc import ir
from mlopsc.targets import feast_repo

EPOCH = "1970-01-01T00:00:00Z"  # the event time of rows of a view without a `timestamp` column
ROW = "__mlopsc_row"  # carries the training rows' order through the point-in-time join
REPO_ENV = "MLOPSC_FEAST_REPO"


def repo_path(root: Path) -> Path:
    return root / ".mlopsc" / "feast"


def write_repo(project: ir.Project, target: str, path: Path) -> Path:
    """The compiled feature repository of `target`, written under `path`; returns the repo dir."""
    for f in feast_repo.files(target, project):
        out = path / Path(f.path).relative_to(feast_repo.REPO_DIR)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f.content, encoding="utf-8", newline="\n")
    (path / "data").mkdir(exist_ok=True)
    return path


def open_store(path: Path) -> Any:
    from feast import FeatureStore

    return FeatureStore(repo_path=str(path))


def definitions(path: Path) -> list[Any]:
    """The Entity and FeatureView objects `features.py` defines (what `feast apply` collects)."""
    from feast import Entity, FeatureView

    name = f"mlopsc_feast_definitions_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path / "features.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    found = [v for v in vars(module).values() if isinstance(v, (Entity, FeatureView))]
    return sorted(found, key=lambda o: (type(o).__name__, o.name))


def event_times(df: Any, view: ir.FeatureView) -> Any:
    import pandas as pd

    if view.timestamp and view.timestamp in df.columns:
        return pd.to_datetime(df[view.timestamp], utc=True)
    return pd.Series(pd.Timestamp(EPOCH), index=df.index)


def offline_frame(project: ir.Project, view: ir.FeatureView, source: Any, spec_dir: Path) -> Any:
    """The view's rows as Feast stores them: join key, event time and every feature it serves."""
    from mlopsc.runtime.steps import load_callable

    df = load_callable(view.transform, spec_dir)(source) if view.transform else source.copy()
    columns = [c for c, _ in feast_repo.view_columns(project, view) if c in df.columns]
    out = df[[view.join_key, *columns]].copy()
    out[view.timestamp or feast_repo.EVENT_TIMESTAMP] = event_times(df, view)
    return out.reset_index(drop=True)


def write_offline(path: Path, target: str, project: ir.Project, frames: dict, spec_dir: Path) -> dict[str, Any]:
    """Each view's offline file, where its FileSource points (a relative path is under the repo)."""
    data_root, _ = feast_repo.store_yaml(target, project)
    written = {}
    for view in project.features.views:
        df = offline_frame(project, view, frames[view.source], spec_dir)
        where = feast_repo.offline_path(data_root, view)
        if not where.startswith(("s3://", "gs://")):
            where = str(path / where)
            Path(where).parent.mkdir(parents=True, exist_ok=True)
        df.to_parquet(where, index=False)
        written[view.name] = df
    return written


def entity_frame(project: ir.Project, df: Any) -> Any:
    """The training rows for the point-in-time join: everything but the features Feast supplies,
    with an `event_timestamp` (the first view's event time, or the epoch without one)."""
    feats = project.features
    served = {c for v in feats.views for c, _ in feast_repo.view_columns(project, v)}
    # nor a column named like a view's timestamp field: Feast's file store would compare the
    # feature times against it after its merge (historical puts it back)
    served |= {v.timestamp for v in feats.views if v.timestamp}
    keep = [c for c in df.columns if c not in served]
    out = df[keep].copy()
    out[ROW] = range(len(out))
    out["event_timestamp"] = event_times(df, feats.views[0])
    return out


def historical(store: Any, project: ir.Project, df: Any) -> Any:
    """Training rows with each view's features as of the row's own time, in the rows' order."""
    refs = [f"{v.name}:{c}" for v in project.features.views for c, _ in feast_repo.view_columns(project, v)]
    entities = entity_frame(project, df)
    joined = store.get_historical_features(entity_df=entities, features=refs).to_df()
    joined = joined.sort_values(ROW).reset_index(drop=True)
    if list(joined[ROW]) != list(range(len(df))):
        raise RuntimeError(f"get_historical_features returned {len(joined)} rows for {len(df)} training rows")
    joined = joined.drop(columns=[c for c in joined.columns if c.endswith("__")])  # the feature-side times
    for view in project.features.views:
        if view.timestamp and view.timestamp in df.columns:
            joined[view.timestamp] = df[view.timestamp].to_numpy()
    drop = [ROW] + (["event_timestamp"] if "event_timestamp" not in df.columns else [])
    ordered = [c for c in df.columns if c in joined.columns] + [c for c in joined.columns if c not in df.columns]
    return joined[ordered].drop(columns=drop)


def materialize(store: Any, offline: dict[str, Any], project: ir.Project) -> None:
    """Load the newest value of every entity into the online store."""
    import pandas as pd

    times = [df[v.timestamp or feast_repo.EVENT_TIMESTAMP] for v in project.features.views
             for df in [offline[v.name]]]
    start = min(t.min() for t in times) - pd.Timedelta(seconds=1)
    end = max(t.max() for t in times) + pd.Timedelta(seconds=1)
    store.materialize(start_date=start.to_pydatetime(), end_date=end.to_pydatetime())


class OnlineFeatures:
    """A model behind an online-feature lookup: columns a request lacks come from the store."""

    def __init__(self, model: Any, path: Path):
        self.model = model
        self.store = open_store(path)
        self.views = [(v.name, [e.name for e in v.entity_columns], [f.name for f in v.features])
                      for v in self.store.list_feature_views()]

    def lookup(self, df: Any) -> Any:
        out = df.copy()
        for name, keys, features in self.views:
            missing = [f for f in features if f not in out.columns]
            if not missing or not set(keys) <= set(out.columns):
                continue
            rows = out[keys].to_dict(orient="records")
            found = self.store.get_online_features(features=[f"{name}:{f}" for f in missing],
                                                   entity_rows=rows).to_df()
            for f in missing:
                out[f] = found[f].to_numpy()
        return out

    def predict(self, df: Any, params: Any = None) -> Any:
        return self.model.predict(self.lookup(df))
