"""The Must-show, driven through `mlopsc run --approve --serve` of the LLM example: the LoRA
fine-tune deployed, the real LiteLLM proxy started by the run from the compiled gateway config with
its Redis, a chat answered through it, a cache hit on the repeated prompt, the fallback route
answering once the primary route's server is stopped, LLM monitoring computed from the captured
gateway traffic, and every process the run started gone after Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
MLOPSC = Path(sys.executable).with_name("mlopsc")
SERVING = "serving; Ctrl-C stops the servers"


def _lines(proc: subprocess.Popen) -> queue.Queue:
    q: queue.Queue = queue.Queue()

    def read() -> None:
        for line in proc.stdout:
            q.put(line.rstrip("\n"))
        q.put(None)

    threading.Thread(target=read, daemon=True).start()
    return q


def _until_serving(proc: subprocess.Popen, q: queue.Queue, timeout: float) -> list[str]:
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = q.get(timeout=5)
        except queue.Empty:
            continue
        if line is None:
            pytest.fail(f"mlopsc run exited with {proc.wait()} before serving:\n" + "\n".join(seen[-60:]))
        seen.append(line)
        if line.strip() == SERVING:
            return seen
    pytest.fail("mlopsc run did not reach serving in time:\n" + "\n".join(seen[-60:]))


def _chat(gateway: dict, text: str) -> tuple[int, dict, dict]:
    from mlopsc.runtime.httpbase import Upstream

    body = json.dumps({"model": "default", "max_tokens": 8, "messages": [{"role": "user", "content": text}]})
    status, raw, headers = Upstream(timeout=120).request(
        "POST", gateway["url"] + "/v1/chat/completions", body.encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {gateway['master_key']}"})
    return status, json.loads(raw), {k.lower(): v for k, v in headers.items()}


def _alive(pid: int) -> bool:
    from mlopsc.runtime.localserve import alive

    return alive(pid)


def _wait_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid), f"process {pid} still runs"


@pytest.fixture
def served(support_example):
    workdir = support_example / "gateway-run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen([str(MLOPSC), "run", str(support_example / "support-local.yaml"), "--approve", "--serve",
                             "--workdir", str(workdir)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=support_example)
    try:
        out = _until_serving(proc, _lines(proc), 2400)
        yield proc, workdir, out
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_mlopsc_run_serves_the_adapter_through_the_litellm_gateway(served, support_example):
    proc, workdir, out = served
    text = "\n".join(out)
    assert "chat through the gateway" in text and "  HTTP 200 {" in text, text
    gateway = json.loads((workdir / ".mlopsc" / "gateway" / "gateway.json").read_text())
    production = json.loads((workdir / ".mlopsc" / "serving" / "production.json").read_text())
    assert gateway["routes"]["default"] == production["endpoint"]  # the primary route: the deploy's router
    champion = next(p for p in production["processes"] if p["role"] == "champion")
    started = [p["pid"] for p in production["processes"]] + gateway["pids"]
    assert len(gateway["pids"]) == 3  # the proxy, redis-server, the fallback route's replica

    status, first, headers = _chat(gateway, "Where is my invoice?")
    assert status == 200 and first["choices"][0]["message"]["content"], first
    assert headers["x-litellm-model-api-base"].startswith(production["endpoint"])
    assert "x-litellm-cache-key" not in headers
    status, again, headers = _chat(gateway, "Where is my invoice?")
    assert status == 200 and again["choices"][0]["message"]["content"] == first["choices"][0]["message"]["content"]
    assert "x-litellm-cache-key" in headers  # answered from the run's Redis

    os.kill(champion["pid"], signal.SIGTERM)  # the primary route's model server goes away
    _wait_gone(champion["pid"])
    status, other, headers = _chat(gateway, "How do I export my data?")
    assert status == 200, other
    assert headers["x-litellm-attempted-fallbacks"] == "1"
    assert headers["x-litellm-model-api-base"].startswith(gateway["routes"]["fallback"])

    answered = _captured(Path(gateway["capture"]), 4)
    assert [c["cache_hit"] for c in answered] == [False, False, True, False]  # the run's chat, then ours
    assert answered[-1]["api_base"].startswith(gateway["routes"]["fallback"])
    _monitor_reads_the_captures(support_example, workdir)

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 0
    for pid in started:
        _wait_gone(pid)
    assert not (workdir / ".mlopsc" / "gateway" / "gateway.json").exists()


def _captured(path: Path, count: int) -> list[dict]:
    """The answered requests the proxy's callback wrote (it writes after answering: wait for them)."""
    deadline = time.monotonic() + 30
    while True:
        lines = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
        answered = [c for c in lines if c["status"] == "ok"]
        if len(answered) >= count or time.monotonic() > deadline:
            return answered
        time.sleep(0.5)


def _monitor_reads_the_captures(root: Path, workdir: Path) -> None:
    """`monitoring.llm` from the captured traffic: the three questions are eval cases, rated with
    the suite's scorers; nothing refused; no tool calls, so tool-call success is not measured."""
    from mlopsc.api import load_project
    from mlopsc.runtime.steps import StepContext, run_step

    spec = root / "support-local.yaml"
    report = workdir / "llm-quality.json"
    ctx = StepContext(project=load_project(str(spec)), spec_dir=root, args={}, inputs={},
                      outputs={"report": str(report), "violated": str(workdir / "llm-violated")},
                      workdir=workdir, log=lambda _m: None)
    run_step("llm_quality", ctx)
    checks = [c["message"] for c in json.loads(report.read_text())["checks"]]
    assert checks[0].startswith("hallucination rate ") and checks[1] == "refusal rate 0.0000 (max 0.05)", checks
    assert checks[2] == "tool_call_success: no interaction it applies to (not measured)"
