"""Captured traffic: where each target stores it, the local servers' writer, and the one reader
that turns every format (`capture_formats`) into the same rows: the instance's features, then
`prediction`, `request_id`, `timestamp` (UTC).

    frame, seen = read_window(location, since=None)   # every exchange newer than `since`

Where captures live (`location`), per target, for the environment the monitor watches:

| target | location |
|---|---|
| local | `<workdir>/.mlopsc/captures/<environment>/` (one JSONL file per server process and hour) |
| sagemaker | the endpoint's DataCapture `DestinationS3Uri`: `<bucket>/<name>/data-capture/<environment>` |
| kubeflow | the logger collector's prefix (`targets/kubeflow/collector.py`): beside the reference dataset, or KFP's MinIO |
| vertex | `<pipeline_root>/captures/<name>/<environment>` (the logging table exported as JSON) |

`MLOPSC_CAPTURE_URI` overrides the cloud locations (e.g. another bucket for the collector).
The window since the last run is kept in `<location>/_mlopsc/<step>.json` (`{"until": time}`);
`feedback/` and `_mlopsc/` under a location are never read as captures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import socket
import threading
import uuid
from pathlib import Path
from typing import Any

from mlopsc import ir
from mlopsc.runtime import capture_formats as cf

STATE_DIR = "_mlopsc"
SKIPPED_DIRS = ("feedback", STATE_DIR)
SUFFIXES = (".jsonl", ".json", ".ndjson")
ROW_COLUMNS = ("prediction", "request_id", "timestamp")


# ---------------------------------------------------------------- where


def monitored_environment(project: ir.Project) -> str | None:
    """The environment the monitor watches: the rollout's last (production)."""
    dep = project.deployment
    return dep.environments[-1].name if dep and dep.environments else None


def location(project: ir.Project, target: str, environment: str, root: Path) -> str:
    """Where `target` stores the captured traffic of `environment` (see the module's table);
    a location given instead of an environment (a URI or an absolute path) is kept."""
    if "://" in environment or environment.startswith("/"):
        return environment
    from mlopsc.runtime.platforms import captures as per_platform

    return per_platform.location(project, target, environment, root)


# ---------------------------------------------------------------- writing (our model servers)


def request_id(given: str | None) -> str:
    """The client's `X-Request-Id` when it sent a usable one, else a new id."""
    if given and 0 < len(given) <= 200 and given.isprintable():
        return given
    return uuid.uuid4().hex


SAMPLE_ENV = "MLOPSC_CAPTURE_SAMPLE"  # the spec's monitoring.capture.sample, for servers started by the runtime


def spec_sample(project: Any) -> float:
    """The fraction of requests the spec asks to record (`monitoring.capture.sample`, default 1)."""
    monitoring = getattr(project, "monitoring", None)
    return monitoring.capture_sample if monitoring is not None else 1.0


def sample_env(project: Any) -> dict[str, str]:
    """What tells a server the runtime starts to record only the spec's share of requests."""
    rate = spec_sample(project)
    return {SAMPLE_ENV: repr(rate)} if rate < 1 else {}


def sampled(rid: str, rate: float) -> bool:
    """Deterministic by request id, so a router and its servers keep the same requests."""
    if rate >= 1:
        return True
    return int(hashlib.sha1(rid.encode()).hexdigest()[:8], 16) / 0x1_0000_0000 < rate


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class CaptureWriter:
    """Append one JSON line per answered request to `<dir>/<YYYYMMDDTHH>-<host>-<pid>.jsonl`."""

    def __init__(self, directory: str | os.PathLike, *, sample: float = 1.0, **fields: Any):
        self.directory = Path(directory)
        self.sample = float(sample)
        self.fields = {k: v for k, v in fields.items() if v is not None}
        self._lock = threading.Lock()
        self._hour: str | None = None
        self._file = None

    @classmethod
    def from_env(cls, **fields: Any) -> CaptureWriter | None:
        """The writer `MLOPSC_CAPTURE_DIR` / `MLOPSC_CAPTURE_SAMPLE` ask for (None: no capture)."""
        directory = os.environ.get("MLOPSC_CAPTURE_DIR")
        if not directory:
            return None
        return cls(directory, sample=float(os.environ.get(SAMPLE_ENV) or 1.0), **fields)

    def write(self, rid: str, instances: list, predictions: list, **extra: Any) -> bool:
        if not sampled(rid, self.sample):
            return False
        time = now_iso()
        line = json.dumps({"id": rid, "time": time, **self.fields, **extra, "instances": instances,
                           "predictions": predictions}, default=str) + "\n"
        hour = time[:13].replace("-", "")  # 20261130T22
        with self._lock:
            if hour != self._hour:
                self._open(hour)
            self._file.write(line)
            self._file.flush()
        return True

    def _open(self, hour: str) -> None:
        if self._file is not None:
            self._file.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{hour}-{socket.gethostname()}-{os.getpid()}.jsonl"
        self._file = open(self.directory / name, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        self._hour = hour

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


# ---------------------------------------------------------------- reading


def _filesystem(loc: str):
    from mlopsc.runtime import storage

    if "://" not in loc or loc.startswith("file://"):
        import fsspec

        return fsspec.filesystem("file"), str(storage.local_path(loc, Path(".")))
    return storage.filesystem(loc)


_HOUR_IN_PATH = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/(\d{2})/|(?:^|/)(\d{8})T(\d{2})[^/]*$")


def _file_hour(path: str) -> str | None:
    """`YYYYMMDDHH` a file's name or path says its lines are from, when it says."""
    m = _HOUR_IN_PATH.search(path)
    if not m:
        return None
    return "".join(m.group(1, 2, 3, 4)) if m.group(1) else m.group(5) + m.group(6)


def list_files(loc: str, since: str | None = None) -> list[str]:
    """Capture files under `loc`, sorted; with `since`, files of earlier hours are skipped."""
    fs, root = _filesystem(loc)
    if not fs.exists(root):
        return []
    found = fs.find(root) if fs.isdir(root) else [root]
    first = re.sub(r"\D", "", since)[:10] if since else None
    out = []
    for path in found:
        rel = path[len(root):].lstrip("/") if path.startswith(root) else path
        if any(part in SKIPPED_DIRS for part in rel.split("/")[:-1]) or not path.endswith(SUFFIXES):
            continue
        hour = _file_hour(rel)
        if first and hour and hour < first:
            continue
        out.append(path)
    return sorted(out)


def read_exchanges(loc: str, since: str | None = None) -> list[cf.Exchange]:
    """Every exchange under `loc` (files of hours before `since` skipped), parsed line by line."""
    exchanges, _ = _read(loc, since, fast=False)
    return exchanges


def _read(loc: str, since: str | None, fast: bool) -> tuple[list[cf.Exchange], list]:
    """(exchanges parsed line by line, frames of local files parsed whole by `capture_arrow`)."""
    from mlopsc.runtime import capture_arrow

    fs, _root = _filesystem(loc)
    exchanges: list[cf.Exchange] = []
    kserve: list[dict] = []
    frames = []
    for path in list_files(loc, since):
        with fs.open(path, "rb") as f:
            data = f.read()
        rows = capture_arrow.local_rows(data) if fast and _first_kind(data) == cf.LOCAL else None
        if rows is not None:
            frames.append(rows)
            continue
        for n, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                kind = cf.detect(record)
                if kind == "kserve":
                    kserve.append(record)
                else:
                    exchanges.append(cf.PARSERS[kind](record))
            except (ValueError, KeyError, TypeError) as e:
                raise cf.CaptureFormatError(f"{path}:{n}: {e}") from None
    return exchanges + cf.pair_kserve(kserve), frames


def _first_kind(data: bytes) -> str | None:
    end = data.find(b"\n")
    line = data if end < 0 else data[:end]
    try:
        return cf.detect(json.loads(line))
    except (ValueError, cf.CaptureFormatError):
        return None


def to_frame(exchanges: list[cf.Exchange], columns: tuple[str, ...] = (), since: str | None = None,
             live_only: bool = True):
    """Rows of the exchanges newer than `since` (one per instance), features first; instances
    sent as lists take `columns` as their names. Returns (frame, newest time or None)."""
    import numpy as np
    import pandas as pd

    kept = [e for e in exchanges if not (live_only and e.shadow)]
    times = pd.to_datetime(pd.Series([e.time for e in kept], dtype="object"), utc=True, format="ISO8601")
    if since:
        mask = (times > pd.Timestamp(since)).to_numpy()
        kept = [e for e, keep in zip(kept, mask) if keep]
        times = times[mask]
    newest = times.max().isoformat() if len(times) else None
    instances, predictions, ids, counts = [], [], [], []
    for e in kept:
        n = len(e.instances)
        instances += e.instances
        preds = e.predictions if e.predictions is not None and len(e.predictions) == n else [None] * n
        predictions += preds
        ids += [e.request_id] * n
        counts.append(n)
    frame = _features(instances, columns)
    frame["prediction"] = pd.Series(predictions, index=frame.index, dtype="object") if predictions else []
    frame["request_id"] = ids
    # repeat datetime64 values, not Timestamp objects: a million objects cost seconds
    utc = np.repeat(times.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]"), counts)
    frame["timestamp"] = pd.Series(utc, index=frame.index, dtype="datetime64[ns]").dt.tz_localize("UTC")
    return frame, newest


def _features(instances: list, columns: tuple[str, ...]):
    import pandas as pd

    if instances and all(isinstance(i, dict) for i in instances):
        return pd.DataFrame.from_records(instances)
    rows = [i if isinstance(i, (list, tuple)) else [i] for i in instances]
    width = max((len(r) for r in rows), default=0)
    names = list(columns[:width]) + [str(i) for i in range(len(columns), width)]
    return pd.DataFrame.from_records(rows, columns=names) if rows else pd.DataFrame(columns=names)


def read_window(loc: str, since: str | None = None, columns: tuple[str, ...] = ()):
    """(rows newer than `since`, the newest exchange's time) of every capture under `loc`;
    copies mirrored to a shadow model are left out."""
    import pandas as pd

    exchanges, frames = _read(loc, since, fast=True)
    frame, newest = to_frame(exchanges, columns, since)
    if not frames:
        return frame, newest
    fast = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    keep = ~fast.pop("shadow").to_numpy()
    if since:
        keep &= (fast["timestamp"] > pd.Timestamp(since)).to_numpy()
    if not keep.all():  # each copy of a million rows costs: only when rows go
        fast = fast[keep]
    if len(fast):
        top = fast["timestamp"].max().isoformat()
        newest = max(newest, top) if newest else top
    if frame.empty:
        return (fast if keep.all() else fast.reset_index(drop=True)), newest
    return pd.concat([fast, frame], ignore_index=True), newest


# ---------------------------------------------------------------- the window since the last run


def _state_path(loc: str, step: str) -> str:
    return f"{loc.rstrip('/')}/{STATE_DIR}/{step}.json"


def last_until(loc: str, step: str) -> str | None:
    fs, _ = _filesystem(loc)
    path = _filesystem(_state_path(loc, step))[1]
    if not fs.exists(path):
        return None
    with fs.open(path, "rb") as f:
        return json.loads(f.read()).get("until")


def save_until(loc: str, step: str, until: str) -> None:
    fs, path = _filesystem(_state_path(loc, step))
    parent = path.rsplit("/", 1)[0]
    fs.makedirs(parent, exist_ok=True)
    with fs.open(path, "wb") as f:
        f.write((json.dumps({"until": until}) + "\n").encode())


__all__ = [
    "ROW_COLUMNS",
    "CaptureWriter",
    "last_until",
    "list_files",
    "location",
    "monitored_environment",
    "read_exchanges",
    "read_window",
    "request_id",
    "sampled",
    "save_until",
    "to_frame",
]
