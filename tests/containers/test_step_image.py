"""`mlopsc build` makes the image every step runs: it runs mlopsc, passes hadolint, runs as root,
and starts a SageMaker training step as `IMAGE train`. The pipelines run in containers of it in
test_kfp_pipelines.py and test_sagemaker_pipeline.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[2]


def _docker(*args: str, env: dict, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, env=env, check=check)


@pytest.fixture(scope="module")
def built(cloud_images):
    """(tag, build context) of the example's image (data in S3)."""
    tag, spec = cloud_images["s3"]
    return tag, spec.parent / "build" / "image"


def test_the_image_runs_mlopsc_and_its_dockerfile_passes_hadolint(built, docker_env):
    TAG, context = built
    version = _docker("run", "--rm", "--network", "host", TAG, "mlopsc", "--version", env=docker_env)
    assert version.returncode == 0 and version.stdout.startswith("mlopsc, version"), version.stderr
    lint = subprocess.run([str(Path(sys.executable).parent / "hadolint"), str(context / "Dockerfile")],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    listing = _docker("run", "--rm", TAG, "sh", "-c", "id -u; ls /opt/mlopsc/project", env=docker_env).stdout.split()
    assert listing[0] == "0", "SageMaker's training and processing contracts run the image as root"
    assert {"churn.yaml", "churn_local"} <= set(listing[1:])


def test_sagemaker_training_entry_runs_the_step_from_its_env(built, docker_env, tmp_path):
    """SageMaker starts a training image as `IMAGE train`; the step argv is MLOPSC_STEP_ARGV, and
    a failure is written to /opt/ml/output/failure, where SageMaker reads the FailureReason."""
    TAG, _ = built
    argv = ["mlopsc", "step", "fail", "--spec", "/opt/mlopsc/project/churn.yaml", "--target", "sagemaker",
            "--arg", "message=gate: auc 0.61 < 0.80"]
    output = tmp_path / "output"
    output.mkdir()
    proc = _docker("run", "--rm", "--network", "host", "-v", f"{output}:/opt/ml/output",
                   "-e", f"MLOPSC_STEP_ARGV={json.dumps(argv)}", TAG, "train", env=docker_env)
    assert proc.returncode == 1, proc.stderr
    assert "gate: auc 0.61 < 0.80" in proc.stderr and "Traceback" not in proc.stderr
    assert (output / "failure").read_text() == "step fail failed: gate: auc 0.61 < 0.80"
