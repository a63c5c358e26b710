"""`mlopsc init` -> `mlopsc run`: the tabular scaffold trains, evaluates, registers and deploys
on this machine with no edits (real processes, MLflow SQLite, model servers on 127.0.0.1)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_init_then_run_works_with_no_edits(tmp_path):
    project = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "MLFLOW_"))}
    mlopsc = [sys.executable, "-m", "mlopsc"]
    init = subprocess.run([*mlopsc, "init", str(project)], capture_output=True, text=True, env=env, check=False)
    assert init.returncode == 0, init.stderr
    subprocess.run(["git", "init", "-q", str(project)], check=True, env=env)
    run = subprocess.run([*mlopsc, "run", "mlops.yaml", "--approve"], cwd=project, capture_output=True, text=True,
                         env=env, timeout=900, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    for step in ("validate-data", "train", "evaluate", "register", "deploy-staging", "smoke-test-staging",
                 "deploy-production"):
        assert any(line.split()[:2] == [step, "ok"] for line in run.stdout.splitlines()), step
    assert "HTTP 200" in run.stdout
