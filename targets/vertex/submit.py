"""Submit one compiled pipeline to Vertex AI Pipelines, and create or update its Schedule.

`mlopsc submit SPEC --target vertex [--pipeline train|deploy|monitor] [--param NAME=VALUE ...]`:

- the pipeline (default `train`) runs once: `pipelines/<name>.yaml` with its
  `jobs/<name>.runtime-config.json` (pipeline root, parameter values, labels, caching, failure
  policy, service account) becomes a `PipelineJob` (aiplatform builds it from the file, offline)
  and is created with `CreatePipelineJob`. Parameter values: the compiled defaults, then each
  `${env:NAME}` parameter from the submitting environment, then `--param` (a name the pipeline
  does not declare is an error listing the ones it does).
- its compiled `schedules/<name>.schedule.json`, when there is one, is created as a Vertex
  `Schedule`, or, when a Schedule of that display name exists already, updated in place (cron,
  concurrency and the pipeline job it creates): submitting again updates, never duplicates.

`dry_run` builds the requests offline with anonymous credentials and prints them, calling nothing.
`endpoint_url` is the API host (an `http://` URL: a test server, called without credentials).
google-cloud-aiplatform is imported inside these functions only: compiling never imports it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any, TextIO

from mlopsc import ir
from mlopsc.targets import SubmitNotSupported

PIPELINES = ("train", "deploy", "monitor")
_CASTS = {"NUMBER_INTEGER": int, "NUMBER_DOUBLE": float,
          "BOOLEAN": lambda v: v.lower() in ("1", "true", "yes")}


def jobs(compiled_files: dict[str, str], only: list[str] | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, template text, runtime config) for every compiled pipeline, sorted by name."""
    found = []
    for path in sorted(compiled_files):
        if not (path.startswith("pipelines/") and path.endswith(".yaml")):
            continue
        name = path.removeprefix("pipelines/").removesuffix(".yaml")
        if only is not None and name not in only:
            continue
        config = json.loads(compiled_files[f"jobs/{name}.runtime-config.json"])
        found.append((name, compiled_files[path], config))
    return found


def build_job(template_path: str, config: dict[str, Any], region: str | None = None, credentials: Any = None,
              api_endpoint: str | None = None) -> Any:
    from google.cloud import aiplatform  # only here: compiling never imports aiplatform

    location = region or config["location"]
    if api_endpoint:
        aiplatform.initializer.global_config.api_endpoint = api_endpoint
    return aiplatform.PipelineJob(
        display_name=config["display_name"], template_path=template_path,
        pipeline_root=config["pipeline_root"], parameter_values=config["parameter_values"],
        enable_caching=config["enable_caching"], labels=config["labels"],
        failure_policy=config["failure_policy"], project=config["project"], location=location,
        credentials=credentials)


def request_json(job: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(job._gca_resource._pb)


def env_parameter_values(project: ir.Project, values: dict[str, Any]) -> dict[str, Any]:
    """The run's values with each `${env:NAME}` parameter taken from the submitting environment
    (the compiled default is empty: the pipeline file holds no machine's settings)."""
    from mlopsc.references import env_refs

    found = {n: os.environ[n] for n in env_refs(project) if os.environ.get(n) and n in values}
    return {**values, **found}


def parameter_values(project: ir.Project, template: str, config: dict[str, Any],
                     params: dict[str, str]) -> dict[str, Any]:
    """Compiled defaults < `${env:}` values < `--param`, each cast to the declared type."""
    import yaml

    declared = yaml.safe_load(template)["root"].get("inputDefinitions", {}).get("parameters", {})
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise SubmitNotSupported(f"--param {', '.join(unknown)}: pipeline `{config['display_name']}` has no such "
                                 f"parameter; it takes: {', '.join(sorted(declared))}")
    cast = {k: _CASTS.get(declared[k].get("parameterType"), str) for k in params}
    return {**env_parameter_values(project, config["parameter_values"]), **{k: cast[k](v) for k, v in params.items()}}


def _clients(region: str, endpoint_url: str | None) -> tuple[Any, Any]:
    from google.cloud import aiplatform_v1

    host = endpoint_url or f"{region}-aiplatform.googleapis.com"
    credentials = None
    if host.startswith("http://"):
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    options = {"credentials": credentials, "transport": "rest", "client_options": {"api_endpoint": host}}
    return aiplatform_v1.PipelineServiceClient(**options), aiplatform_v1.ScheduleServiceClient(**options)


def schedule_request(text: str, values: dict[str, Any], service_account: str | None) -> Any:
    """The compiled Schedule with this submit's parameter values, as aiplatform's message."""
    from google.cloud.aiplatform_v1 import types
    from google.protobuf import json_format

    body = json.loads(text)
    job = body["createPipelineJobRequest"]["pipelineJob"]
    job["runtimeConfig"]["parameterValues"] = values
    if service_account:
        job["serviceAccount"] = service_account
    return types.Schedule.wrap(json_format.ParseDict(body, types.Schedule.pb()(), ignore_unknown_fields=False))


def upsert_schedule(client: Any, parent: str, schedule: Any) -> tuple[str, str]:
    """Create the Schedule, or update the one of the same display name: (action, resource name)."""
    from google.cloud.aiplatform_v1 import types
    from google.protobuf import field_mask_pb2

    listed = client.list_schedules(request=types.ListSchedulesRequest(
        parent=parent, filter=f'display_name="{schedule.display_name}"'))
    existing = [s for s in listed if s.display_name == schedule.display_name]
    if not existing:
        return "schedule created", client.create_schedule(parent=parent, schedule=schedule).name
    schedule.name = existing[0].name
    mask = field_mask_pb2.FieldMask(paths=["cron", "max_concurrent_run_count", "create_pipeline_job_request"])
    return "schedule updated", client.update_schedule(schedule=schedule, update_mask=mask).name


def submit(project: ir.Project, compiled_files: dict[str, str], endpoint_url: str | None = None,
           dry_run: bool = False, region: str | None = None, out: TextIO | None = None,
           pipeline: str | None = None, params: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Run one compiled pipeline (default `train`) and create or update its Schedule.

    Returns `{"pipeline", "action", "arn"}` per request made: `submitted`, `schedule created`,
    `schedule updated` or `dry-run`; `arn` is the resource name (empty in a dry run).
    """
    name = pipeline or "train"
    found = jobs(compiled_files, [name])
    if not found:
        raise SubmitNotSupported(f"the spec compiles no `{name}` pipeline for vertex; it has: "
                                 f"{', '.join(n for n, _, _ in jobs(compiled_files)) or 'none'}")
    _, text, config = found[0]
    config = {**config, "parameter_values": parameter_values(project, text, config, params or {})}
    location = region or config["location"]
    with tempfile.TemporaryDirectory(prefix="mlopsc-vertex-") as tmp:
        path = os.path.join(tmp, f"{name}.yaml")
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        from google.auth.credentials import AnonymousCredentials

        job = build_job(path, config, region, AnonymousCredentials())  # built offline; sent below
    job_body = job._gca_resource
    if config.get("service_account"):
        job_body.service_account = config["service_account"]
    parent = f"projects/{config['project']}/locations/{location}"
    schedule_text = compiled_files.get(f"schedules/{name}.schedule.json")
    schedule = schedule_request(schedule_text, config["parameter_values"], config.get("service_account")) \
        if schedule_text else None
    if dry_run:
        return _print_dry_run(out or sys.stdout, parent, job_body, schedule, config["display_name"])
    pipelines, schedules = _clients(location, endpoint_url)
    created = pipelines.create_pipeline_job(parent=parent, pipeline_job=job_body, pipeline_job_id=job.job_id)
    results = [{"pipeline": config["display_name"], "action": "submitted", "arn": created.name}]
    if schedule is not None:
        action, resource = upsert_schedule(schedules, parent, schedule)
        results.append({"pipeline": schedule.display_name, "action": action, "arn": resource})
    return results


def _print_dry_run(out: TextIO, parent: str, job: Any, schedule: Any, display_name: str) -> list[dict[str, str]]:
    from google.protobuf import json_format

    bodies = [{"operation": "CreatePipelineJob", "parent": parent, "pipelineJob": json_format.MessageToDict(job._pb)}]
    if schedule is not None:
        bodies.append({"operation": "CreateOrUpdateSchedule", "parent": parent,
                       "schedule": json_format.MessageToDict(schedule._pb)})
    out.writelines(json.dumps(body, indent=2, sort_keys=True) + "\n" for body in bodies)
    return [{"pipeline": display_name, "action": "dry-run", "arn": ""}]
