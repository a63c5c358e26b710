"""The captured-traffic formats of every serving path, each parsed into the same `Exchange`
(one request and its answer). `runtime.captures` lists files and turns exchanges into rows.

| format | one line of a file | request id |
|---|---|---|
| `local` (our servers, the KServe collector's own requests) | `{"id", "time", "instances", "predictions", ...}` | `id` |
| `kserve` (the collector's file of KServe logger CloudEvents) | `{"ce_id", "ce_type", "ce_time", "data"}`, request and response apart | `ce_id` |
| `sagemaker` (DataCapture JSONL) | `{"captureData": {"endpointInput", "endpointOutput"}, "eventMetadata"}` | `inferenceId`, else `eventId` |
| `vertex` (request-response logging rows exported from BigQuery as JSON) | `{"request_id", "logging_time", "request_payload", "response_payload"}` | `request_id` |

Everything in docs/captures.md.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

KSERVE_REQUEST = "org.kubeflow.serving.inference.request"
KSERVE_RESPONSE = "org.kubeflow.serving.inference.response"
FORMATS = ("local", "kserve", "sagemaker", "vertex")
LOCAL = FORMATS[0]  # our own servers' format (a format's name, not the local target)


class CaptureFormatError(ValueError):
    """A line that is no captured exchange of any known format."""


@dataclass
class Exchange:
    """One captured request and its answer (predictions may be missing: a request logged alone)."""

    request_id: str
    time: str  # ISO 8601, UTC
    instances: list = field(default_factory=list)
    predictions: list | None = None
    shadow: bool = False  # a copy mirrored to a shadow model: not live traffic


def detect(record: dict) -> str:
    """Which format a parsed line is in."""
    if "captureData" in record:
        return "sagemaker"
    if "ce_type" in record or "ce_id" in record:
        return "kserve"
    if "request_payload" in record or "logging_time" in record:
        return "vertex"
    if "instances" in record and "id" in record:
        return "local"
    raise CaptureFormatError(f"not a captured exchange: keys {sorted(record)[:8]}")


def parse_local(record: dict) -> Exchange:
    return Exchange(str(record["id"]), str(record["time"]), list(record.get("instances") or []),
                    record.get("predictions"), bool(record.get("shadow")))


def parse_sagemaker(record: dict) -> Exchange:
    """DataCapture: `captureData.endpointInput/endpointOutput` each with `data` and its `encoding`
    (JSON, BASE64 or CSV) and `observedContentType`; `eventMetadata` with the ids and time."""
    cap, meta = record["captureData"], record.get("eventMetadata") or {}
    request = _sagemaker_payload(cap.get("endpointInput"))
    response = _sagemaker_payload(cap.get("endpointOutput"))
    rid = meta.get("inferenceId") or meta.get("eventId") or ""
    return Exchange(str(rid), str(meta.get("inferenceTime", "")), instances_of(request),
                    None if response is None else predictions_of(response))


def _sagemaker_payload(part: dict | None) -> Any:
    if not part or part.get("data") is None:
        return None
    data, encoding = part["data"], str(part.get("encoding", "JSON")).upper()
    if encoding == "BASE64":
        data = base64.b64decode(data).decode("utf-8")
    content = str(part.get("observedContentType", "application/json"))
    if encoding == "CSV" or "csv" in content:
        return [[_number(v) for v in row] for row in csv.reader(io.StringIO(data)) if row]
    return json.loads(data) if isinstance(data, str) else data


def parse_vertex(record: dict) -> Exchange:
    """A row of the endpoint's `request_response_logging` table: `request_payload` and
    `response_payload` are REPEATED STRING columns of JSON (a whole request or one instance)."""
    request = [_json(p) for p in _repeated(record.get("request_payload"))]
    response = [_json(p) for p in _repeated(record.get("response_payload"))]
    instances = [i for r in request for i in instances_of(r)]
    predictions = [p for r in response for p in predictions_of(r)] if response else None
    return Exchange(str(record.get("request_id", "")), _vertex_time(record.get("logging_time")), instances,
                    predictions)


def _repeated(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _vertex_time(value: Any) -> str:
    """BigQuery exports TIMESTAMP as `2026-11-30 22:01:02.123 UTC` (JSON) or ISO text."""
    text = str(value or "")
    if text.endswith(" UTC"):
        text = text[:-4].replace(" ", "T") + "+00:00"
    return text


def kserve_event(record: dict) -> tuple[str, str, str, Any]:
    """(id, 'request' | 'response', time, payload) of one stored KServe logger CloudEvent."""
    kind = str(record.get("ce_type", ""))
    which = "response" if kind == KSERVE_RESPONSE or kind.endswith(".response") else "request"
    return str(record["ce_id"]), which, str(record.get("ce_time") or record.get("time") or ""), record.get("data")


def pair_kserve(events: list[dict]) -> list[Exchange]:
    """Join the logger's request and response events on their CloudEvents id."""
    requests: dict[str, tuple[str, Any]] = {}
    responses: dict[str, Any] = {}
    for e in events:
        rid, which, time, payload = kserve_event(e)
        if which == "request":
            requests[rid] = (time, payload)
        else:
            responses[rid] = payload
    out = []
    for rid, (time, payload) in requests.items():
        answer = responses.get(rid)
        out.append(Exchange(rid, time, instances_of(payload), None if answer is None else predictions_of(answer)))
    return out


def instances_of(payload: Any) -> list:
    """Instances of a request body: V1 `{"instances": [...]}`, V2 `{"inputs": [...]}` (one
    tensor per feature, named), SageMaker's bare list or CSV rows, or one instance."""
    if payload is None:
        return []
    if isinstance(payload, dict):
        if isinstance(payload.get("instances"), list):
            return payload["instances"]
        if isinstance(payload.get("inputs"), list):
            return _v2_rows(payload["inputs"])
        return [payload]
    return list(payload) if isinstance(payload, list) else [payload]


def predictions_of(payload: Any) -> list:
    if isinstance(payload, dict):
        if isinstance(payload.get("predictions"), list):
            return payload["predictions"]
        if isinstance(payload.get("outputs"), list) and payload["outputs"]:
            return list(payload["outputs"][0].get("data") or [])
        return [payload]
    return list(payload) if isinstance(payload, list) else [payload]


def _v2_rows(inputs: list) -> list[dict]:
    columns = {str(t.get("name")): list(t.get("data") or []) for t in inputs if isinstance(t, dict)}
    n = max((len(v) for v in columns.values()), default=0)
    return [{k: (v[i] if i < len(v) else None) for k, v in columns.items()} for i in range(n)]


def _json(text: Any) -> Any:
    if isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _number(text: str) -> Any:
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


PARSERS = {"local": parse_local, "sagemaker": parse_sagemaker, "vertex": parse_vertex}

__all__ = [
    "FORMATS",
    "KSERVE_REQUEST",
    "KSERVE_RESPONSE",
    "PARSERS",
    "CaptureFormatError",
    "Exchange",
    "detect",
    "instances_of",
    "kserve_event",
    "pair_kserve",
    "predictions_of",
]
