"""`mlopsc build` without a Docker engine: the context it writes, and its errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mlopsc import api, image_context

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "churn-local.yaml"


def _build(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlopsc", "build", str(SPEC), "--docker-binary", "no-such-docker",
                           "--out", str(tmp_path / "ctx"), *extra], capture_output=True, text=True, cwd=tmp_path)


def _egg_info_state():
    egg = ROOT / "mlopsc.egg-info"  # an editable install may have one; the build must not touch it
    return sorted((p.name, p.stat().st_mtime_ns) for p in egg.iterdir()) if egg.exists() else None


def test_without_an_engine_build_writes_the_context_and_says_how_to_build_it(tmp_path):
    egg_before = _egg_info_state()
    proc = _build(tmp_path, "--target", "sagemaker", "--tag", "v7")
    assert proc.returncode == 0, proc.stderr
    assert "no Docker engine answered" in proc.stdout
    assert f"no-such-docker build --network host -t churn-local:v7 {tmp_path / 'ctx'}" in proc.stdout
    ctx = tmp_path / "ctx"
    wheel = next((ctx / "mlopsc").glob("mlopsc-*.whl"))
    dockerfile = (ctx / "Dockerfile").read_text()
    assert dockerfile.startswith("# syntax=docker/dockerfile:1\n") and "FROM python:3.11-slim\n" in dockerfile
    assert f"RUN pip install --no-cache-dir --no-deps /opt/mlopsc/{wheel.name}" in dockerfile
    requirements = (ctx / "requirements-mlopsc.txt").read_text().splitlines()
    assert "boto3>=1.40" in requirements and any(r.startswith("mlflow") for r in requirements)
    assert not any("kfp" in r or "pytest" in r for r in requirements)  # other extras stay out
    assert (ctx / "project" / "churn-local.yaml").read_bytes() == SPEC.read_bytes()
    assert (ctx / "project" / "churn_local" / "train.py").is_file()
    assert not (ctx / "project" / "churn_local" / "data").exists()  # data comes from storage, not the image
    assert (ctx / "bin" / "train").stat().st_mode & 0o111
    # the wheel is built from a copy: no egg-info written into the source tree to shadow the installed metadata
    assert _egg_info_state() == egg_before


def test_a_failed_build_keeps_the_previous_context(tmp_path):
    assert _build(tmp_path).returncode == 0
    before = (tmp_path / "ctx" / "Dockerfile").read_text()
    proc = _build(tmp_path, "--pip-cert", str(tmp_path / "missing.pem"))
    assert proc.returncode == 2 and "missing.pem" in proc.stderr  # click checks the path first
    proc = _build(tmp_path, "--push")
    assert proc.returncode == 1 and proc.stderr.strip().startswith("error: --push needs a registry")
    assert (tmp_path / "ctx" / "Dockerfile").read_text() == before


def test_the_dockerfile_is_a_function_of_the_spec(monkeypatch):
    monkeypatch.chdir(ROOT)
    project = api.load_project("specs/churn.yaml")
    one = image_context.dockerfile(project, "sagemaker", wheel="mlopsc-0.1.0-py3-none-any.whl",
                                   pip_cert=False, constraints=True)
    assert one == image_context.dockerfile(project, "sagemaker", wheel="mlopsc-0.1.0-py3-none-any.whl",
                                           pip_cert=False, constraints=True)
    assert "COPY project/churn_local/requirements.txt /opt/mlopsc/requirements.txt" in one
    assert "-c /opt/mlopsc/constraints.txt" in one and "PIP_CERT" not in one
    assert image_context.image_spec_path(project) == "/opt/mlopsc/project/churn.yaml"


def test_requirements_take_the_core_and_the_runtime_extra_only():
    requires = ['pyyaml>=6.0', 'kfp<2.18,>=2.17; extra == "kubeflow"', 'mlflow>=3.0; extra == "local"',
                'pytest>=8; extra == "test"']
    cloud = ["pyyaml>=6.0", "mlflow>=3.0", "boto3>=1.40", "s3fs>=2024.6", "gcsfs>=2024.6"]
    # one dependency set for every cloud target: one image (and one cached layer) serves them all
    for target in ("sagemaker", "kubeflow", "vertex"):
        assert image_context.mlopsc_requirements(requires, target) == cloud, target
    assert image_context.mlopsc_requirements(requires, "local") == ["pyyaml>=6.0", "mlflow>=3.0"]
    with_feast = requires + ['feast[redis,aws]==0.67.0; extra == "feast"']
    assert image_context.mlopsc_requirements(with_feast, "local") == ["pyyaml>=6.0", "mlflow>=3.0"]
    assert image_context.mlopsc_requirements(with_feast, "local", feast=True) == [
        "pyyaml>=6.0", "mlflow>=3.0", "feast[redis,aws]==0.67.0"]
