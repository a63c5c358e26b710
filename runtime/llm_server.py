"""An OpenAI-compatible server for a fine-tuned model (base + adapter, or full weights):
`GET /v1/models`, `POST /v1/chat/completions`, `POST /v1/completions`, `GET /health`, and the
tabular servers' `POST /predict` (`{"instances": [{"prompt": question}, ...]}`), so a local deploy
replays eval cases through the same router, canary and smoke test as a tabular model.

It is the local stand-in for vLLM's OpenAI server, so the LiteLLM proxy routes to it the same
way (`openai/<model id>` with an `api_base`). Answers are greedy (deterministic); the spec's
system prompt is put in front of chat messages, as the fine-tune trained. One request generates at a
time (a lock): the model is small and the machine has few cores.

    python -m mlopsc.runtime.llm_server --model-dir DIR --model-id NAME [--system-prompt FILE] [--port P]
    python -m mlopsc.runtime.localserve llm --model-uri models:/m/2 --name m --version 2 [--system-prompt F]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

from mlopsc.runtime.httpbase import HTTPService, JSONHandler
from mlopsc.runtime.llm_text import chat_prompt


class LlmServer(HTTPService):
    def __init__(self, llm: Any, model_id: str, system: str = "", host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.llm, self.model_id, self.system = llm, model_id, system
        self.version: str | None = None  # the registry version, when serving one
        self.lock = threading.Lock()
        self.handler_class = _Handler
        self.answered = 0  # completions generated (a cached or failed-over request adds none here)

    def complete(self, prompt: str, max_tokens: int | None) -> tuple[str, int, int]:
        """(answer, prompt tokens, completion tokens)."""
        with self.lock:
            answer = self.llm.generate(prompt, max_new_tokens=max(1, min(int(max_tokens or 48), 256)))
            self.answered += 1
            return answer, self.llm.tokens(prompt), self.llm.tokens(answer)


def _error(status: int, message: str, kind: str) -> tuple[int, dict]:
    return status, {"error": {"message": message, "type": kind, "code": status}}


class _Handler(JSONHandler):
    def do_GET(self) -> None:
        s = self.service
        if self.path.rstrip("/") in ("/health", ""):
            self.send_json(200, {"status": "ok", "model": s.model_id})
        elif self.path.rstrip("/") == "/v1/models":
            self.send_json(200, {"object": "list", "data": [
                {"id": s.model_id, "object": "model", "created": 0, "owned_by": "mlopsc"}]})
        else:
            self.send_json(*_error(404, f"no route {self.path}", "not_found"))

    def do_POST(self) -> None:
        path = self.path.rstrip("/")
        try:
            body = json.loads(self.read_body() or b"{}")
        except ValueError as e:
            self.send_json(*_error(400, f"the body is not JSON: {e}", "invalid_request_error"))
            return
        try:
            self.send_json(*self.answer(path, body))
        except Exception as e:  # noqa: BLE001 - the model's failure is the client's 500, not a dropped connection
            self.send_json(*_error(500, f"the model failed: {type(e).__name__}: {e}", "model_error"))

    def answer(self, path: str, body: dict) -> tuple[int, dict]:
        if path == "/predict":
            return _predict(self.service, body)
        if path not in ("/v1/chat/completions", "/v1/completions"):
            return _error(404, f"no route {self.path}", "not_found")
        if body.get("model") not in (None, self.service.model_id):
            return _error(404, f"model `{body.get('model')}` is not served here (only `{self.service.model_id}`)",
                          "model_not_found")
        return _chat(self.service, body) if path.endswith("chat/completions") else _text(self.service, body)


def _chat(s: LlmServer, body: dict) -> tuple[int, dict]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _error(400, "`messages` must be a non-empty list", "invalid_request_error")
    answer, n_in, n_out = s.complete(chat_prompt(s.system, messages), body.get("max_tokens"))
    return 200, {"id": f"chatcmpl-{time.time_ns()}", "object": "chat.completion", "created": int(time.time()),
                 "model": s.model_id, "choices": [{"index": 0, "finish_reason": "stop",
                                                   "message": {"role": "assistant", "content": answer}}],
                 "usage": _usage(n_in, n_out)}


PREDICT_TOKENS = 16  # replayed traffic measures errors and latency; short answers keep a canary quick


def _predict(s: LlmServer, body: dict) -> tuple[int, dict]:
    instances = body.get("instances") if isinstance(body, dict) else None
    if not isinstance(instances, list) or not all(isinstance(i, dict) and "prompt" in i for i in instances):
        return 400, {"error": 'expected {"instances": [{"prompt": ...}, ...]}'}
    answers = [s.complete(chat_prompt(s.system, [{"role": "user", "content": str(i["prompt"])}]), PREDICT_TOKENS)[0]
               for i in instances]
    return 200, {"predictions": answers, "model": s.model_id, **({"version": s.version} if s.version else {})}


def _text(s: LlmServer, body: dict) -> tuple[int, dict]:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str):
        return _error(400, "`prompt` must be a string", "invalid_request_error")
    answer, n_in, n_out = s.complete(prompt, body.get("max_tokens"))
    return 200, {"id": f"cmpl-{time.time_ns()}", "object": "text_completion", "created": int(time.time()),
                 "model": s.model_id, "choices": [{"index": 0, "text": answer, "finish_reason": "stop"}],
                 "usage": _usage(n_in, n_out)}


def _usage(n_in: int, n_out: int) -> dict:
    return {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}


def serve(service: LlmServer, ready: str | None) -> None:
    """Serve until SIGTERM or Ctrl-C; write the URL to `ready` (atomically) once listening."""
    import os
    import signal

    def terminate(*_a: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    service.start()
    if ready:
        Path(ready + ".tmp").write_text(service.url, encoding="utf-8")
        os.replace(ready + ".tmp", ready)
    service.serve_forever()


def main(argv: list[str] | None = None) -> None:
    from mlopsc.runtime.llm_model import CausalLM

    p = argparse.ArgumentParser(prog="python -m mlopsc.runtime.llm_server")
    p.add_argument("--model-dir", required=True)
    p.add_argument("--model-id", required=True)
    p.add_argument("--system-prompt", help="a file whose text goes before chat messages")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ready", help="write the URL to this file once serving")
    a = p.parse_args(argv)
    system = Path(a.system_prompt).read_text(encoding="utf-8").strip() if a.system_prompt else ""
    serve(LlmServer(CausalLM(a.model_dir), a.model_id, system, a.host, a.port), a.ready)


def serve_registered(argv: list[str]) -> None:
    """A registry version (`--model-uri models:/NAME/V`) served as `--name`: `localserve llm`."""
    import shutil
    import tempfile

    from mlopsc.runtime.llm_model import CausalLM, download_llm

    p = argparse.ArgumentParser(prog="python -m mlopsc.runtime.localserve llm")
    for flag in ("--model-uri", "--tracking-uri", "--name", "--version", "--system-prompt", "--ready"):
        p.add_argument(flag, required=flag in ("--model-uri", "--tracking-uri", "--name"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    a = p.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="mlopsc-llm-"))
    directory = download_llm(a.model_uri, a.tracking_uri, scratch)
    system = Path(a.system_prompt).read_text(encoding="utf-8").strip() if a.system_prompt else ""
    try:
        server = LlmServer(CausalLM(directory), a.name, system, a.host, a.port)
        server.version = a.version
        serve(server, a.ready)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
