"""Deploy-pipeline actions: approve, deploy / rollout, smoke_test, load_test.

On a local run (`MLOPSC_TARGET` unset or `local`) a deploy starts model server processes for
the registry version and a router in front of them (see `localserve`), walks the strategy with
traffic replayed from the eval (holdout) dataset, and rolls back automatically when a rollback
rule trips. The registry alias named after the environment (`staging`, `production`) points at
the version that serves there; `previous-<environment>` at the one it replaced. The step's
`endpoint` output is the environment's URL (the router, or the one server for `direct`).
With `MLOPSC_TARGET=sagemaker` it is the endpoint's name, and the smoke and load tests call it
through `InvokeEndpoint` (`cloud_sagemaker`), with the same rules; the load test's duration is
capped (`MLOPSC_LOAD_TEST_MAX_SECONDS`) on a local run only.

A deployment record goes to `<root>/.mlopsc/deployments/<environment>.json` (rollout history,
router status, the verification after a rollback), whether the rollout passed or not.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from mlopsc import ir
from mlopsc.runtime import localserve
from mlopsc.runtime.steps import StepContext, StepFailed, _tracker, read_dataset, training_dataset, write_json

VERIFY_REQUESTS = 50


def _target() -> str:
    return os.environ.get("MLOPSC_TARGET", "local")


def _environment(ctx: StepContext) -> ir.Environment:
    name = ctx.args.get("environment")
    dep = ctx.project.deployment
    env = next((e for e in (dep.environments if dep else ()) if e.name == name), None)
    if env is None:
        raise StepFailed(f"the spec has no deployment environment {name!r}")
    return env


def resolve_version(tracker: Any, model: str, requested: str | None) -> str:
    """`latest` (or empty): the newest registered version; otherwise the number given."""
    from mlflow.exceptions import MlflowException

    try:
        versions = tracker.client.search_model_versions(f"name='{model}'")
    except MlflowException:
        versions = []
    if not requested or requested == "latest":
        if not versions:
            raise StepFailed(f"model {model!r} has no registered version to deploy (run the train pipeline first)")
        return str(max(int(v.version) for v in versions))
    if not any(str(v.version) == str(requested) for v in versions):
        raise StepFailed(f"model {model!r} has no version {requested}")
    return str(requested)


def _model(ctx: StepContext) -> str:
    return ctx.args.get("model") or ctx.project.registry.model


def traffic_instances(ctx: StepContext, limit: int = 500) -> list[dict]:
    """Rows of the eval dataset (else the training dataset) without the label, as JSON objects."""
    project = ctx.project
    if project.data is None or not project.data.datasets:
        raise StepFailed("no dataset to send traffic from: the spec declares no data")
    name = (project.evals.dataset if project.evals and project.evals.dataset else None) or training_dataset(project)
    df = read_dataset(project.data.dataset(name), ctx.spec_dir).head(limit)
    if project.data.label and project.data.label in df.columns:
        df = df.drop(columns=[project.data.label])
    return json.loads(df.to_json(orient="records"))


# ---------------------------------------------------------------- approve


def approve(ctx: StepContext) -> dict:
    if _target() == "sagemaker":  # the SageMaker model registry's ModelApprovalStatus
        from mlopsc.runtime import cloud_sagemaker

        return cloud_sagemaker.approve(ctx, _model(ctx), ctx.args.get("environment", "production"))
    tracker = _tracker(ctx)
    model, env = _model(ctx), ctx.args.get("environment", "production")
    version = resolve_version(tracker, model, ctx.inputs.get("model_version"))
    mv = tracker.client.get_model_version(model, version)
    if mv.tags.get("mlopsc.approval") == "approved":
        ctx.log(f"version {version} of {model} is already approved (by {mv.tags.get('mlopsc.approved_by', '?')})")
        return {"version": version, "approved": True}
    if _target() != "local":
        # cloud: a person approves by pointing the registry alias `approved-<env>` at the version
        found = tracker.version_for_alias(model, f"approved-{env}")
        if found is not None and str(found.version) == version:
            tracker.approve(model, version, approver=f"alias approved-{env}")
            return {"version": version, "approved": True}
        raise StepFailed(f"version {version} of {model} is waiting for approval for {env}: set the registry "
                         f"alias approved-{env} to version {version}, then rerun the deploy pipeline")
    how = None
    if os.environ.get("MLOPSC_APPROVE", "").lower() in ("1", "true", "yes"):
        how = os.environ.get("MLOPSC_APPROVER") or "mlopsc run --approve"
    elif sys.stdin is not None and sys.stdin.isatty():
        # the prompt ends its line: under `mlopsc run` this process's output is read line by line
        print(f"Approve version {version} of {model} for {env}? [y/N]", flush=True)
        answer = input().strip().lower()
        if answer not in ("y", "yes"):
            raise StepFailed(f"version {version} of {model} was not approved for {env}")
        how = os.environ.get("USER") or "interactive prompt"
    else:
        raise StepFailed(f"version {version} of {model} needs approval for {env}: rerun with --approve "
                         "(or answer the prompt in a terminal)")
    tracker.approve(model, version, approver=how)
    ctx.log(f"approved version {version} of {model} for {env} ({how})")
    return {"version": version, "approved": True}


# ---------------------------------------------------------------- deploy / rollout


def deploy(ctx: StepContext) -> dict:
    """The `deploy` (direct) and `rollout` actions."""
    if _target() == "sagemaker":  # the compiled CloudFormation stack (see `cloud_sagemaker`)
        from mlopsc.runtime import cloud_sagemaker

        return cloud_sagemaker.deploy(ctx, _environment(ctx), _model(ctx))
    started: list[dict] = []
    try:
        return _deploy(ctx, started)
    except BaseException:
        # servers this step started but never recorded (it failed or was interrupted between
        # starting them and writing the environment's state) are stopped, not left behind
        recorded = {p.get("pid") for env in localserve.environments(ctx.root)
                    for p in (localserve.read_state(ctx.root, env) or {}).get("processes", [])}
        for p in started:
            if p["pid"] not in recorded:
                localserve.stop(p["pid"])
        raise


def _deploy(ctx: StepContext, started: list[dict]) -> dict:
    if _target() != "local":
        raise StepFailed(f"deploying on the {_target()} target (KServe canaryTrafficPercent, Vertex endpoint "
                         "traffic split) is not implemented in the mlopsc runtime yet: only a local run and "
                         "SageMaker deploy")
    env = _environment(ctx)
    tracker = _tracker(ctx)
    model = _model(ctx)
    version = resolve_version(tracker, model, ctx.inputs.get("model_version"))
    if env.requires_approval:
        tags = tracker.client.get_model_version(model, version).tags
        if tags.get("mlopsc.approval") not in ("approved", "not_required"):
            raise StepFailed(f"version {version} of {model} is not approved for {env.name}")
    root = ctx.root
    champion = tracker.version_for_alias(model, env.name)
    champion_version = str(champion.version) if champion is not None else None
    state = localserve.read_state(root, env.name)
    common = ["--tracking-uri", tracker.tracking_uri, "--name", model]

    def server(v: str, role: str) -> dict:
        info = localserve.start("model", ["--model-uri", f"models:/{model}/{v}", "--version", v, *common], root,
                                f"{env.name}-{role}-v{v}")
        started.append(info)
        return {"role": role, "version": v, **info}

    def router_process(args: list[str]) -> dict:
        info = localserve.start("router", args, root, f"{env.name}-router")
        started.append(info)
        return {"role": "router", **info}

    def running(role: str, v: str | None) -> dict | None:
        for p in (state or {}).get("processes", []):
            if (p.get("role") == role and (v is None or p.get("version") == v)
                    and localserve.alive(p.get("pid")) and localserve.healthy(p["url"])):
                return p
        return None

    strategy = env.strategy
    record: dict[str, Any] = {"environment": env.name, "model": model, "version": version,
                              "previous": champion_version, "strategy": strategy.type}
    if champion_version == version:
        live = running("champion", version)
        if state and live and (strategy.type == "direct" or running("router", None)):
            ctx.log(f"version {version} already serves {env.name} at {state['endpoint']} (up to date)")
            return _done(ctx, env, state["endpoint"], {**record, "state": "up_to_date"})
        # the decision stands; the processes are gone: start them again
        champion_version = None
    old = state
    if champion_version is None or strategy.type == "direct":
        new = server(version, "champion")
        processes = [new]
        endpoint = new["url"]
        if strategy.type != "direct":
            router = router_process(["--champion", new["url"]])
            processes.insert(0, router)
            endpoint = router["url"]
        tracker.set_alias(model, env.name, version)
        if champion is not None and str(champion.version) != version:
            tracker.set_alias(model, f"previous-{env.name}", str(champion.version))
        localserve.write_state(root, env.name, {"environment": env.name, "endpoint": endpoint, "version": version,
                                                "processes": processes})
        _stop_replaced(old, processes)
        why = "first deployment: no champion yet" if champion is None and strategy.type != "direct" else strategy.type
        ctx.log(f"deployed version {version} to {env.name} at {endpoint} ({why})")
        return _done(ctx, env, endpoint, {**record, "state": "deployed"})

    # a rollout: champion and challenger behind a router with the strategy's controller
    champ = running("champion", champion_version) or server(champion_version, "champion")
    challenger = server(version, "challenger")
    rules = env.rollback
    spec = {"type": strategy.type, "steps": list(strategy.steps) or None, "sample": strategy.sample,
            "split": strategy.split, "window": int(ctx.args["window"]) if ctx.args.get("window") else None,
            "max_error_rate": rules.max_error_rate if rules else None,
            "max_p99_latency_ms": rules.max_p99_latency_ms if rules else None}
    router = router_process(["--champion", champ["url"], "--challenger", challenger["url"],
                             "--rollout", json.dumps(spec)])
    processes = [router, champ, challenger]
    localserve.write_state(root, env.name, {"environment": env.name, "endpoint": router["url"],
                                            "version": champion_version, "rolling_out": version,
                                            "processes": processes})
    _stop_replaced(old, processes)
    ctx.log(f"rolling out version {version} to {env.name} ({strategy.type}; champion is version "
            f"{champion_version}) at {router['url']}")
    status = drive(router["url"], traffic_instances(ctx), ctx.log)
    rollout = status["rollout"]
    record.update(state=rollout["state"], router=status)
    if rollout["state"] == "promoted":
        tracker.set_alias(model, env.name, version)
        tracker.set_alias(model, f"previous-{env.name}", champion_version)
        localserve.stop(champ["pid"])
        challenger["role"] = "champion"
        localserve.write_state(root, env.name, {"environment": env.name, "endpoint": router["url"],
                                                "version": version, "processes": [router, challenger]})
        ctx.log(f"promoted version {version}: it serves all of {env.name} now")
        return _done(ctx, env, router["url"], record)
    if rollout["state"] == "completed":  # shadow / A/B: a verdict, the champion keeps serving
        localserve.stop(challenger["pid"])
        localserve.write_state(root, env.name, {"environment": env.name, "endpoint": router["url"],
                                                "version": champion_version, "processes": [router, champ]})
        ctx.log(f"{strategy.type} of version {version} completed ({rollout['verdict']}); version "
                f"{champion_version} keeps serving {env.name}")
        return _done(ctx, env, router["url"], record)
    # rolled back (or never decided): all traffic on the champion; prove it
    localserve.stop(challenger["pid"])
    verify = verify_champion(router["url"], traffic_instances(ctx, VERIFY_REQUESTS))
    record["verification"] = verify
    localserve.write_state(root, env.name, {"environment": env.name, "endpoint": router["url"],
                                            "version": champion_version, "processes": [router, champ]})
    _write_record(root, env.name, record)
    tracker.set_version_tags(model, version, {f"mlopsc.rollout.{env.name}": "rolled_back"})
    raise StepFailed(
        f"{env.name} rollout of version {version} was rolled back automatically: "
        f"{rollout.get('reason') or 'no decision'}; all traffic is on the champion (version {champion_version}): "
        f"{verify['champion']}/{verify['requests']} verification requests answered by it")


def _done(ctx: StepContext, env: ir.Environment, endpoint: str, record: dict) -> dict:
    record["endpoint"] = endpoint
    _write_record(ctx.root, env.name, record)
    if "endpoint" in ctx.outputs:
        write_json(ctx.output("endpoint"), endpoint)
    return {"endpoint": endpoint, "version": record["version"], "state": record["state"]}


def _write_record(root: Path, environment: str, record: dict) -> None:
    write_json(Path(root) / ".mlopsc" / "deployments" / f"{environment}.json", record)


def _stop_replaced(old: dict | None, keep: list[dict]) -> None:
    pids = {p["pid"] for p in keep}
    for p in (old or {}).get("processes", []):
        if p.get("pid") not in pids:
            localserve.stop(p.get("pid"))


def drive(router_url: str, instances: list[dict], log=print, max_requests: int = 50_000) -> dict:
    """Replay instances through the router until its rollout decides; return /status."""
    from mlopsc.runtime.httpbase import Upstream

    client = Upstream(timeout=30)
    target = router_url.rstrip("/") + "/predict"
    bodies = [json.dumps({"instances": [row]}).encode() for row in instances]
    status: dict = {}
    last_step = -1
    for sent in range(max_requests):
        if sent % 20 == 0:
            _, raw = client.get(router_url.rstrip("/") + "/status")
            status = json.loads(raw)
            ro = status["rollout"]
            if ro["step"] != last_step and ro["state"] == "running":
                last_step = ro["step"]
                log(f"  challenger at {ro['steps'][ro['step']]:g}% of traffic (window {ro['window']} answers)")
            if ro["state"] != "running":
                break
        try:
            client.request("POST", target, bodies[sent % len(bodies)], {"Content-Type": "application/json"})
        except OSError:
            pass
    _, raw = client.get(router_url.rstrip("/") + "/status")
    status = json.loads(raw)
    for event in status["rollout"]["history"]:
        if event["event"] in ("rollback", "promote"):
            log(f"  {event['event']}: {event['message']}")
    return status


def verify_champion(router_url: str, instances: list[dict]) -> dict:
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


# ---------------------------------------------------------------- tests after a deploy


def _endpoint(ctx: StepContext) -> str:
    url = ctx.inputs.get("endpoint", "")
    if url.startswith('"'):
        url = json.loads(url)
    if not url:
        raise StepFailed("no endpoint to test (the deploy step's `endpoint` output)")
    return url


def smoke_test(ctx: StepContext) -> dict:
    from mlopsc.runtime.traffic import smoke_test as run

    url = _endpoint(ctx)
    if _target() == "sagemaker":  # the endpoint is a SageMaker endpoint's name: InvokeEndpoint
        from mlopsc.runtime import cloud_sagemaker

        result = cloud_sagemaker.smoke_test(ctx, url, traffic_instances(ctx, 5))
    else:
        result = run(url, traffic_instances(ctx, 5))
    for c in result["checks"]:
        ctx.log(f"{'ok  ' if c['passed'] else 'FAIL'} {c['check']}" + (f": {c.get('detail')}" if not c["passed"] else ""))
    if not result["passed"]:
        raise StepFailed(f"smoke test of {ctx.args.get('environment', url)} failed at {url}")
    return result


def load_test(ctx: StepContext) -> dict:
    from mlopsc.runtime.traffic import load_test as run

    url = _endpoint(ctx)
    rps, duration = float(ctx.args.get("rps", 10)), float(ctx.args.get("duration", 10))
    cap = float(os.environ.get("MLOPSC_LOAD_TEST_MAX_SECONDS", "10")) if _target() == "local" else duration
    if duration > cap:
        ctx.log(f"load test shortened from {duration:g} s to {cap:g} s on a local run "
                "(MLOPSC_LOAD_TEST_MAX_SECONDS)")
        duration = cap
    limit = float(ctx.args["max_p95_ms"]) if ctx.args.get("max_p95_ms") else None
    if _target() == "sagemaker":  # the endpoint is a SageMaker endpoint's name: InvokeEndpoint
        from mlopsc.runtime import cloud_sagemaker

        result = cloud_sagemaker.load_test(ctx, url, traffic_instances(ctx, 200), rps=rps, duration_s=duration,
                                           max_p95_ms=limit)
    else:
        result = run(url, traffic_instances(ctx, 200), rps=rps, duration_s=duration, max_p95_ms=limit)
    ctx.log(f"load test: {result['requests']} requests at {result['achieved_rps']:.1f} rps, p95 "
            f"{result['p95_ms']:.1f} ms, errors {result['errors']}")
    if not result["passed"]:
        raise StepFailed(f"load test of {ctx.args.get('environment', url)} failed: p95 {result['p95_ms']:.1f} ms "
                         f"(max {limit}), {result['errors']} errors")
    return result
