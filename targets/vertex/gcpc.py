"""Component specs compatible with google-cloud-pipeline-components (GCPC) 2.22.0.

`model-upload` (ModelUploadOp) and `model-deploy` (ModelDeployOp): the same input names, types and defaults, the `google.*` artifact types, the
pinned GCPC image and the launcher command with its `--type/--payload` arguments, as kfp 2.17
compiles GCPC's own components (descriptions left out). The launchers read the input artifacts'
`metadata['resourceName']`. Tests compare these with GCPC's own components, compiled from the
released GCPC wheel. Compiling never imports GCPC. (Endpoints are not created with GCPC's
EndpointCreateOp, which cannot take an endpoint id: see `deploy`.)
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

VERSION = "2.22.0"
IMAGE = f"gcr.io/ml-pipeline/google-cloud-pipeline-components:{VERSION}"
PROJECT_ID = "{{$.pipeline_google_cloud_project_id}}"
JOB_UUID = "{{$.pipeline_job_uuid}}"

VERTEX_MODEL = "google.VertexModel"
VERTEX_ENDPOINT = "google.VertexEndpoint"
UNMANAGED_CONTAINER_MODEL = "google.UnmanagedContainerModel"

_TYPES = {str: "STRING", int: "NUMBER_INTEGER", bool: "BOOLEAN", dict: "STRUCT", list: "LIST"}
REQUIRED = object()


def artifact_type(title: str) -> dict[str, Any]:
    return {"artifactType": {"schemaTitle": title, "schemaVersion": "0.0.1"}}


def _param(default: Any, kind: type = str) -> dict[str, Any]:
    if default is REQUIRED:
        return {"parameterType": _TYPES[kind]}
    if kind is int:
        default = float(default)  # protobuf Values are doubles; kfp writes 0.0
    return {"defaultValue": default, "isOptional": True, "parameterType": _TYPES[kind]}


def _p(name: str) -> str:
    return f"{{{{$.inputs.parameters['{name}']}}}}"


def _resource_name(artifact: str) -> str:
    return f"{{{{$.inputs.artifacts['{artifact}'].metadata['resourceName']}}}}"


def _concat(*parts: str) -> str:
    return json.dumps({"Concat": list(parts)})


def _container(module: str, args: list[str]) -> dict[str, Any]:
    return {"container": {"args": args, "command": ["python3", "-u", "-m", module], "image": IMAGE}}


def _gcp_resources() -> dict[str, Any]:
    return {"parameters": {"gcp_resources": {"parameterType": "STRING"}}}

_OPTIONAL = {"isOptional": True}


def model_upload() -> tuple[dict[str, Any], dict[str, Any]]:
    inputs = {
        "artifacts": {"parent_model": {**artifact_type(VERTEX_MODEL), **_OPTIONAL},
                      "unmanaged_container_model": {**artifact_type(UNMANAGED_CONTAINER_MODEL), **_OPTIONAL}},
        "parameters": {"description": _param(""), "display_name": _param(REQUIRED),
                       "encryption_spec_key_name": _param(""), "explanation_metadata": _param({}, dict),
                       "explanation_parameters": _param({}, dict), "labels": _param({}, dict),
                       "location": _param("us-central1"), "project": _param(PROJECT_ID),
                       "version_aliases": _param([], list)},
    }
    outputs = {"artifacts": {"model": artifact_type(VERTEX_MODEL)}, **_gcp_resources()}
    payload = _concat(
        "{", '"display_name": "', _p("display_name"), '"', ', "description": "', _p("description"), '"',
        ', "explanation_spec": {', '"parameters": ', _p("explanation_parameters"), ', "metadata": ',
        _p("explanation_metadata"), "}", ', "encryption_spec": {"kms_key_name":"', _p("encryption_spec_key_name"),
        '"}', ', "version_aliases": ', _p("version_aliases"), ', "labels": ', _p("labels"),
        ', "pipeline_job": "', f"projects/{_p('project')}/locations/{_p('location')}/pipelineJobs/{JOB_UUID}",
        '"', "}")
    parent = json.dumps({"IfPresent": {"InputName": "parent_model",
                                       "Then": ["--parent_model_name", _resource_name("parent_model")]}})
    args = ["--type", "UploadModel", "--payload", payload, "--project", _p("project"), "--location",
            _p("location"), "--gcp_resources", "{{$.outputs.parameters['gcp_resources'].output_file}}",
            "--executor_input", "{{$}}", parent]
    return ({"inputDefinitions": inputs, "outputDefinitions": outputs},
            _container("google_cloud_pipeline_components.container.v1.model.upload_model.launcher", args))


def model_deploy() -> tuple[dict[str, Any], dict[str, Any]]:
    counts = ("automatic_resources_max_replica_count", "automatic_resources_min_replica_count",
              "dedicated_resources_accelerator_count", "dedicated_resources_max_replica_count",
              "dedicated_resources_min_replica_count")
    params = {name: _param(0, int) for name in counts}
    params.update({"dedicated_resources_accelerator_type": _param(""), "dedicated_resources_machine_type": _param(""),
                   "deployed_model_display_name": _param(""), "disable_container_logging": _param(False, bool),
                   "enable_access_logging": _param(False, bool), "explanation_metadata": _param({}, dict),
                   "explanation_parameters": _param({}, dict), "service_account": _param(""),
                   "traffic_split": _param({}, dict)})
    inputs = {"artifacts": {"endpoint": {**artifact_type(VERTEX_ENDPOINT), **_OPTIONAL},
                            "model": artifact_type(VERTEX_MODEL)},
              "parameters": params}
    payload = _concat(
        "{", '"endpoint": "', _resource_name("endpoint"), '"', ', "traffic_split": ', _p("traffic_split"),
        ', "deployed_model": {', '"model": "', _resource_name("model"), '"', ', "dedicated_resources": {',
        '"machine_spec": {', '"machine_type": "', _p("dedicated_resources_machine_type"), '"',
        ', "accelerator_type": "', _p("dedicated_resources_accelerator_type"), '"', ', "accelerator_count": ',
        _p("dedicated_resources_accelerator_count"), "}", ', "min_replica_count": ',
        _p("dedicated_resources_min_replica_count"), ', "max_replica_count": ',
        _p("dedicated_resources_max_replica_count"), "}", ', "automatic_resources": {', '"min_replica_count": ',
        _p("automatic_resources_min_replica_count"), ', "max_replica_count": ',
        _p("automatic_resources_max_replica_count"), "}", ', "service_account": "', _p("service_account"), '"',
        ', "disable_container_logging": ', _p("disable_container_logging"), ', "enable_access_logging": ',
        _p("enable_access_logging"), ', "explanation_spec": {', '"parameters": ', _p("explanation_parameters"),
        ', "metadata": ', _p("explanation_metadata"), "}", "}", "}")
    args = ["--type", "DeployModel", "--payload", payload, "--project", "", "--location", "",
            "--gcp_resources", "{{$.outputs.parameters['gcp_resources'].output_file}}"]
    return ({"inputDefinitions": inputs, "outputDefinitions": _gcp_resources()},
            _container("google_cloud_pipeline_components.container.v1.endpoint.deploy_model.launcher", args))


# action of a Vertex-only IR step -> the GCPC component it stands for
COMPONENTS = {"gcpc.model_upload": model_upload, "gcpc.model_deploy": model_deploy}
