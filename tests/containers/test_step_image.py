"""`mlopsc build` makes the image every step runs, and a step runs in a container of it given
only what a platform would give: the image, its argv, and mounted storage (no shared working
directory, no host Python)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[2]
TAG = "mlopsc-churn-local:test"


def _docker(*args: str, env: dict, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, env=env, check=check)


@pytest.fixture(scope="module")
def built(docker_env, base_image, tmp_path_factory):
    out = tmp_path_factory.mktemp("context")
    argv = [sys.executable, "-m", "mlopsc", "build", str(ROOT / "specs" / "churn-local.yaml"), "--tag", TAG,
            "--base", base_image, "--constraints", str(ROOT / "constraints.txt"), "--out", str(out / "ctx")]
    if os.environ.get("PIP_CERT"):
        argv += ["--pip-cert", os.environ["PIP_CERT"]]
    if os.environ.get("PIP_FIND_LINKS"):
        argv += ["--find-links", os.environ["PIP_FIND_LINKS"]]
    proc = subprocess.run(argv, capture_output=True, text=True, env=docker_env, cwd=out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"built {TAG}" in proc.stdout
    return out / "ctx"


def test_the_image_runs_mlopsc_and_its_dockerfile_passes_hadolint(built, docker_env):
    version = _docker("run", "--rm", "--network", "host", TAG, "mlopsc", "--version", env=docker_env)
    assert version.returncode == 0 and version.stdout.startswith("mlopsc, version"), version.stderr
    lint = subprocess.run([str(Path(sys.executable).parent / "hadolint"), str(built / "Dockerfile")],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    listing = _docker("run", "--rm", TAG, "sh", "-c", "id -u; ls /opt/mlopsc/project", env=docker_env).stdout.split()
    assert listing[0] == "0", "SageMaker's training and processing contracts run the image as root"
    assert {"churn-local.yaml", "churn_local"} <= set(listing[1:])


def test_sagemaker_training_entry_runs_the_step_from_its_env(built, docker_env):
    """SageMaker starts a training image as `IMAGE train`; the step argv is MLOPSC_STEP_ARGV."""
    argv = ["mlopsc", "step", "fail", "--spec", "/opt/mlopsc/project/churn-local.yaml", "--target", "sagemaker",
            "--arg", "message=gate: auc 0.61 < 0.80"]
    proc = _docker("run", "--rm", "--network", "host", "-e", f"MLOPSC_STEP_ARGV={json.dumps(argv)}", TAG, "train",
                   env=docker_env)
    assert proc.returncode == 1, proc.stderr
    assert "gate: auc 0.61 < 0.80" in proc.stderr and "Traceback" not in proc.stderr


def test_a_validate_step_runs_in_its_own_container_with_only_mounted_storage(built, docker_env, tmp_path):
    data = tmp_path / "storage" / "data"
    data.mkdir(parents=True)
    gen = ("import sys; sys.path.insert(0, 'specs/churn_local'); import make_data; from pathlib import Path; "
           f"make_data.generate(6000, seed=1).to_parquet(Path({str(data)!r}) / 'customers.parquet'); "
           f"make_data.generate(1500, seed=2).to_parquet(Path({str(data)!r}) / 'holdout.parquet')")
    subprocess.run([sys.executable, "-c", gen], cwd=ROOT, check=True)
    out = tmp_path / "outputs"
    out.mkdir()
    proc = _docker(
        "run", "--rm", "--network", "host",
        "-v", f"{data}:/opt/mlopsc/project/churn_local/data:ro", "-v", f"{out}:/outputs",
        TAG, "mlopsc", "step", "validate", "--spec", "/opt/mlopsc/project/churn-local.yaml", "--target", "local",
        "--pipeline", "train", "--step", "validate-data",
        "--output", "data=/outputs/data", "--output", "report=/outputs/report.json", env=docker_env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report and (out / "data" / "customers.parquet").is_file()
    versions = json.loads((out / "data" / "versions.json").read_text())
    assert set(versions) >= {"customers", "holdout"}
