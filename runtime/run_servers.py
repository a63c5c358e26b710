"""The model servers of a local run: which ones the run started (stopped at its end unless
`--serve`), and the production endpoint printed and sent one prediction after a deploy."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from mlopsc import ir
from mlopsc.runtime import localserve
from mlopsc.runtime.run_state import Registry


class ProductionUnanswered(Exception):
    """The production endpoint did not answer a prediction."""


def healthy(url: str) -> bool:
    return bool(localserve.healthy(url))


class Servers:
    def __init__(self, workdir: Path, env: dict[str, str], out: Callable[[str], None]):
        self.workdir = workdir
        self.env = env
        self.out = out
        self.initial_pids = self.running_pids()
        self.gateway = None  # an LLM spec's LiteLLM gateway (llm_run_gateway), started after the deploy

    def running_pids(self) -> set[int]:
        pids = set()
        for env in localserve.environments(self.workdir):
            for p in (localserve.read_state(self.workdir, env) or {}).get("processes", []):
                if localserve.alive(p.get("pid")):
                    pids.add(p["pid"])
        return pids

    def stop_started(self) -> None:
        """Stop the servers this run started; servers that were running before stay."""
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        for env in localserve.environments(self.workdir):
            state = localserve.read_state(self.workdir, env) or {}
            started = [p for p in state.get("processes", []) if p.get("pid") not in self.initial_pids]
            for p in started:
                localserve.stop(p.get("pid"))
            if started:
                localserve.write_state(self.workdir, env, None)

    def serve_until_interrupted(self) -> None:
        self.out("serving; Ctrl-C stops the servers")
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop_started()

    def endpoint(self, env: str, registry: Registry, project: ir.Project, spec_dir: Path) -> str:
        """The environment's endpoint URL, starting its champion again when its servers are gone."""
        state = localserve.read_state(self.workdir, env)
        url = state.get("endpoint") if state else None
        if url and all(localserve.alive(p.get("pid")) for p in state.get("processes", [])) and healthy(url):
            return url
        version = registry.alias_version(env)
        model = registry.model
        from mlopsc.runtime import llm_deploy

        kind, args = llm_deploy.server(project, spec_dir, model, version, registry.tracking_uri)
        from mlopsc.runtime.captures import sample_env

        info = localserve.start(kind, args, self.workdir, f"{env}-champion-v{version}",
                                env={**self.env, **sample_env(project)}, environment=env)
        localserve.write_state(self.workdir, env, {"environment": env, "endpoint": info["url"], "version": version,
                                                   "processes": [{"role": "champion", "version": version, **info}]})
        return info["url"]

    def production(self, project: ir.Project, spec_dir: Path, registry: Registry, predict: bool) -> None:
        """Print the last environment's endpoint and, with `predict`, send it one row."""
        dep = project.deployment
        if dep is None or not dep.environments:
            return
        env = dep.environments[-1].name
        url = self.endpoint(env, registry, project, spec_dir)
        self.out(f"{env} endpoint: {url}/predict")
        if predict:
            self.predict_one(project, spec_dir, url)
        if project.llm is not None and project.llm.gateway is not None:
            from mlopsc.runtime.llm_run_gateway import start_gateway

            self.gateway = start_gateway(self, project, spec_dir, (env, url, registry), predict)

    def predict_one(self, project: ir.Project, spec_dir: Path, url: str) -> None:
        from mlopsc.runtime.deploy import traffic_instances
        from mlopsc.runtime.httpbase import Upstream
        from mlopsc.runtime.steps import StepContext

        ctx = StepContext(project=project, spec_dir=spec_dir, workdir=self.workdir, log=lambda _m: None)
        row = traffic_instances(ctx, 1)
        status, answer = Upstream(timeout=30).post_json(url + "/predict", {"instances": row})
        self.out(f"prediction for {json.dumps(row[0])}:")
        self.out(f"  HTTP {status} {json.dumps(answer)}")
        if status != 200:
            raise ProductionUnanswered("the production endpoint did not answer a prediction")
