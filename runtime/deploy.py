"""Deploy-pipeline actions: approve, deploy / rollout, smoke_test, load_test.

Each action asks the step's platform (`platforms.current`) to do the part that differs between
targets: deciding approval, deploying and walking the rollout, calling the endpoint. See
`platforms.local` (server processes, a router, the canary walked, automatic rollback),
`platforms.sagemaker` (the compiled CloudFormation stack, the model package's approval status,
`InvokeEndpoint`), `platforms.kubeflow` and `platforms.vertex` (not implemented yet: the step
stops saying so).

The step's `endpoint` output is what the platform's deploy returns: the environment's URL on a
local run, the endpoint's name on SageMaker. The smoke and load tests get it as their
`endpoint` input and send rows of the eval dataset (else the training dataset), label dropped.
"""

from __future__ import annotations

import json

from mlopsc import ir
from mlopsc.runtime import platforms
from mlopsc.runtime.steps import StepContext, StepFailed, training_dataset, write_json


def environment(ctx: StepContext) -> ir.Environment:
    """The deployment environment named by `--arg environment=...`."""
    name = ctx.args.get("environment")
    dep = ctx.project.deployment
    env = next((e for e in (dep.environments if dep else ()) if e.name == name), None)
    if env is None:
        raise StepFailed(f"the spec has no deployment environment {name!r}")
    return env


def model_name(ctx: StepContext) -> str:
    return ctx.args.get("model") or ctx.project.registry.model


def traffic_instances(ctx: StepContext, limit: int = 500) -> list[dict]:
    """Rows of the eval dataset (else the training dataset) without the label, as JSON objects."""
    project = ctx.project
    if project.data is None or not project.data.datasets:
        raise StepFailed("no dataset to send traffic from: the spec declares no data")
    name = (project.evals.dataset if project.evals and project.evals.dataset else None) or training_dataset(project)
    df = platforms.current(ctx).storage.read_dataset(project.data.dataset(name), ctx.spec_dir).head(limit)
    if project.data.label and project.data.label in df.columns:
        df = df.drop(columns=[project.data.label])
    return json.loads(df.to_json(orient="records"))


def resolve_model(ctx: StepContext) -> dict:
    """`latest` (or a number) resolved once, at the start of the deploy pipeline: staging, approval
    and production then act on the same version even when another is registered meanwhile."""
    version = platforms.current(ctx).resolve_model(ctx, model_name(ctx), ctx.inputs.get("model_version"))
    if "model_version" in ctx.outputs:
        write_json(ctx.output("model_version"), version)
    ctx.log(f"this run deploys version {version} of {model_name(ctx)}")
    return {"model": model_name(ctx), "version": version}


def approve(ctx: StepContext) -> dict:
    return platforms.current(ctx).approve(ctx, model_name(ctx), ctx.args.get("environment", "production"))


def deploy(ctx: StepContext) -> dict:
    """The `deploy` (direct) and `rollout` actions."""
    platform = platforms.current(ctx)
    result = platform.deploy(ctx, environment(ctx), model_name(ctx))
    if "endpoint" in ctx.outputs:
        write_json(ctx.output("endpoint"), result["endpoint"])
    return result


# ---------------------------------------------------------------- tests after a deploy


def endpoint_input(ctx: StepContext) -> str:
    """The deploy step's `endpoint` output, as this step's input (a URL or a SageMaker endpoint name)."""
    url = ctx.inputs.get("endpoint", "")
    if url.startswith('"'):
        url = json.loads(url)
    if not url:
        raise StepFailed("no endpoint to test (the deploy step's `endpoint` output)")
    return url


def smoke_test(ctx: StepContext) -> dict:
    url = endpoint_input(ctx)
    result = platforms.current(ctx).smoke_test(ctx, url, traffic_instances(ctx, 5))
    for c in result["checks"]:
        ctx.log(f"{'ok  ' if c['passed'] else 'FAIL'} {c['check']}" + (f": {c.get('detail')}" if not c["passed"] else ""))
    if not result["passed"]:
        raise StepFailed(f"smoke test of {ctx.args.get('environment', url)} failed at {url}")
    return result


def load_test(ctx: StepContext) -> dict:
    url = endpoint_input(ctx)
    rps, duration = float(ctx.args.get("rps", 10)), float(ctx.args.get("duration", 10))
    limit = float(ctx.args["max_p95_ms"]) if ctx.args.get("max_p95_ms") else None
    result = platforms.current(ctx).load_test(ctx, url, traffic_instances(ctx, 200), rps=rps, duration_s=duration,
                                              max_p95_ms=limit)
    ctx.log(f"load test: {result['requests']} requests at {result['achieved_rps']:.1f} rps, p95 "
            f"{result['p95_ms']:.1f} ms, errors {result['errors']}")
    if not result["passed"]:
        raise StepFailed(f"load test of {ctx.args.get('environment', url)} failed: p95 {result['p95_ms']:.1f} ms "
                         f"(max {limit}), {result['errors']} errors")
    return result
