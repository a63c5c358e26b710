"""What the monitor does about a violation besides alerting: `retrain` and `rollback`, on the
platform the step runs on.

retrain starts the train pipeline, which reads the data as it is now (the new data version) and
records the version it read in the run's lineage:
- local: a `mlopsc run SPEC --pipeline train` process in the same work directory, detached (the
  monitor does not wait for training); its output goes to `.mlopsc/retrain/<time>.log`;
- kubeflow: a KFP run of the uploaded `<project>-train` pipeline's newest version
  (`kfp.Client`, host from `KFP_HOST`, default the in-cluster API service);
- sagemaker: `StartPipelineExecution` of the `<project>-train` pipeline (`mlopsc submit` created it);
- vertex: a `PipelineJob` of the train pipeline compiled from the step's spec, as `mlopsc submit`
  creates it (`MLOPSC_VERTEX_API_ENDPOINT` overrides the regional API host).

rollback puts the version that served production before back through the platform's rollout
path: on a local run the environment's running servers are replaced with that version (aliases
swapped, the endpoint answers with it); with none running, and elsewhere, the registry aliases move and the next deploy pipeline
serves them (the cloud rollout paths belong to the deploy steps).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mlopsc.runtime.steps import StepContext, StepFailed

KFP_IN_CLUSTER = "http://ml-pipeline.kubeflow.svc.cluster.local:8888"


def retrain(ctx: StepContext, reasons: list[str]) -> dict:
    starter = {"local": _retrain_local, "kubeflow": _retrain_kubeflow, "sagemaker": _retrain_sagemaker,
               "vertex": _retrain_vertex}.get(ctx.target)
    if starter is None:
        return {"action": "retrain", "started": False, "error": f"no retrain on target {ctx.target!r}"}
    try:
        started = starter(ctx)
    except Exception as e:  # noqa: BLE001 - reported in the step's output; the verdict stands either way
        ctx.log(f"retrain could not start the train pipeline: {e}")
        return {"action": "retrain", "started": False, "reason": reasons, "error": str(e)[:500]}
    ctx.log(f"retrain: started the train pipeline ({started['run']})")
    return {"action": "retrain", "started": True, "reason": reasons, **started}


def _retrain_local(ctx: StepContext) -> dict:
    logs = ctx.root / ".mlopsc" / "retrain"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%fZ}.log"
    argv = [sys.executable, "-m", "mlopsc", "run", str(Path(ctx.project.spec_path).resolve()), "--pipeline", "train",
            "--workdir", str(ctx.root)]
    uri = ctx.tracking_uri or ctx.args.get("tracking_uri")
    if uri:
        argv += ["--tracking-uri", uri]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=ctx.root)
    return {"run": f"local process {proc.pid}", "pid": proc.pid, "log": str(log)}


def _train_name(ctx: StepContext) -> str:
    return f"{ctx.project.name}-train"


def _retrain_kubeflow(ctx: StepContext) -> dict:
    import kfp

    client = kfp.Client(host=os.environ.get("KFP_HOST", KFP_IN_CLUSTER))
    name = _train_name(ctx)
    pipeline_id = client.get_pipeline_id(name)
    if pipeline_id is None:
        raise StepFailed(f"no pipeline {name!r} on the KFP server: upload pipelines/train.yaml first")
    versions = client.list_pipeline_versions(pipeline_id, sort_by="created_at desc", page_size=1)
    version_id = versions.pipeline_versions[0].pipeline_version_id
    experiment = client.create_experiment(name=ctx.project.name)
    run = client.run_pipeline(experiment_id=experiment.experiment_id, job_name=f"{name}-retrain",
                              pipeline_id=pipeline_id, version_id=version_id)
    return {"run": f"KFP run {run.run_id}", "run_id": run.run_id}


def _retrain_sagemaker(ctx: StepContext) -> dict:
    from mlopsc.runtime.platforms.aws import session
    from mlopsc.targets.sagemaker.expressions import pipeline_name

    name = pipeline_name(ctx.project.name, "train")  # the name `mlopsc submit` created it under
    out = session(ctx.project).client("sagemaker").start_pipeline_execution(
        PipelineName=name, PipelineExecutionDisplayName=f"{name}-retrain"[:82],
        PipelineExecutionDescription="started by the monitor pipeline: monitoring violations")
    return {"run": f"SageMaker execution {out['PipelineExecutionArn']}", "arn": out["PipelineExecutionArn"]}


def _retrain_vertex(ctx: StepContext) -> dict:
    from google.cloud import aiplatform_v1
    from google.cloud.aiplatform_v1 import types
    from google.protobuf import json_format

    config, body = vertex_train_job(ctx)
    parent = f"projects/{config['project']}/locations/{config['location']}"
    host = os.environ.get("MLOPSC_VERTEX_API_ENDPOINT") or f"{config['location']}-aiplatform.googleapis.com"
    credentials = None
    if host.startswith("http://"):  # a test's server: no Google credentials
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    client = aiplatform_v1.PipelineServiceClient(credentials=credentials, transport="rest",
                                                 client_options={"api_endpoint": host})
    job = types.PipelineJob.wrap(json_format.ParseDict(body, types.PipelineJob.pb()(), ignore_unknown_fields=False))
    created = client.create_pipeline_job(parent=parent, pipeline_job=job)
    return {"run": f"Vertex PipelineJob {created.name}", "job": created.name}


def vertex_train_job(ctx: StepContext) -> tuple[dict, dict]:
    """The train PipelineJob as `mlopsc submit` sends it, compiled from the step's own spec (the
    image holds the spec, not the compiled files); `${env:}` parameters from this environment."""
    import json

    import yaml
    from mlopsc.api import compile_spec
    from mlopsc.references import env_refs

    result = compile_spec(str(Path(ctx.project.spec_path).resolve()), ["vertex"])
    files = result.bundles.get("vertex")
    if not files or "pipelines/train.yaml" not in files:
        raise StepFailed("the spec does not compile a Vertex train pipeline")
    config = json.loads(files["jobs/train.runtime-config.json"])
    values = dict(config["parameter_values"])
    values.update({n: os.environ[n] for n in env_refs(ctx.project) if n in values and os.environ.get(n)})
    body = {"displayName": config["display_name"], "labels": config["labels"],
            "pipelineSpec": yaml.safe_load(files["pipelines/train.yaml"]),
            "runtimeConfig": {"gcsOutputDirectory": config["pipeline_root"], "parameterValues": values,
                              "failurePolicy": "PIPELINE_FAILURE_POLICY_FAIL_FAST"}}
    if config.get("service_account"):
        body["serviceAccount"] = config["service_account"]
    return config, body


# ---------------------------------------------------------------- rollback


def rollback(ctx: StepContext, environment: str = "production") -> dict:
    try:
        return _rollback(ctx, environment)
    except Exception as e:  # noqa: BLE001 - reported in the step's output; the verdict stands either way
        ctx.log(f"rollback failed: {e}")
        return {"action": "rollback", "done": False, "error": str(e)[:500]}


def _rollback(ctx: StepContext, environment: str) -> dict:
    from mlopsc.runtime import platforms

    tracker = platforms.current(ctx).tracker(ctx)
    model = ctx.project.registry.model
    prev = tracker.version_for_alias(model, f"previous-{environment}")
    if prev is None:
        ctx.log(f"rollback requested, but {environment} has no previous version to return to")
        return {"action": "rollback", "done": False, "error": "no previous version"}
    version = str(prev.version)
    if ctx.target == "local" and _serving_locally(ctx, environment):
        return _rollback_local(ctx, tracker, model, environment, version)
    current = tracker.version_for_alias(model, environment)
    tracker.set_alias(model, environment, version)
    if current is not None:
        tracker.set_alias(model, f"previous-{environment}", str(current.version))
    ctx.log(f"rolled {environment} back to version {version} (registry alias; the deploy pipeline serves it)")
    return {"action": "rollback", "done": True, "version": version, "path": "registry alias"}


def _serving_locally(ctx: StepContext, environment: str) -> bool:
    from mlopsc.runtime import localserve

    state = localserve.read_state(ctx.root, environment) or {}
    return any(localserve.alive(p.get("pid")) for p in state.get("processes", []))


def _rollback_local(ctx: StepContext, tracker: Any, model: str, environment: str, version: str) -> dict:
    from mlopsc.runtime.platforms.local_rollout import LocalDeployment

    env = next((e for e in (ctx.project.deployment.environments if ctx.project.deployment else ())
                if e.name == environment), None)
    if env is None:
        raise StepFailed(f"the spec has no {environment} environment to roll back")
    champion = tracker.version_for_alias(model, environment)
    run = LocalDeployment(ctx, env, model, tracker)
    record = {"environment": environment, "model": model, "version": version, "strategy": "rollback",
              "previous": str(champion.version) if champion is not None else None}
    try:
        done = run.replace(version, champion, record)
    except BaseException:
        run.stop_unrecorded()
        raise
    ctx.log(f"rolled {environment} back to version {version}: it serves at {done['endpoint']}")
    return {"action": "rollback", "done": True, "version": version, "endpoint": done["endpoint"]}
