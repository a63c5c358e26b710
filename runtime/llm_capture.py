"""The LiteLLM proxy's traffic captured for LLM monitoring: a LiteLLM callback (loaded by the proxy
from `litellm_settings.callbacks: [mlopsc.runtime.llm_capture.handler]`) that appends one JSON line
per answered or failed request (the spec's `monitoring.capture.sample` of them, by LiteLLM's call
id, given as `MLOPSC_CAPTURE_SAMPLE`) to the file named by `MLOPSC_LLM_CAPTURE`, normally
`.mlopsc/captures/<environment>/llm-gateway.jsonl` (the tabular captures in that directory have
other prefixes).

A line: {"time", "route", "api_base", "messages", "answer", "tool_calls", "cache_hit", "status",
"error"}. `llm_monitor` reads them back (and names the file: this module imports LiteLLM, which
only the proxy process should).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path
from typing import Any

from litellm.integrations.custom_logger import CustomLogger
from mlopsc.runtime.captures import SAMPLE_ENV, sampled
from mlopsc.runtime.llm_monitor import CAPTURE_ENV


def _message(response: Any) -> dict:
    data = response.model_dump() if hasattr(response, "model_dump") else dict(response or {})
    choices = data.get("choices") or [{}]
    return choices[0].get("message") or {}


def record(kwargs: dict, response: Any, status: str) -> dict:
    params = kwargs.get("litellm_params") or {}
    metadata = params.get("metadata") or {}
    out = {"time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
           "route": metadata.get("model_group") or kwargs.get("model"), "api_base": params.get("api_base"),
           "messages": kwargs.get("messages") or [], "cache_hit": bool(kwargs.get("cache_hit")), "status": status}
    if status == "ok":
        message = _message(response)
        out.update(answer=message.get("content"), tool_calls=message.get("tool_calls") or [])
    else:
        out["error"] = str(kwargs.get("exception") or response)[:500]
    return out


class Capture(CustomLogger):
    def write(self, line: dict, call_id: str | None = None) -> None:
        path = os.environ.get(CAPTURE_ENV)
        if not path or not sampled(call_id or uuid.uuid4().hex, float(os.environ.get(SAMPLE_ENV) or 1.0)):
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line, sort_keys=True, default=str) + "\n")

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):  # noqa: ANN001
        self.write(record(kwargs, response_obj, "ok"), kwargs.get("litellm_call_id"))

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):  # noqa: ANN001
        self.write(record(kwargs, response_obj, "error"), kwargs.get("litellm_call_id"))


handler = Capture()
