"""Puts tests/ on sys.path so every test folder can import `reference_files`; keeps one test's
MLflow store out of the next test's subprocesses."""

import os
import sys

import pytest

# `mlflow.set_tracking_uri` (called by the Tracker in-process) writes these into os.environ, and
# `monkeypatch.delenv` of an unset variable records nothing to restore: without this, a store
# from one test's temporary directory reaches every later `mlopsc run` subprocess.
MLFLOW_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def _restore(saved: dict) -> None:
    if "mlflow" in sys.modules:  # its in-process default too (None resets it), which an in-process run reads
        sys.modules["mlflow"].set_tracking_uri(saved["MLFLOW_TRACKING_URI"])
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True, scope="module")
def _restore_mlflow_environment_per_module():
    """Module-scoped fixtures (a trained example shared by a file's tests) set it too."""
    saved = {k: os.environ.get(k) for k in MLFLOW_ENV}
    yield
    _restore(saved)


@pytest.fixture(autouse=True)
def _restore_mlflow_environment():
    saved = {k: os.environ.get(k) for k in MLFLOW_ENV}
    yield
    _restore(saved)
