"""Deterministic bytes, no heavy imports on the compile path, and located diagnostics."""

import os
import subprocess
import sys

import pytest
from mlopsc import api, targets
from sm_helpers import ROOT

SCRIPT = """
import hashlib, sys
sys.path.insert(0, "tests/sagemaker")
from sm_helpers import compile_spec
_, files, _ = compile_spec(sys.argv[1])
print(hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest())
print(sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "sagemaker", "kfp", "mlflow", "torch")))
"""


@pytest.mark.parametrize("spec", ["churn.yaml", "support-assistant.yaml"])
def test_same_bytes_under_different_hash_seeds_and_no_sdk_imports(spec):
    outs = []
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        run = subprocess.run([sys.executable, "-c", SCRIPT, spec], cwd=ROOT, env=env, capture_output=True,
                             text=True, check=True)
        outs.append(run.stdout)
    assert outs[0] == outs[1]
    assert outs[0].splitlines()[1] == "[]"


def test_outputs_have_no_absolute_paths(compiled):
    _, files, _ = compiled
    for path, text in files.items():
        assert ROOT not in text, path
        assert text.endswith("\n") and "\r" not in text


def _compile_variant(tmp_path, old, new):
    with open(os.path.join(ROOT, "specs", "churn.yaml"), encoding="utf-8") as fh:
        text = fh.read()
    assert old in text
    spec = tmp_path / "variant.yaml"
    spec.write_text(text.replace(old, new), encoding="utf-8")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        return targets.get("sagemaker").compile(api.load_project("variant.yaml"))
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("old, new, anchor, needle", [
    ("resources: {cpu: 4, memory: 16Gi, gpu: {count: 1, type: nvidia-t4}}",
     "resources: {cpu: 4, memory: 16Gi, gpu: {count: 16, type: nvidia-t4}}", None, "resources of step `train`"),
    ("interval: 30m", "interval: 2h", "type: canary", "interval over 1h"),
    ('schedule: "0 6 * * *"', 'schedule: "30 6 * * *"', None, "Model Monitor"),
    ('schedule: "0 3 * * 0"', 'schedule: "0 3 1 * 0"', "data: retrain", "schedule"),
])
def test_inexpressible_parts_are_located_e701(tmp_path, old, new, anchor, needle):
    """Each E701 sits on the spec line of the part (for a section: its first key, the section's span)."""
    files, diags = _compile_variant(tmp_path, old, new)
    text = (tmp_path / "variant.yaml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(text, 1) if (anchor or new) in t)
    errors = [d for d in diags if d.code == "E701"]
    assert files == [] and errors, diags
    assert any(d.line == line and needle in d.message and d.file == "variant.yaml" for d in errors), (line, errors)


def test_instance_type_override_makes_it_expressible(tmp_path):
    files, diags = _compile_variant(
        tmp_path, "    bucket: s3://acme-ml-artifacts\n",
        "    bucket: s3://acme-ml-artifacts\n    instance_types: {training: ml.g4dn.12xlarge}\n")
    assert files and not [d for d in diags if d.severity == "error"]
    assert '"InstanceType": "ml.g4dn.12xlarge"' in next(f.content for f in files if f.path == "pipelines/train.json")


def test_example_specs_compile_with_warnings_only(compiled):
    _, files, diags = compiled
    assert files and all(d.severity == "warning" and d.code == "W702" for d in diags)
