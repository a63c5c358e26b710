"""The LLM gateway of `mlopsc run`: after the deploy, the real LiteLLM proxy started from the spec's
compiled gateway config (`llm_gateway.local_config`) in front of the deployed model, with its cache
on a Redis this run starts and its traffic captured for LLM monitoring (`llm_capture`).

Where the self-hosted routes point: the first is the environment's endpoint (the deploy's router,
so a canary between adapter versions happens behind the gateway); every other self-hosted route
(a fallback) gets its own replica of the environment's version, so stopping the primary route's
server leaves the fallback answering. Hosted routes stay as compiled (they need the network and
their keys).

The proxy's URL and master key go to `.mlopsc/gateway/gateway.json`; everything started here is
stopped by `stop()` (the run's end, or Ctrl-C after `--serve`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path

from mlopsc import ir
from mlopsc.runtime import llm_deploy, llm_gateway, localserve
from mlopsc.runtime.captures import sample_env
from mlopsc.runtime.llm_monitor import CAPTURE_ENV, capture_path

CALLBACK = "mlopsc.runtime.llm_capture.handler"


def gateway_dir(workdir: Path) -> Path:
    return Path(workdir) / ".mlopsc" / "gateway"


class RunGateway:
    def __init__(self, project: ir.Project, spec_dir: Path, workdir: Path, out: Callable[[str], None]):
        self.project, self.spec_dir, self.workdir, self.out = project, spec_dir, Path(workdir), out
        self.dir = gateway_dir(self.workdir)
        self.redis: llm_gateway.Process | None = None
        self.proxy: llm_gateway.Process | None = None
        self.replicas: list[dict] = []
        self.url: str | None = None
        self.key = "sk-local-" + secrets.token_hex(12)

    def start(self, environment: str, endpoint: str, version: str, tracking_uri: str, env: dict[str, str]) -> str:
        """Start Redis, the fallback replicas and the proxy; return the proxy's URL."""
        gateway = self.project.llm.gateway
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            bases = self.route_bases(gateway, environment, endpoint, version, tracking_uri, env)
            redis_port = None
            if gateway.cache:
                self.redis, redis_port = llm_gateway.start_redis(self.dir)
            config, notes = llm_gateway.local_config(gateway, bases, redis_port)
            config.setdefault("litellm_settings", {})["callbacks"] = [CALLBACK]
            capture = capture_path(self.workdir, environment)
            self.proxy, self.url = llm_gateway.start_proxy(config, self.dir, self.key,
                                                           {CAPTURE_ENV: str(capture), **sample_env(self.project)})
        except BaseException:
            self.stop()
            raise
        self.write_state(environment, bases, capture)
        self.out(f"gateway: {self.url}/v1/chat/completions (LiteLLM; routes "
                 f"{', '.join(r.name for r in gateway.routes)}; key in {self.dir / 'gateway.json'})")
        for note in notes:
            self.out(f"  note: {note}")
        return self.url

    def route_bases(self, gateway: ir.Gateway, environment: str, endpoint: str, version: str, tracking_uri: str,
                    env: dict[str, str]) -> dict[str, str]:
        """Route name -> base URL of each self-hosted route (see the module docstring)."""
        routes = [r for r in gateway.routes if r.provider == "self_hosted"]
        bases = {}
        for i, route in enumerate(routes):
            if i == 0:
                bases[route.name] = endpoint
                continue
            kind, args = llm_deploy.server(self.project, self.spec_dir, self.project.registry.model, version,
                                           tracking_uri)
            info = localserve.start(kind, args, self.workdir, f"{environment}-gateway-{route.name}-v{version}", env=env)
            self.replicas.append({"role": f"route:{route.name}", "version": version, **info})
            bases[route.name] = info["url"]
        return bases

    def write_state(self, environment: str, bases: dict[str, str], capture: Path) -> None:
        pids = [p.proc.pid for p in (self.proxy, self.redis) if p is not None] + [r["pid"] for r in self.replicas]
        state = {"environment": environment, "url": self.url, "master_key": self.key, "routes": bases,
                 "capture": str(capture), "pids": pids, "replicas": self.replicas}
        (self.dir / "gateway.json").write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    def chat(self, text: str, route: str | None = None) -> tuple[int, dict]:
        """One chat request through the proxy (to the first route unless `route`)."""
        from mlopsc.runtime.httpbase import Upstream

        body = {"model": route or self.project.llm.gateway.routes[0].name, "max_tokens": 16,
                "messages": [{"role": "user", "content": text}]}
        status, raw, _ = Upstream(timeout=120).request(
            "POST", f"{self.url}/v1/chat/completions", json.dumps(body).encode(),
            {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"})
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, {"error": raw.decode(errors="replace")[:500]}

    def stop(self) -> None:
        for p in (self.proxy, self.redis):
            if p is not None:
                p.stop()
        for r in self.replicas:
            localserve.stop(r["pid"])
        self.proxy = self.redis = None
        self.replicas = []
        (self.dir / "gateway.json").unlink(missing_ok=True)


def start_gateway(servers: object, project: ir.Project, spec_dir: Path, deployed: tuple, chat: bool) -> RunGateway:
    """`run_servers.Servers`' hook: the gateway in front of `deployed` (environment, endpoint,
    registry); with `chat`, one chat request through it (the first eval case's prompt)."""
    from mlopsc.runtime.run_servers import ProductionUnanswered

    environment, endpoint, registry = deployed
    gateway = RunGateway(project, spec_dir, servers.workdir, servers.out)
    try:
        gateway.start(environment, endpoint, registry.alias_version(environment), registry.tracking_uri, servers.env)
    except RuntimeError as e:  # Redis or the proxy did not start: the run fails saying why
        servers.out(f"error: the gateway did not start: {e}")
        raise ProductionUnanswered("the gateway did not start") from None
    if not chat:
        return gateway
    question = first_question(project, spec_dir, servers.workdir)
    status, answer = gateway.chat(question)
    servers.out(f"chat through the gateway: {json.dumps(question)}")
    servers.out(f"  HTTP {status} {json.dumps(answer.get('choices', [{}])[0].get('message') or answer)}")
    if status != 200:
        gateway.stop()
        raise ProductionUnanswered("the gateway did not answer a chat request")
    return gateway


def first_question(project: ir.Project, spec_dir: Path, workdir: Path) -> str:
    from mlopsc.runtime.deploy import traffic_instances
    from mlopsc.runtime.steps import StepContext

    ctx = StepContext(project=project, spec_dir=spec_dir, workdir=workdir, log=lambda _m: None)
    row = traffic_instances(ctx, 1)[0]
    return str(row.get("prompt") or next(iter(row.values())))
