"""GCPC-compatible component specs and the machine table.

GCPC cannot be installed next to google-cloud-aiplatform 2.x (it pins aiplatform < 2), so the
comparison with GCPC's own components is install-free: the `gcpc_components` fixture downloads
the released wheel once per session (`pip download --no-deps
google-cloud-pipeline-components==2.22.0`, PyPI must be reachable: the fixture FAILS, never
skips, when it is not), unpacks it, and compiles ModelUploadOp and ModelDeployOp with the
installed kfp in a subprocess that has only the unpacked wheel added to its path (GCPC's
components are Python `container_component`s, not YAML files). Nothing is vendored.
"""

import json
import os
import subprocess
import sys
import zipfile

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb
from mlopsc import ir
from mlopsc.targets.vertex import gcpc, machines

OPS = {"gcpc.model_upload": ("google_cloud_pipeline_components.v1.model", "ModelUploadOp"),
       "gcpc.model_deploy": ("google_cloud_pipeline_components.v1.endpoint", "ModelDeployOp")}
_COMPILE = """
import importlib, json, os, sys
from kfp import compiler
out = {}
for action, (module, op) in json.loads(sys.argv[1]).items():
    path = os.path.join(sys.argv[2], op + ".yaml")
    compiler.Compiler().compile(getattr(importlib.import_module(module), op), path)
    out[action] = path
print(json.dumps(out))
"""


@pytest.fixture(scope="session")
def gcpc_components(tmp_path_factory):
    """action -> GCPC's compiled pipeline spec of that op, from the released 2.22.0 wheel."""
    root = tmp_path_factory.mktemp("gcpc")
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                           "--disable-pip-version-check", f"google-cloud-pipeline-components=={gcpc.VERSION}",
                           "-d", str(root / "wheel")], capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        pytest.fail(f"could not download the GCPC {gcpc.VERSION} wheel (PyPI must be reachable):\n{done.stderr}")
    (wheel,) = (root / "wheel").iterdir()
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(root / "site")
    env = dict(os.environ, PYTHONPATH=str(root / "site"))
    done = subprocess.run([sys.executable, "-c", _COMPILE, json.dumps(OPS), str(root)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    paths = json.loads(done.stdout.strip().splitlines()[-1])
    found = {}
    for action, path in paths.items():
        with open(path, encoding="utf-8") as fh:
            found[action] = yaml.safe_load(fh)
    return found


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
def test_same_as_gcpc_compiled_component(action, gcpc_components):
    """Interface and executor equality with GCPC's own component (its docstrings left out)."""
    theirs = gcpc_components[action]
    (comp,) = theirs["components"].values()
    (executor,) = theirs["deploymentSpec"]["executors"].values()
    defs, ours = gcpc.COMPONENTS[action]()
    assert _strip(comp) == {"executorLabel": comp["executorLabel"], **defs}
    assert executor == ours


def test_every_gcpc_step_is_compared():
    assert sorted(OPS) == sorted(gcpc.COMPONENTS)


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
