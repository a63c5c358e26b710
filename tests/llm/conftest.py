"""The runnable LLM example (specs/support-local.yaml) copied to a temporary directory, with its
tiny base model made offline by the example's own make_model.py (once per session)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.fixture(scope="session")
def support_example(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("support")
    shutil.copy(SPECS / "support-local.yaml", root / "support-local.yaml")
    shutil.copytree(SPECS / "support_local", root / "support_local", ignore=shutil.ignore_patterns("model"))
    subprocess.run([sys.executable, str(root / "support_local" / "make_model.py")], check=True,
                   capture_output=True, timeout=900)
    assert (root / "support_local" / "model" / "config.json").is_file()
    return root
