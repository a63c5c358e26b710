"""The runtime platform layer: the registry, the step's platform, what each platform does (or
says it does not do yet), the tracking store's order, local storage."""

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mlopsc.api import load_project
from mlopsc.runtime import platforms
from mlopsc.runtime.platforms import base
from mlopsc.runtime.platforms.storage import DataStorage
from mlopsc.runtime.platforms.tracking_store import embedded_tracking_uri, resolve_tracking_uri
from mlopsc.runtime.steps import StepContext, StepFailed

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "churn-local.yaml"


@pytest.fixture(scope="module")
def project():
    return load_project(str(SPEC))


def _ctx(project, tmp_path, **kw):
    return StepContext(project=project, spec_dir=SPEC.parent, workdir=tmp_path, log=lambda _m: None, **kw)


@pytest.mark.parametrize("name", ["local", "sagemaker", "kubeflow", "vertex"])
def test_every_target_name_resolves_to_its_platform_class(name):
    assert platforms.REGISTRY[name] == f"mlopsc.runtime.platforms.{name}:Platform"
    platform = platforms.platform_for(name)
    assert isinstance(platform, base.Platform)
    assert type(platform).__module__ == f"mlopsc.runtime.platforms.{name}"
    assert type(platform).__name__ == "Platform" and platform.name == name


def test_every_built_in_compile_target_has_a_runtime_platform():
    from mlopsc import targets

    assert platforms.names() == ["kubeflow", "local", "sagemaker", "vertex"]
    assert set(platforms.names()) <= set(targets.names())


def test_an_unknown_target_stops_the_step_naming_the_known_ones():
    with pytest.raises(StepFailed, match=r"no runtime platform for target 'azureml'; known: kubeflow, local, "
                                         r"sagemaker, vertex"):
        platforms.platform_for("azureml")


def test_the_step_target_comes_from_the_contract_only(project, tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPSC_TARGET", "vertex")  # an environment variable no longer decides anything
    ctx = _ctx(project, tmp_path)
    assert platforms.current(ctx).name == "local"  # StepContext's default: a local run
    ctx.target = "sagemaker"  # what `--target sagemaker` sets
    assert platforms.current(ctx).name == "sagemaker"


def test_a_vertex_rollout_step_without_its_compiled_args_stops_and_writes_no_endpoint(tmp_path):
    # the rollout against Vertex's API itself: tests/vertex_rollout
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-m", "mlopsc", "step", "rollout", "--spec", str(SPEC),
                           "--target", "vertex", "--arg", "environment=production", "--input", "model_version=1",
                           "--output", f"endpoint={tmp_path / 'endpoint'}"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "production: the vertex step has no project, region, endpoint_id argument" in proc.stderr
    assert not (tmp_path / "endpoint").exists()


def test_tracking_store_order_explicit_then_spec_then_environment_then_embedded(project, tmp_path, monkeypatch):
    spec_store = dataclasses.replace(project, tracking=dataclasses.replace(project.tracking, uri="${env:TEAM_STORE}"))
    monkeypatch.delenv("TEAM_STORE", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri(None, spec_store) is None  # the Tracker's embedded store
    assert resolve_tracking_uri(None, spec_store, tmp_path) == embedded_tracking_uri(tmp_path)
    assert embedded_tracking_uri(tmp_path) == "sqlite:///" + str((tmp_path / ".mlopsc" / "mlflow.db").resolve())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:5000")
    assert resolve_tracking_uri(None, spec_store) == "http://env:5000"
    monkeypatch.setenv("TEAM_STORE", "http://spec:5000")  # the spec's reference now resolves
    assert resolve_tracking_uri(None, spec_store) == "http://spec:5000"
    assert resolve_tracking_uri("http://flag:5000", spec_store) == "http://flag:5000"


def test_a_step_takes_the_orchestrators_store_before_the_spec(project, tmp_path, monkeypatch):
    """`mlopsc run --tracking-uri X` resolves the order once and hands X to each step process
    through MLFLOW_TRACKING_URI: the spec's own uri must not override it there."""
    spec_store = dataclasses.replace(project, tracking=dataclasses.replace(project.tracking, uri="${env:TEAM_STORE}"))
    monkeypatch.setenv("TEAM_STORE", "http://spec:5000")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://from-run:5000")
    local = platforms.platform_for("local")
    assert local.tracking_uri(_ctx(spec_store, tmp_path)) == "http://from-run:5000"
    assert local.tracking_uri(_ctx(spec_store, tmp_path, args={"tracking_uri": "http://arg:5000"})) == \
        "http://arg:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert local.tracking_uri(_ctx(spec_store, tmp_path)) == "http://spec:5000"


def test_storage_resolves_local_paths_against_the_spec_and_keeps_remote_uris(tmp_path):
    storage = DataStorage()
    assert storage.resolve("data/x.parquet", tmp_path) == tmp_path / "data" / "x.parquet"
    assert storage.resolve("file:///srv/my%20data/x.csv", tmp_path) == Path("/srv/my data/x.csv")
    assert storage.resolve("s3://bucket/x.parquet", tmp_path) == "s3://bucket/x.parquet"
    with pytest.raises(StepFailed, match=re.escape(f"data file {tmp_path / 'missing.csv'} does not exist")):
        storage.read_table(tmp_path / "missing.csv")


def test_storage_reads_a_declared_dataset_relative_to_the_spec(project, tmp_path):
    ds = dataclasses.replace(project.data.datasets[0], uri="gone.parquet", version=None)
    with pytest.raises(StepFailed, match=re.escape(f"dataset '{ds.name}': {tmp_path / 'gone.parquet'} does not exist")):
        DataStorage().read_dataset(ds, tmp_path)


def test_storage_reads_the_version_it_reports_and_refuses_another(tmp_path):
    import pandas as pd

    pd.DataFrame({"a": [1, 2]}).to_parquet(tmp_path / "x.parquet")
    ds = _dataset("x", "x.parquet")
    resolved = DataStorage().resolve_dataset(ds, tmp_path, "latest")
    assert resolved.version.startswith("sha256:") and len(resolved.version) == 71
    assert list(DataStorage().read_resolved(resolved, "parquet")["a"]) == [1, 2]
    with pytest.raises(StepFailed, match=r"^dataset 'x': version sha256:0+ was requested but .* holds sha256:"):
        DataStorage().resolve_dataset(ds, tmp_path, "sha256:" + "0" * 64)


def _dataset(name: str, uri: str):
    from mlopsc.ir_data import Dataset

    return Dataset(name=name, uri=uri, format="parquet", version=None, columns=(), min_rows=None,
                   max_null_fraction=None, schema_from=None)


class _Constant:
    def predict(self, df):
        return [0.5] * len(df)


def test_kubeflow_approval_is_the_registry_alias_a_person_sets(project, tmp_path, monkeypatch):
    """Unattended cloud runs never approve themselves: the step waits for `approved-<env>`."""
    from mlopsc.runtime.steps import run_step
    from mlopsc.runtime.tracking import Tracker

    # set through monkeypatch, so it is undone: MLflow's set_tracking_uri exports the variable
    monkeypatch.setenv("MLFLOW_TRACKING_URI", embedded_tracking_uri(tmp_path))
    monkeypatch.setenv("MLOPSC_APPROVE", "1")  # a local run's switch: it does not count here
    tracker = Tracker(tmp_path, experiment=project.tracking.experiment)
    with tracker.start_run(run_name="train"):
        uri = tracker.log_model(_Constant())
    tracker.register(uri, "churn-local", approval_required_for=("production",))
    monkeypatch.setenv("MLOPSC_APPROVAL_POLL_SECONDS", "0.1")
    approval = dataclasses.replace(project.registry.approval, timeout_seconds=1)  # a short wait
    waiting = dataclasses.replace(project, registry=dataclasses.replace(project.registry, approval=approval))
    ctx = _ctx(waiting, tmp_path, args={"environment": "production"}, inputs={"model_version": "1"},
               target="kubeflow")
    with pytest.raises(StepFailed, match="approval for production timed out after 1s: version 1 of churn-local"):
        run_step("approve", ctx)
    assert tracker.client.get_model_version("churn-local", "1").tags["mlopsc.approval"] == "pending"
    tracker.set_alias("churn-local", "approved-production", "1")
    assert run_step("approve", ctx) == {"version": "1", "approved": True}
    tags = tracker.client.get_model_version("churn-local", "1").tags
    assert tags["mlopsc.approval"] == "approved" and tags["mlopsc.approved_by"] == "alias approved-production"
