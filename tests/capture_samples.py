"""The same exchanges written in each capture format, as each platform writes them:

- `local`: our model servers' JSONL (`runtime/captures.py`);
- `kserve`: the collector's JSONL of KServe logger CloudEvents (request and response events apart);
- `sagemaker`: DataCapture JSONL (`captureData.endpointInput/endpointOutput`, base64 and JSON
  encodings mixed, as the endpoint writes them by content type), under `<endpoint>/<variant>/yyyy/mm/dd/hh/`;
- `vertex`: rows of the request-response logging table exported from BigQuery as JSON lines.

`write_format(kind, rows, predictions, directory, start)` writes files under `directory` and
returns their paths relative to it; requests hold `batch` rows each and are one second apart
from `start` (UTC)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

FORMATS = ("local", "kserve", "sagemaker", "vertex")


def requests(rows: list[dict], predictions: list, batch: int, start: dt.datetime):
    for n, i in enumerate(range(0, len(rows), batch)):
        t = start + dt.timedelta(seconds=n)
        yield f"req-{start:%H%M%S}-{n:05d}", t, rows[i:i + batch], predictions[i:i + batch]


def _local(rid, t, inst, preds):
    return {"id": rid, "time": t.isoformat(), "model": "churn", "version": "1", "environment": "production",
            "instances": inst, "predictions": preds}


def _kserve(rid, t, inst, preds):
    stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [{"ce_id": rid, "ce_type": "org.kubeflow.serving.inference.request", "ce_time": stamp,
             "ce_source": "http://localhost:9081/", "data": {"instances": inst}},
            {"ce_id": rid, "ce_type": "org.kubeflow.serving.inference.response", "ce_time": stamp,
             "ce_source": "http://localhost:9081/", "data": {"predictions": preds}}]


def _sagemaker(rid, t, inst, preds, n):
    body = json.dumps({"instances": inst})
    data_in = ({"observedContentType": "application/json", "mode": "INPUT", "data": body, "encoding": "JSON"}
               if n % 2 else
               {"observedContentType": "application/json", "mode": "INPUT",
                "data": base64.b64encode(body.encode()).decode(), "encoding": "BASE64"})
    out = json.dumps({"predictions": preds})
    return {"captureData": {"endpointInput": data_in,
                            "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                               "data": base64.b64encode(out.encode()).decode(),
                                               "encoding": "BASE64"}},
            "eventMetadata": {"eventId": f"evt-{rid}", "inferenceId": rid,
                              "inferenceTime": t.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0"}


def _vertex(rid, t, inst, preds):
    return {"endpoint": "projects/p/locations/us-central1/endpoints/123", "deployed_model_id": "456",
            "logging_time": t.strftime("%Y-%m-%d %H:%M:%S.%f UTC"), "request_id": rid,
            "request_payload": [json.dumps(i) for i in inst], "response_payload": [json.dumps(p) for p in preds]}


def write_format(kind: str, rows: list[dict], predictions: list, directory: Path, start: dt.datetime,
                 batch: int = 50) -> list[str]:
    lines: list[str] = []
    for n, (rid, t, inst, preds) in enumerate(requests(rows, predictions, batch, start)):
        if kind == "local":
            lines.append(json.dumps(_local(rid, t, inst, preds)))
        elif kind == "kserve":
            lines += [json.dumps(e) for e in _kserve(rid, t, inst, preds)]
        elif kind == "sagemaker":
            lines.append(json.dumps(_sagemaker(rid, t, inst, preds, n)))
        else:
            lines.append(json.dumps(_vertex(rid, t, inst, preds)))
    if kind == "local":
        rel = f"{start:%Y%m%dT%H}-host-1.jsonl"
    elif kind == "sagemaker":
        rel = f"churn-production/AllTraffic/{start:%Y/%m/%d/%H}/{start:%M-%S}-000-capture.jsonl"
    elif kind == "kserve":
        rel = f"{start:%Y/%m/%d/%H}/{start:%M%S}-collector.jsonl"
    else:
        rel = f"export-{start:%Y%m%dT%H%M%S}-000000000000.json"
    path = directory / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [rel]
