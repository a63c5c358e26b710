"""A cached registry-checked step (register, approve, deploy) is trusted without asking MLflow
only while the embedded SQLite store is byte-for-byte where the last successful run left it."""

import os

import pytest

from mlopsc import ir
from mlopsc.runtime.run_state import CacheChecks, Registry, RunStore

STEP = ir.Step(name="register", action="register", kind="register")


class NoQueries(Registry):
    """A registry that fails the test when asked anything (so a trusted answer provably asked nothing)."""

    @property
    def client(self):
        raise AssertionError("the registry was queried")


@pytest.fixture
def setup(tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"x" * 100)
    return CacheChecks(RunStore(tmp_path), NoQueries(f"sqlite:///{db}", "m")), db


def test_an_unchanged_store_is_trusted_without_a_query(setup):
    checks, _ = setup
    assert checks.still_valid(STEP, {}, {"key": "k", "registry": checks.registry.fingerprint()})


def test_a_changed_store_is_asked_again(setup):
    checks, db = setup
    sealed = checks.registry.fingerprint()
    db.write_bytes(b"y" * 101)
    with pytest.raises(AssertionError, match="queried"):
        checks.still_valid(STEP, {}, {"key": "k", "registry": sealed})
    os.utime(db, ns=(1, 1))  # same size, other mtime: asked again too
    with pytest.raises(AssertionError, match="queried"):
        checks.still_valid(STEP, {}, {"key": "k", "registry": [[101, 5], None, None]})


def test_an_unsealed_entry_or_a_tracking_server_is_always_asked(setup, tmp_path):
    checks, _ = setup
    with pytest.raises(AssertionError, match="queried"):
        checks.still_valid(STEP, {}, {"key": "k"})
    server = CacheChecks(RunStore(tmp_path), NoQueries("http://mlflow:5000", "m"))
    assert server.registry.fingerprint() is None
    with pytest.raises(AssertionError, match="queried"):
        server.still_valid(STEP, {}, {"key": "k", "registry": None})


def test_steps_without_registry_effects_need_no_check(setup):
    checks, _ = setup
    assert checks.still_valid(ir.Step(name="train", action="train", kind="training"), {}, None)
