"""The LLM gateway on this machine: the real LiteLLM proxy started from the spec's compiled gateway
config, with self-hosted routes pointed at local OpenAI-compatible servers and its cache on a
Redis this module starts (Debian's `redis-server`).

What differs from the cloud config, and why: a semantic cache embeds prompts with a hosted
embedding model, which a machine without network cannot reach, so locally the cache is LiteLLM's
exact-match Redis cache; budgets are enforced against LiteLLM's Postgres database, which a local
run does not start, so the proxy keeps its in-memory `max_budget` only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from mlopsc import ir
from mlopsc.targets import litellm_proxy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_config(gateway: ir.Gateway, self_hosted: dict[str, str], redis_port: int | None) -> tuple[dict, list[str]]:
    """(LiteLLM config, what differs from the compiled one). `self_hosted`: route name -> base URL."""
    config = litellm_proxy.config(gateway, lambda r: {"model": f"openai/{r.model}",
                                                      "api_base": self_hosted[r.name].rstrip("/") + "/v1",
                                                      "api_key": "local"})
    notes: list[str] = []
    config["general_settings"].pop("database_url", None)
    settings = config.get("litellm_settings", {})
    for key in ("max_internal_user_budget", "internal_user_budget_duration"):
        if settings.pop(key, None) is not None and "per-user budgets" not in " ".join(notes):
            notes.append("per-user budgets need LiteLLM's database and are not enforced locally")
    params = settings.get("cache_params")
    if params is not None:
        if params.get("type") == "redis-semantic":
            notes.append("the semantic cache is an exact-match Redis cache locally (no embedding model offline)")
        params.pop("similarity_threshold", None)
        params.update({"type": "redis", "host": "127.0.0.1", "port": redis_port})
    config.setdefault("router_settings", {})["num_retries"] = 0  # a stopped route falls back at once
    return config, notes


class Process:
    """A child process this run started and must stop (SIGTERM, then SIGKILL)."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None):
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_redis(workdir: Path) -> tuple[Process, int]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("the gateway's cache needs Redis: install Debian's redis-server")
    port = free_port()
    proc = Process([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", str(workdir)], workdir / "redis.log")
    _wait(lambda: _redis_ping(port), 30, proc, "redis-server")
    return proc, port


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_proxy(config: dict, workdir: Path, master_key: str, extra_env: dict[str, str] | None = None
                ) -> tuple[Process, str]:
    """`litellm --config` on a free port; returns once /health/liveliness answers."""
    path = workdir / "litellm-config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=True), encoding="utf-8")
    port = free_port()
    exe = Path(sys.executable).with_name("litellm")
    env = {**os.environ, "LITELLM_MASTER_KEY": master_key, "LITELLM_LOG": "ERROR",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", **(extra_env or {})}  # no network: the packaged cost map
    proc = Process([str(exe), "--config", str(path), "--host", "127.0.0.1", "--port", str(port)],
                   workdir / "litellm.log", env=env)
    url = f"http://127.0.0.1:{port}"
    _wait(lambda: _http_ok(url + litellm_proxy.LIVENESS_PATH), 300, proc, "the LiteLLM proxy")
    return proc, url


def _http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _wait(ready: Any, timeout: float, proc: Process, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.proc.returncode}; see {proc.log}")
        if ready():
            return
        time.sleep(0.5)
    proc.stop()
    raise RuntimeError(f"{what} did not become ready in {timeout:.0f} s; see {proc.log}")
