"""A deploy on a local run: server processes, a router, the rollout walked, rollback proven.

The deploy starts model server processes for the registry version and a router in front of them
(see `localserve`), walks the strategy with traffic replayed from the eval (holdout) dataset, and
rolls back automatically when a rollback rule trips. The registry alias named after the
environment (`staging`, `production`) points at the version that serves there;
`previous-<environment>` at the one it replaced. The endpoint is the environment's URL (the
router, or the one server for `direct`).

A deployment record goes to `<root>/.mlopsc/deployments/<environment>.json` (rollout history,
router status, the verification after a rollback), whether the rollout passed or not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlopsc import ir
from mlopsc.runtime import localserve
from mlopsc.runtime.platforms.mlflow_registry import require_approved, resolve_version
from mlopsc.runtime.steps import StepContext, StepFailed, write_json

VERIFY_REQUESTS = 50


def deploy(ctx: StepContext, env: ir.Environment, model: str, tracker: Any) -> dict:
    """The `deploy` (direct) and `rollout` actions on a local run."""
    run = LocalDeployment(ctx, env, model, tracker)
    try:
        return run.deploy()
    except BaseException:
        run.stop_unrecorded()
        raise


class LocalDeployment:
    """One deploy step: the servers it starts, and the environment's recorded state."""

    def __init__(self, ctx: StepContext, env: ir.Environment, model: str, tracker: Any):
        self.ctx, self.env, self.model, self.tracker = ctx, env, model, tracker
        self.root = ctx.root
        self.started: list[dict] = []
        self.old = localserve.read_state(self.root, env.name)  # what served before this step

    # -- processes

    def server(self, version: str, role: str) -> dict:
        from mlopsc.runtime import llm_deploy
        from mlopsc.runtime.captures import sample_env
        from mlopsc.runtime.feedback import server_env

        kind, args = llm_deploy.server(self.ctx.project, self.ctx.spec_dir, self.model, version,
                                       self.tracker.tracking_uri)  # an LLM version: the OpenAI server
        info = localserve.start(kind, args, self.root, f"{self.env.name}-{role}-v{version}",
                                env={**server_env(self.ctx.project, self.root, self.env.name),
                                     **sample_env(self.ctx.project)},
                                environment=self.env.name)
        self.started.append(info)
        return {"role": role, "version": version, **info}

    def router(self, args: list[str]) -> dict:
        info = localserve.start("router", args, self.root, f"{self.env.name}-router")
        self.started.append(info)
        return {"role": "router", **info}

    def running(self, role: str, version: str | None) -> dict | None:
        """A recorded process of this role (and version) that is alive and healthy."""
        for p in (self.old or {}).get("processes", []):
            if (p.get("role") == role and (version is None or p.get("version") == version)
                    and localserve.alive(p.get("pid")) and localserve.healthy(p["url"])):
                return p
        return None

    def record_state(self, endpoint: str, version: str, processes: list[dict], **extra: str) -> None:
        localserve.write_state(self.root, self.env.name, {"environment": self.env.name, "endpoint": endpoint,
                                                          "version": version, **extra, "processes": processes})

    def stop_replaced(self, keep: list[dict]) -> None:
        pids = {p["pid"] for p in keep}
        for p in (self.old or {}).get("processes", []):
            if p.get("pid") not in pids:
                localserve.stop(p.get("pid"))

    def stop_unrecorded(self) -> None:
        """Servers this step started but never recorded (it failed or was interrupted between
        starting them and writing the environment's state) are stopped, not left behind."""
        recorded = {p.get("pid") for env in localserve.environments(self.root)
                    for p in (localserve.read_state(self.root, env) or {}).get("processes", [])}
        for p in self.started:
            if p["pid"] not in recorded:
                localserve.stop(p["pid"])

    # -- the decision

    def deploy(self) -> dict:
        env, model, tracker = self.env, self.model, self.tracker
        version = resolve_version(tracker, model, self.ctx.inputs.get("model_version"))
        if env.requires_approval:
            require_approved(tracker, model, version, env.name)
        champion = tracker.version_for_alias(model, env.name)
        champion_version = str(champion.version) if champion is not None else None
        record: dict[str, Any] = {"environment": env.name, "model": model, "version": version,
                                  "previous": champion_version, "strategy": env.strategy.type}
        if champion_version == version:
            live = self.running("champion", version)
            if self.old and live and (env.strategy.type == "direct" or self.running("router", None)):
                endpoint = self.old["endpoint"]
                self.ctx.log(f"version {version} already serves {env.name} at {endpoint} (up to date)")
                return self.done(endpoint, {**record, "state": "up_to_date"})
            champion_version = None  # the decision stands; the processes are gone: start them again
        if champion_version is None or env.strategy.type == "direct":
            return self.replace(version, champion, record)
        return self.roll_out(version, champion_version, record)

    def replace(self, version: str, champion: Any, record: dict) -> dict:
        """All traffic to `version` at once: the first deployment, a restart, or `direct`."""
        env, strategy = self.env, self.env.strategy
        new = self.server(version, "champion")
        processes, endpoint = [new], new["url"]
        if strategy.type != "direct":
            router = self.router(["--champion", new["url"]])
            processes.insert(0, router)
            endpoint = router["url"]
        self.tracker.set_alias(self.model, env.name, version)
        if champion is not None and str(champion.version) != version:
            self.tracker.set_alias(self.model, f"previous-{env.name}", str(champion.version))
        self.record_state(endpoint, version, processes)
        self.stop_replaced(processes)
        why = "first deployment: no champion yet" if champion is None and strategy.type != "direct" else strategy.type
        self.ctx.log(f"deployed version {version} to {env.name} at {endpoint} ({why})")
        return self.done(endpoint, {**record, "state": "deployed"})

    def roll_out(self, version: str, champion_version: str, record: dict) -> dict:
        """Champion and challenger behind a router with the strategy's controller."""
        env, ctx = self.env, self.ctx
        champ = self.running("champion", champion_version) or self.server(champion_version, "champion")
        challenger = self.server(version, "challenger")
        router = self.router(["--champion", champ["url"], "--challenger", challenger["url"],
                              "--rollout", json.dumps(rollout_spec(env, ctx.args.get("window")))])
        processes = [router, champ, challenger]
        self.record_state(router["url"], champion_version, processes, rolling_out=version)
        self.stop_replaced(processes)
        ctx.log(f"rolling out version {version} to {env.name} ({env.strategy.type}; champion is version "
                f"{champion_version}) at {router['url']}")
        from mlopsc.runtime.deploy import traffic_instances

        status = drive(router["url"], traffic_instances(ctx), ctx.log)
        record.update(state=status["rollout"]["state"], router=status)
        return self.decided(status["rollout"], version, champion_version, (router, champ, challenger), record)

    def decided(self, rollout: dict, version: str, champion_version: str, processes: tuple[dict, dict, dict],
                record: dict) -> dict:
        """Act on the router's verdict: promote, keep the champion (shadow, A/B), or roll back."""
        router, champ, challenger = processes
        env, model, url = self.env, self.model, router["url"]
        if rollout["state"] == "promoted":
            self.tracker.set_alias(model, env.name, version)
            self.tracker.set_alias(model, f"previous-{env.name}", champion_version)
            localserve.stop(champ["pid"])
            challenger["role"] = "champion"
            self.record_state(url, version, [router, challenger])
            self.ctx.log(f"promoted version {version}: it serves all of {env.name} now")
            return self.done(url, record)
        localserve.stop(challenger["pid"])
        if rollout["state"] == "completed":  # shadow / A/B: a verdict, the champion keeps serving
            self.record_state(url, champion_version, [router, champ])
            self.ctx.log(f"{env.strategy.type} of version {version} completed ({rollout['verdict']}); version "
                         f"{champion_version} keeps serving {env.name}")
            return self.done(url, record)
        # rolled back (or never decided): all traffic on the champion; prove it
        from mlopsc.runtime.deploy import traffic_instances

        verify = verify_champion(url, traffic_instances(self.ctx, VERIFY_REQUESTS))
        record["verification"] = verify
        self.record_state(url, champion_version, [router, champ])
        write_record(self.root, env.name, record)
        self.tracker.set_version_tags(model, version, {f"mlopsc.rollout.{env.name}": "rolled_back"})
        raise StepFailed(
            f"{env.name} rollout of version {version} was rolled back automatically: "
            f"{rollout.get('reason') or 'no decision'}; all traffic is on the champion (version {champion_version}): "
            f"{verify['champion']}/{verify['requests']} verification requests answered by it")

    def done(self, endpoint: str, record: dict) -> dict:
        record["endpoint"] = endpoint
        write_record(self.root, self.env.name, record)
        return {"endpoint": endpoint, "version": record["version"], "state": record["state"]}


def rollout_spec(env: ir.Environment, window: str | None) -> dict:
    """The router's `--rollout` JSON: the strategy and the rollback rules."""
    strategy, rules = env.strategy, env.rollback
    return {"type": strategy.type, "steps": list(strategy.steps) or None, "sample": strategy.sample,
            "split": strategy.split, "window": int(window) if window else None,
            "max_error_rate": rules.max_error_rate if rules else None,
            "max_p99_latency_ms": rules.max_p99_latency_ms if rules else None}


def write_record(root: Path, environment: str, record: dict) -> None:
    write_json(Path(root) / ".mlopsc" / "deployments" / f"{environment}.json", record)


def drive(router_url: str, instances: list[dict], log: Callable[[str], None] = print,
          max_requests: int = 50_000) -> dict:
    """Replay instances through the router until its rollout decides; return /status."""
    from mlopsc.runtime.httpbase import Upstream

    client = Upstream(timeout=30)
    target = router_url.rstrip("/") + "/predict"
    bodies = [json.dumps({"instances": [row]}).encode() for row in instances]
    last_step = -1
    for sent in range(max_requests):
        if sent % 20 == 0:
            ro = json.loads(client.get(router_url.rstrip("/") + "/status")[1])["rollout"]
            if ro["step"] != last_step and ro["state"] == "running":
                last_step = ro["step"]
                log(f"  challenger at {ro['steps'][ro['step']]:g}% of traffic (window {ro['window']} answers)")
            if ro["state"] != "running":
                break
        try:
            client.request("POST", target, bodies[sent % len(bodies)], {"Content-Type": "application/json"})
        except OSError:
            pass
    status = json.loads(client.get(router_url.rstrip("/") + "/status")[1])
    for event in status["rollout"]["history"]:
        if event["event"] in ("rollback", "promote"):
            log(f"  {event['event']}: {event['message']}")
    return status


def verify_champion(router_url: str, instances: list[dict]) -> dict:
    """Send `instances` through the router after a rollback: who answered (all should be the champion)."""
    from mlopsc.runtime.httpbase import Upstream

    client = Upstream(timeout=30)
    counts = {"requests": 0, "champion": 0, "challenger": 0, "errors": 0}
    for row in instances:
        status, _, headers = client.request("POST", router_url.rstrip("/") + "/predict",
                                            json.dumps({"instances": [row]}).encode(),
                                            {"Content-Type": "application/json"})
        counts["requests"] += 1
        variant = {k.lower(): v for k, v in headers.items()}.get("x-mlopsc-variant", "")
        counts["champion" if variant == "champion" else "challenger"] += 1
        counts["errors"] += status >= 500
    return counts
