"""The KServe logger's receiver: `mlopsc capture-collector --out URI` (hidden command).

An InferenceService with `predictor.logger {mode: all, url: <this service>}` POSTs every request
and response to it as a CloudEvent in binary mode: the payload is the body, the attributes are
headers (`ce-id`, `ce-type` `org.kubeflow.serving.inference.request` / `.response`, `ce-time`,
`ce-source`, `ce-inferenceservicename`, ...). The collector answers 200 at once and appends each
event (the `--sample` share of them, by `ce-id`, which a request and its response share) as one JSON line (`{"ce_id", "ce_type", "ce_time", "ce_source", "data"}`, the `kserve`
format of `capture_formats`) to a buffer it writes to object storage every `flush_seconds` or
`flush_events`, and on SIGTERM: `<out>/<yyyy>/<mm>/<dd>/<hh>/<HHMMSS>-<host>-<pid>-<n>.jsonl`,
so the monitor's reader can skip the hours before its window.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

from mlopsc.runtime.captures import sampled
from mlopsc.runtime.httpbase import HTTPService, JSONHandler

ATTRIBUTES = ("ce-id", "ce-type", "ce-time", "ce-source", "ce-inferenceservicename", "ce-namespace",
              "ce-component", "ce-endpoint")


class _Handler(JSONHandler):
    def do_GET(self) -> None:
        self.send_json(200 if self.path.split("?")[0] in ("/health", "/") else 404,
                       {"status": "ok", "buffered": self.service.buffered})

    def do_POST(self) -> None:
        body = self.read_body_or_refuse()
        if body is None:
            return
        if not self.headers.get("ce-id"):
            self.send_json(400, {"error": "not a CloudEvent: no ce-id header"})
            return
        self.service.add(self.headers, body)
        self.send_json(200, {"status": "stored"})


def event_line(headers: Any, body: bytes) -> str:
    """One stored event: its CloudEvents attributes (as `ce_*` keys) and the payload."""
    record: dict[str, Any] = {k.replace("-", "_"): headers.get(k) for k in ATTRIBUTES if headers.get(k)}
    record.setdefault("ce_time", dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"))
    try:
        record["data"] = json.loads(body or b"null")
    except ValueError:
        record["data"] = body.decode("utf-8", "replace")
    return json.dumps(record, sort_keys=True) + "\n"


class Collector(HTTPService):
    """Buffer events and write them to `out` (local path, `s3://`, `gs://`) in batches."""

    handler_class = _Handler

    def __init__(self, out: str, *, host: str = "0.0.0.0", port: int = 8080, flush_seconds: float = 10.0,
                 flush_events: int = 500, sample: float = 1.0):
        super().__init__(host, port)
        self.out = out.rstrip("/")
        self.sample = sample  # the spec's monitoring.capture.sample, by event id
        self.flush_seconds, self.flush_events = flush_seconds, flush_events
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._written = 0
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._flush_periodically, daemon=True)

    @property
    def buffered(self) -> int:
        with self._lock:
            return len(self._lines)

    def start(self):
        super().start()
        if not self._timer.is_alive() and not self._stop.is_set():
            self._timer.start()
        return self

    def add(self, headers: Any, body: bytes) -> None:
        """Buffer one event, unless its id falls outside the sample (a request and its response
        share the id, so both are kept or both dropped)."""
        if not sampled(headers.get("ce-id") or "", self.sample):
            return
        with self._lock:
            self._lines.append(event_line(headers, body))
            full = len(self._lines) >= self.flush_events
        if full:
            self.flush()

    def flush(self) -> str | None:
        """Write the buffered events as one object; return its URI (None when empty)."""
        with self._lock:
            lines, self._lines = self._lines, []
            self._written += 1
            n = self._written
        if not lines:
            return None
        now = dt.datetime.now(dt.UTC)
        uri = f"{self.out}/{now:%Y/%m/%d/%H}/{now:%H%M%S}-{socket.gethostname()}-{os.getpid()}-{n}.jsonl"
        _write(uri, "".join(lines).encode())
        return uri

    def _flush_periodically(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def stop(self) -> None:
        self._stop.set()
        super().stop()
        self.flush()


def _write(uri: str, data: bytes) -> None:
    from mlopsc.runtime import storage

    if storage.is_remote(uri):
        fs, path = storage.filesystem(uri)
    else:
        import fsspec

        fs, path = fsspec.filesystem("file"), str(storage.local_path(uri, Path(".")))
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "wb") as f:
        f.write(data)


def serve(out: str, port: int, flush_seconds: float, flush_events: int, sample: float = 1.0) -> None:
    """Run until SIGTERM or Ctrl-C, then write what is buffered."""
    collector = Collector(out, port=port, flush_seconds=flush_seconds, flush_events=flush_events, sample=sample)

    def terminate(*_a: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    collector.start()
    print(f"collecting KServe logger events at {collector.url} into {collector.out}", flush=True)
    collector.serve_forever()  # stops (and writes the buffer) on KeyboardInterrupt


__all__ = ["Collector", "event_line", "serve"]
