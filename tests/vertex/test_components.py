"""GCPC-compatible component specs and the machine table."""

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb
from mlopsc import ir
from mlopsc.targets.vertex import gcpc, machines

OPS = {"gcpc.model_upload": ("google_cloud_pipeline_components.v1.model", "ModelUploadOp"),
       "gcpc.endpoint_create": ("google_cloud_pipeline_components.v1.endpoint", "EndpointCreateOp"),
       "gcpc.model_deploy": ("google_cloud_pipeline_components.v1.endpoint", "ModelDeployOp")}


@pytest.mark.parametrize("action", sorted(gcpc.COMPONENTS))
def test_component_specs_parse_strictly(action):
    defs, executor = gcpc.COMPONENTS[action]()
    json_format.ParseDict({"executorLabel": "exec-x", **defs}, pb.ComponentSpec())
    json_format.ParseDict(executor, pb.PipelineDeploymentConfig.ExecutorSpec())
    assert executor["container"]["image"] == "gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0"


def _strip(value):
    if isinstance(value, dict):
        # drop GCPC's docstrings, not its `description` input (a dict)
        return {k: _strip(v) for k, v in value.items() if not (k == "description" and isinstance(v, str))}
    return value


@pytest.mark.parametrize("action", sorted(OPS))
def test_same_as_gcpc_compiled_component(action, tmp_path):
    """Byte-level interface equality with GCPC's own component (runs where GCPC is importable)."""
    module, op = OPS[action]
    gcpc_module = pytest.importorskip(module)
    import yaml
    from kfp import compiler

    path = tmp_path / "op.yaml"
    compiler.Compiler().compile(getattr(gcpc_module, op), str(path))
    theirs = yaml.safe_load(path.read_text())
    (comp,) = theirs["components"].values()
    (executor,) = theirs["deploymentSpec"]["executors"].values()
    defs, ours = gcpc.COMPONENTS[action]()
    assert _strip(comp) == {"executorLabel": comp["executorLabel"], **defs}
    assert executor == ours


@pytest.mark.parametrize("cpu,mem_gib,gpus,gpu,expected", [
    (2, 4, 0, None, "e2-standard-2"),
    (4, 16, 0, None, "e2-standard-4"),
    (2, 15, 0, None, "e2-highmem-2"),
    (4, 16, 1, "nvidia-t4", "n1-highmem-4"),
    (1, 4, 1, "nvidia-a100", "a2-highgpu-1g"),
    (1, 4, 2, "nvidia-a100-80gb", "a2-ultragpu-2g"),
    (1, 4, 1, "nvidia-l4", "g2-standard-4"),
    (1, 4, 8, "nvidia-h100", "a3-highgpu-8g"),
    (200, 4, 0, None, None),
])
def test_machine_table(cpu, mem_gib, gpus, gpu, expected):
    res = ir.Resources(cpu=cpu, memory_bytes=mem_gib * 2**30, gpu_count=gpus, gpu_type=gpu)
    found = machines.machine_for(res)
    assert (found.name if found else None) == expected


def test_accelerators_are_vertex_enums():
    from google.cloud.aiplatform_v1.types import AcceleratorType

    for portable, enum in machines.ACCELERATORS.items():
        if enum is not None:
            assert enum in AcceleratorType.__members__, portable
    assert machines.accelerator(ir.Resources(1, 2**30, 1, "nvidia-a10g")) is None
