"""`mlopsc run` on the example: resolve-data runs every time, and validate-data is served from the
cache exactly while the data it would read is unchanged (as a scheduled run on a platform cache)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path):
    shutil.copy(ROOT / "specs" / "churn-local.yaml", tmp_path / "churn-local.yaml")
    shutil.copytree(ROOT / "specs" / "churn_local", tmp_path / "churn_local",
                    ignore=shutil.ignore_patterns("data", "__pycache__"))
    subprocess.run([sys.executable, str(tmp_path / "churn_local" / "make_data.py")], check=True, capture_output=True)
    (tmp_path / "work").mkdir()
    return tmp_path


def _run(project: Path) -> dict[str, str]:
    """One `mlopsc run` of the train pipeline up to validate-data: step name -> status."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.run([sys.executable, "-m", "mlopsc", "run", str(project / "churn-local.yaml"), "--pipeline",
                           "train", "--until", "validate-data", "--workdir", str(project / "work")],
                          capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if line.startswith("  ") and len(parts) >= 4 and parts[3] == "s":
            found[parts[0]] = parts[1]
    return found


def _state(project: Path) -> tuple[str, str]:
    """validate-data's cache key and the customers version resolve-data found."""
    mlopsc = project / "work" / ".mlopsc"
    key = json.loads((mlopsc / "cache" / "train" / "validate-data.json").read_text())["key"]
    version = json.loads((mlopsc / "runs" / "train" / "resolve-data" / "version_customers").read_text())
    return key, version


def test_changed_data_misses_the_cache_and_unchanged_data_hits_it(project):
    assert _run(project) == {"resolve-data": "ok", "validate-data": "ok"}
    key1, version1 = _state(project)
    assert version1.startswith("sha256:")

    assert _run(project) == {"resolve-data": "ok", "validate-data": "cached"}  # resolve-data is never cached
    assert _state(project) == (key1, version1)

    data = project / "churn_local" / "data" / "customers.parquet"
    df = pd.read_parquet(data)
    df.loc[0, "monthly_spend"] = float(df.loc[0, "monthly_spend"]) + 1.0  # one value of one row: new data
    df.to_parquet(data, index=False)
    assert _run(project) == {"resolve-data": "ok", "validate-data": "ok"}
    key2, version2 = _state(project)
    assert version2 != version1 and key2 != key1

    assert _run(project) == {"resolve-data": "ok", "validate-data": "cached"}
    assert _state(project) == (key2, version2)
