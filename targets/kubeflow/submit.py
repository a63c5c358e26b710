"""`mlopsc submit --target kubeflow`: upload the compiled pipelines to a KFP API server through
`kfp.Client`, then start a run of the train pipeline and create the recurring runs.

Idempotent where KFP allows it: a pipeline is uploaded once and gets a new *version* only when
its compiled file changed (the version is named by the file's content hash, so re-submitting the
same spec uploads nothing); a recurring run with the same name in the experiment is kept when it
already runs the same version on the same trigger, and replaced (deleted, then created) otherwise,
since the v2beta1 API has no update. Each submit starts one run of the train pipeline.
kfp is imported inside `submit` only, so compiling never needs it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, TextIO

from mlopsc import ir

from .settings import settings

TRAIN = "train"


@dataclass(frozen=True)
class Upload:
    """One compiled pipeline file as KFP stores it: a pipeline and a content-named version."""

    name: str           # pipelines/<name>.yaml
    display_name: str   # pipelineInfo.name, unique per KFP installation
    version_name: str
    description: str
    text: str
    parameters: dict[str, str] = field(default_factory=dict)  # ${env:NAME} values for a run


def uploads(project: ir.Project, compiled_files: dict[str, str]) -> list[Upload]:
    """Every compiled `pipelines/<name>.yaml`, sorted by name."""
    import yaml

    found = []
    for path in sorted(compiled_files):
        if not (path.startswith("pipelines/") and path.endswith(".yaml")):
            continue
        name = path.removeprefix("pipelines/").removesuffix(".yaml")
        text = compiled_files[path]
        spec = next(iter(yaml.safe_load_all(text)))
        display = spec["pipelineInfo"]["name"]
        inputs = spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
        pipeline = project.pipeline(name)
        found.append(Upload(
            name=name, display_name=display,
            version_name=f"{display}-{hashlib.sha256(text.encode()).hexdigest()[:12]}",
            description=(pipeline.description if pipeline else name),
            text=text, parameters=env_parameters(project, inputs)))
    return found


def env_parameters(project: ir.Project, inputs: dict[str, Any]) -> dict[str, str]:
    """Each `${env:NAME}` run parameter the pipeline declares, from the submitting environment
    (the compiled default is empty: the pipeline file holds no machine's settings)."""
    from mlopsc.references import env_refs

    return {n: os.environ[n] for n in env_refs(project) if n in inputs and os.environ.get(n)}


def schedules(compiled_files: dict[str, str]) -> dict[str, dict[str, Any]]:
    """pipeline name -> its compiled recurring-run body (`schedules/<name>.recurring-run.json`)."""
    suffix = ".recurring-run.json"
    return {p.removeprefix("schedules/").removesuffix(suffix): json.loads(t)
            for p, t in sorted(compiled_files.items()) if p.startswith("schedules/") and p.endswith(suffix)}


def submit(project: ir.Project, compiled_files: dict[str, str], endpoint_url: str | None = None,
           dry_run: bool = False, region: str | None = None, out: TextIO | None = None,
           host: str | None = None, namespace: str | None = None, client: Any = None) -> list[dict[str, str]]:
    """Upload pipelines (or new versions), ensure the experiment, start the train run, and create
    or replace the recurring runs. Returns `{"pipeline", "action", "arn"}` per object touched."""
    out = out or sys.stdout
    found = uploads(project, compiled_files)
    timed = schedules(compiled_files)
    namespace = namespace or settings(project).namespace
    if dry_run:
        return _dry_run(project, found, timed, namespace, out)
    if client is None:
        client = _client(host or endpoint_url, namespace)
    # kfp prints "Pipeline details: <link>" to stdout; our stdout is the outcome lines only
    with contextlib.redirect_stdout(sys.stderr):
        results = _apply(client, project, found, timed, namespace)
    for r in results:
        out.write(f"{r['action']}: {r['pipeline']} {r['arn']}\n")
    return results


def _client(host: str | None, namespace: str) -> Any:
    import kfp  # only here: compiling never imports kfp

    # without a host kfp falls back to the pod's cluster config, and without one to localhost:80
    if not (host or os.environ.get("KF_PIPELINES_ENDPOINT") or os.environ.get("KUBERNETES_SERVICE_HOST")):
        from mlopsc.targets.base import SubmitNotSupported

        raise SubmitNotSupported("`mlopsc submit --target kubeflow` needs the KFP API server: pass --host URL "
                                 "(or set KF_PIPELINES_ENDPOINT)")

    with contextlib.redirect_stdout(sys.stderr), _quiet_kfp_warnings():
        return kfp.Client(host=host, namespace=namespace)


@contextlib.contextmanager
def _quiet_kfp_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "This client only works with KFP v2.0.0-beta.2 and later"
        yield


def _apply(client: Any, project: ir.Project, found: list[Upload], timed: dict[str, dict[str, Any]],
           namespace: str) -> list[dict[str, str]]:
    results = []
    versions: dict[str, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="mlopsc-kfp-") as tmp:
        for upload in found:
            action, pipeline_id, version_id = upsert_pipeline(client, upload, tmp, namespace)
            versions[upload.name] = (pipeline_id, version_id)
            results.append({"pipeline": upload.version_name, "action": action, "arn": version_id})
    experiment = client.create_experiment(name=project.name, namespace=namespace)
    by_name = {u.name: u for u in found}
    if TRAIN in by_name:
        run = start_run(client, project, experiment.experiment_id, by_name[TRAIN], versions[TRAIN])
        results.append({"pipeline": f"run {by_name[TRAIN].version_name}", "action": "started", "arn": run})
    for name, body in timed.items():
        action, rid = upsert_recurring_run(client, experiment.experiment_id, body, by_name[name], versions[name])
        results.append({"pipeline": f"recurring run {body['display_name']}", "action": action, "arn": rid})
    return results


def _name_filter(name: str) -> str:
    return json.dumps({"predicates": [{"operation": "EQUALS", "key": "display_name", "stringValue": name}]})


def upsert_pipeline(client: Any, upload: Upload, tmp: str, namespace: str) -> tuple[str, str, str]:
    """(created | new-version | unchanged, pipeline id, version id) for one compiled pipeline."""
    path = os.path.join(tmp, f"{upload.name}.yaml")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(upload.text)
    pipeline_id = client.get_pipeline_id(upload.display_name)
    if pipeline_id is None:
        # the upload creates the pipeline and its first version (named like the pipeline)
        created = client.upload_pipeline(path, pipeline_name=upload.display_name,
                                         description=upload.description, namespace=namespace)
        pipeline_id, action = created.pipeline_id, "created"
    else:
        action = "new-version"
    listed = client.list_pipeline_versions(pipeline_id, filter=_name_filter(upload.version_name))
    if listed.pipeline_versions:
        return ("unchanged" if action != "created" else action), pipeline_id, listed.pipeline_versions[0].pipeline_version_id
    version = client.upload_pipeline_version(path, upload.version_name, pipeline_id=pipeline_id,
                                             description=upload.description)
    return action, pipeline_id, version.pipeline_version_id


def start_run(client: Any, project: ir.Project, experiment_id: str, upload: Upload,
              version: tuple[str, str]) -> str:
    run = client.run_pipeline(experiment_id, upload.version_name, params=upload.parameters,
                              pipeline_id=version[0], version_id=version[1],
                              service_account=settings(project).service_account)
    return run.run_id


def _same_recurring_run(current: Any, body: dict[str, Any], upload: Upload, version: tuple[str, str]) -> bool:
    ref = current.pipeline_version_reference
    cron = current.trigger.cron_schedule.cron if current.trigger and current.trigger.cron_schedule else None
    return (ref is not None and ref.pipeline_version_id == version[1]
            and cron == body["trigger"]["cron_schedule"]["cron"]
            and dict((current.runtime_config and current.runtime_config.parameters) or {}) == upload.parameters
            and str(current.max_concurrency) == str(body["max_concurrency"])
            and bool(current.no_catchup) == bool(body["no_catchup"])
            and (current.service_account or None) == body.get("service_account")
            and current.status != "DISABLED")


def upsert_recurring_run(client: Any, experiment_id: str, body: dict[str, Any], upload: Upload,
                         version: tuple[str, str]) -> tuple[str, str]:
    """(created | replaced | unchanged, recurring run id) for one compiled schedule."""
    listed = client.list_recurring_runs(experiment_id=experiment_id, filter=_name_filter(body["display_name"]))
    existing = list(listed.recurring_runs or [])
    for current in existing:
        if _same_recurring_run(current, body, upload, version):
            return "unchanged", current.recurring_run_id
    for current in existing:
        client.delete_recurring_run(current.recurring_run_id)
    created = client.create_recurring_run(
        experiment_id, body["display_name"], description=body["description"],
        cron_expression=body["trigger"]["cron_schedule"]["cron"],
        max_concurrency=str(body["max_concurrency"]), no_catchup=body["no_catchup"],  # int64: a JSON string
        params=upload.parameters, pipeline_id=version[0], version_id=version[1],
        enabled=body["mode"] == "ENABLE", service_account=body.get("service_account"))
    return ("replaced" if existing else "created"), created.recurring_run_id


def _dry_run(project: ir.Project, found: list[Upload], timed: dict[str, dict[str, Any]], namespace: str,
             out: TextIO) -> list[dict[str, str]]:
    """What a submit would send, printed; no request is made."""
    plan: list[dict[str, Any]] = [
        {"operation": "UploadPipeline|UploadPipelineVersion", "pipeline": u.display_name,
         "version": u.version_name, "namespace": namespace} for u in found]
    plan.append({"operation": "CreateExperiment", "experiment": project.name, "namespace": namespace})
    plan += [{"operation": "CreateRun", "pipeline": u.display_name, "version": u.version_name,
              "parameters": u.parameters} for u in found if u.name == TRAIN]
    plan += [{"operation": "CreateRecurringRun", "recurring_run": b["display_name"],
              "cron": b["trigger"]["cron_schedule"]["cron"], "version": next(u.version_name for u in found if u.name == n)}
             for n, b in timed.items()]
    for entry in plan:
        out.write(json.dumps(entry, sort_keys=True) + "\n")
    return [{"pipeline": u.version_name, "action": "dry-run", "arn": ""} for u in found]
