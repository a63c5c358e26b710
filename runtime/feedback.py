"""User feedback on served predictions (`monitoring.feedback`): collected by the model server,
stored beside the captures, reported by the monitor, corrections fed into the training data.

`POST /feedback` on a model server whose spec declares `monitoring.feedback` takes
`{"request_id": ..., "signal": ..., "value": ...}` (the id is the `X-Request-Id` of the answer
the feedback is about) and appends one JSON line to
`.mlopsc/captures/<environment>/feedback/<host>-<pid>-<hour>.jsonl`:
`{"request_id", "signal", "value", "timestamp", "model", "version"}` (docs/feedback.md).
Signals and their values: `thumbs` (`up`/`down`, or true/false), `rating` (a number),
`correction` (the right answer, the label's value), `regenerate` (no value). A signal the spec
does not declare, or a malformed body, is a 400; a server without feedback answers 404.

The monitor's `collect-feedback` step (`report`) counts each signal per served request and,
when the spec collects `correction`, writes the corrected examples (the captured request's
features, the correction as the label) into the training dataset, replacing rows with the same
unique key: the next train run reads them as a new data version.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
from pathlib import Path
from typing import Any

from mlopsc import ir

SIGNALS = ("thumbs", "correction", "regenerate", "rating")
DIR_ENV, SIGNALS_ENV = "MLOPSC_FEEDBACK_DIR", "MLOPSC_FEEDBACK_SIGNALS"


def directory(root: Path, environment: str) -> Path:
    return root / ".mlopsc" / "captures" / environment / "feedback"


def server_env(project: ir.Project, root: Path, environment: str) -> dict[str, str]:
    """What a model server for `environment` needs to accept feedback (nothing without it)."""
    fb = project.monitoring.feedback if project.monitoring else None
    if fb is None:
        return {}
    return {DIR_ENV: str(directory(root, environment).resolve()), SIGNALS_ENV: ",".join(fb.signals or SIGNALS)}


class InvalidFeedback(ValueError):
    pass


def parse(body: Any, signals: tuple[str, ...]) -> dict:
    """The stored record for a `/feedback` body, or InvalidFeedback saying what is wrong."""
    if not isinstance(body, dict):
        raise InvalidFeedback('expected a JSON object {"request_id": ..., "signal": ..., "value": ...}')
    rid, signal = body.get("request_id"), body.get("signal")
    if not isinstance(rid, str) or not rid.strip():
        raise InvalidFeedback("request_id: the X-Request-Id of the prediction the feedback is about")
    if signal not in signals:
        raise InvalidFeedback(f"signal {signal!r} is not collected here; one of: {', '.join(signals)}")
    value = body.get("value", body.get("correction"))
    if signal == "thumbs":
        if value not in ("up", "down", True, False):
            raise InvalidFeedback("thumbs: value is up or down (or true/false)")
        value = "up" if value in ("up", True) else "down"
    elif signal == "rating" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise InvalidFeedback("rating: value is a number")
    elif signal == "correction" and value is None:
        raise InvalidFeedback("correction: value is the right answer")
    return {"request_id": rid.strip(), "signal": signal, "value": value,
            "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")}


class FeedbackLog:
    """Append-only JSONL, one file per server process and hour."""

    def __init__(self, folder: Path, signals: tuple[str, ...]):
        self.folder, self.signals = Path(folder), signals
        self.lock = threading.Lock()

    @classmethod
    def from_env(cls) -> FeedbackLog | None:
        folder = os.environ.get(DIR_ENV)
        if not folder:
            return None
        return cls(Path(folder), tuple(s for s in os.environ.get(SIGNALS_ENV, ",".join(SIGNALS)).split(",") if s))

    @classmethod
    def for_server(cls, project: ir.Project, root: Path, environment: str) -> FeedbackLog | None:
        env = server_env(project, root, environment)
        return cls(Path(env[DIR_ENV]), tuple(env[SIGNALS_ENV].split(","))) if env else None

    def append(self, record: dict) -> None:
        hour = record["timestamp"][:13].replace("-", "").replace("T", "")
        path = self.folder / f"{socket.gethostname()}-{os.getpid()}-{hour}.jsonl"
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        with self.lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as out:
                out.write(line)


def handle_post(handler: Any, svc: Any) -> int:
    """`POST /feedback` on a model server (`serving`): its `feedback` log, else one from the
    environment its process was started with (`server_env`)."""
    if not hasattr(svc, "feedback"):
        svc.feedback = FeedbackLog.from_env()
    log = svc.feedback
    try:
        body = json.loads(handler.read_body() or b"null")
    except ValueError:
        body = None
    if log is None:
        handler.send_json(404, {"error": "this server collects no feedback (the spec declares no "
                                         "monitoring.feedback)"})
        return 404
    try:
        record = parse(body, log.signals)
    except InvalidFeedback as e:
        handler.send_json(400, {"error": str(e)})
        return 400
    log.append({**record, "model": svc.name, "version": svc.version})
    handler.send_json(202, {"accepted": True, "request_id": record["request_id"]})
    return 202


def read(folder: Path) -> list[dict]:
    records = []
    for path in sorted(Path(folder).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line))
    return records


def rates(records: list[dict], requests: int | None) -> dict:
    """Per signal: how many, on how many distinct predictions, and the share of served requests."""
    out: dict[str, Any] = {}
    for signal in sorted({r["signal"] for r in records}):
        mine = [r for r in records if r["signal"] == signal]
        ids = {r["request_id"] for r in mine}
        entry: dict[str, Any] = {"count": len(mine), "requests": len(ids)}
        if requests:
            entry["rate"] = round(len(ids) / requests, 6)
        if signal == "thumbs":
            entry["up_share"] = round(sum(r["value"] == "up" for r in mine) / len(mine), 6)
        if signal == "rating":
            entry["mean"] = round(sum(float(r["value"]) for r in mine) / len(mine), 6)
        out[signal] = entry
    return out
