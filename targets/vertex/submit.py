"""Submit compiled pipelines to Vertex AI Pipelines as `aiplatform.PipelineJob`s.

Each `pipelines/<name>.yaml` is paired with `jobs/<name>.runtime-config.json` (pipeline root,
parameter values, labels, caching, failure policy, service account). google-cloud-aiplatform is
imported inside `submit` only. `dry_run` builds every job offline with anonymous credentials and
prints the request body (`PipelineJob._gca_resource`), calling nothing.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any, TextIO

from mlopsc import ir


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


def submit(project: ir.Project, compiled_files: dict[str, str], endpoint_url: str | None = None,
           dry_run: bool = False, region: str | None = None, out: TextIO | None = None,
           only: list[str] | None = None) -> list[dict[str, str]]:
    """Create one PipelineJob run per compiled pipeline (or those in `only`).

    Returns `{"pipeline", "action", "arn"}` per job; `action` is submitted or dry-run, `arn` the
    job's resource name (empty in a dry run).
    """
    out = out or sys.stdout
    credentials = None
    if dry_run:
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    results = []
    with tempfile.TemporaryDirectory(prefix="mlopsc-vertex-") as tmp:
        for name, text, config in jobs(compiled_files, only):
            config = {**config, "parameter_values": env_parameter_values(project, config["parameter_values"])}
            path = os.path.join(tmp, f"{name}.yaml")
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
            job = build_job(path, config, region, credentials, endpoint_url)
            if dry_run:
                body = {"operation": "CreatePipelineJob",
                        "parent": f"projects/{config['project']}/locations/{region or config['location']}",
                        "pipelineJob": request_json(job)}
                if config.get("service_account"):
                    body["pipelineJob"]["serviceAccount"] = config["service_account"]
                out.write(json.dumps(body, indent=2, sort_keys=True) + "\n")
                results.append({"pipeline": config["display_name"], "action": "dry-run", "arn": ""})
                continue
            job.submit(service_account=config.get("service_account"))
            out.write(f"submitted: {config['display_name']} {job.resource_name}\n")
            results.append({"pipeline": config["display_name"], "action": "submitted", "arn": job.resource_name})
    return results
