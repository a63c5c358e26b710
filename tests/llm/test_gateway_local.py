"""The real LiteLLM proxy in front of two local OpenAI-compatible servers of the tiny model: a chat
request answered through it, a cache hit (Redis) on the repeated prompt, and the fallback route
answering once the primary route's server is stopped."""

from __future__ import annotations

import json
import shutil

import pytest
from mlopsc.loader import load_bytes
from mlopsc.normalize import normalize

pytestmark = pytest.mark.slow
GATEWAY = """apiVersion: mlopsc/v1
name: gw
llm:
  base_model: support_local/model
  serving: {engine: vllm}
  gateway:
    routes:
      - {name: default, model: support-local, provider: self_hosted}
      - {name: fallback, model: support-local, provider: self_hosted}
    fallbacks: {default: [fallback]}
    cache: {semantic: true, similarity: 0.95, ttl: 1h}
    budget: {monthly_usd: 100, per_user_daily_usd: 1}
"""
KEY = "sk-local-test"


@pytest.fixture
def model_dir(support_example, tmp_path):
    """The base model served as full weights (no fine-tune needed to test the gateway)."""
    out = tmp_path / "served"
    shutil.copytree(support_example / "support_local" / "model", out)
    (out / "mlopsc_llm.json").write_text(json.dumps({"base_model": str(out), "method": "full"}))
    return out


def _chat(client, url, text):
    body = json.dumps({"model": "default", "messages": [{"role": "user", "content": text}], "max_tokens": 8})
    status, raw, headers = client.request("POST", url + "/v1/chat/completions", body.encode(),
                                          {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"})
    return status, json.loads(raw), {k.lower(): v for k, v in headers.items()}


def _start_primary(model_dir, tmp_path):
    """The primary route's server as its own process (`python -m mlopsc.runtime.llm_server`), so
    stopping it closes the proxy's keep-alive connections as a crashed server would."""
    import sys
    import time

    from mlopsc.runtime.llm_gateway import Process

    ready = tmp_path / "primary.url"
    proc = Process([sys.executable, "-m", "mlopsc.runtime.llm_server", "--model-dir", str(model_dir),
                    "--model-id", "support-local", "--ready", str(ready)], tmp_path / "primary.log")
    deadline = time.monotonic() + 300
    while not ready.exists():
        assert proc.proc.poll() is None and time.monotonic() < deadline, (tmp_path / "primary.log").read_text()
        time.sleep(0.2)
    return proc, ready.read_text()


def test_the_proxy_answers_caches_and_falls_back(model_dir, tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing (scripts/test.sh installs Debian's redis-server)")
    from mlopsc.runtime import llm_gateway
    from mlopsc.runtime.httpbase import Upstream
    from mlopsc.runtime.llm_model import CausalLM
    from mlopsc.runtime.llm_server import LlmServer

    gateway = normalize(load_bytes(GATEWAY.encode(), "gw.yaml")).llm.gateway
    backup = LlmServer(CausalLM(model_dir), "support-local").start()
    primary = redis = proxy = None
    try:
        primary, primary_url = _start_primary(model_dir, tmp_path)
        redis, redis_port = llm_gateway.start_redis(tmp_path)
        config, notes = llm_gateway.local_config(gateway, {"default": primary_url, "fallback": backup.url}, redis_port)
        assert config["litellm_settings"]["cache_params"] == {"type": "redis", "host": "127.0.0.1",
                                                              "port": redis_port, "ttl": 3600}
        assert config["router_settings"]["fallbacks"] == [{"default": ["fallback"]}]
        assert len(notes) == 2
        proxy, url = llm_gateway.start_proxy(config, tmp_path, KEY)
        client = Upstream(timeout=120)
        status, first, headers = _chat(client, url, "Where is my invoice?")
        assert status == 200 and first["choices"][0]["message"]["content"] is not None
        assert headers["x-litellm-model-api-base"] == primary_url + "/v1" and "x-litellm-cache-key" not in headers
        status, again, headers = _chat(client, url, "Where is my invoice?")
        assert status == 200 and again["choices"][0]["message"]["content"] == first["choices"][0]["message"]["content"]
        assert "x-litellm-cache-key" in headers  # served from Redis
        primary.stop()
        status, other, headers = _chat(client, url, "How do I reset my password?")
        assert status == 200, other
        assert backup.answered == 1 and headers["x-litellm-attempted-fallbacks"] == "1"  # the fallback route answered
    finally:
        for p in (proxy, redis, primary):
            if p is not None:
                p.stop()
        backup.stop()
