"""`features.store: feast` compiles a Feast feature repository on every target: each
feature_store.yaml loads with Feast's own config parser (with the provider and stores of its
platform), and the definitions import and `feast plan` cleanly against the local provider."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from feast.repo_config import load_repo_config
from mlopsc import api

ROOT = Path(__file__).resolve().parents[2]
FEAST = str(Path(sys.executable).with_name("feast"))
EXPECTED = {  # target -> (provider, online store config, where the registry lives)
    "kubeflow": ("local", "RedisOnlineStoreConfig", "s3://acme-ml-artifacts/feast/churn/registry.db"),
    "local": ("local", "SqliteOnlineStoreConfig", "data/registry.db"),
    "sagemaker": ("aws", "DynamoDBOnlineStoreConfig", "s3://acme-ml-artifacts/feast/churn_classifier/registry.db"),
    "vertex": ("gcp", "DatastoreOnlineStoreConfig",
               "gs://acme-ml-artifacts/pipelines/feast/churn_classifier/registry.db"),
}


@pytest.fixture(scope="module")
def compiled():
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = api.compile_spec("specs/churn.yaml", sorted(EXPECTED))
    finally:
        os.chdir(cwd)
    assert result.ok, result.diagnostics
    return result.bundles


def write_repo(tmp_path, bundle, yaml_text=None):
    repo = tmp_path / "feature_repo"
    repo.mkdir()
    (repo / "features.py").write_text(bundle["feature_repo/features.py"], encoding="utf-8")
    (repo / "feature_store.yaml").write_text(yaml_text or bundle["feature_repo/feature_store.yaml"], encoding="utf-8")
    return repo


@pytest.mark.parametrize("target", sorted(EXPECTED))
def test_feature_store_yaml_loads_with_feasts_config_parser(compiled, target, tmp_path):
    repo = write_repo(tmp_path, compiled[target])
    config = load_repo_config(repo, repo / "feature_store.yaml")
    provider, online, registry = EXPECTED[target]
    assert config.project == "churn_classifier"
    assert config.provider == provider
    assert type(config.online_store).__name__ == online
    assert type(config.offline_store).__name__ == "DaskOfflineStoreConfig"  # Feast's `file` store
    assert config.registry.path == registry


def feast_plan(repo, *extra):
    return subprocess.run([FEAST, "--chdir", str(repo), "plan", *extra], capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.parametrize("target", sorted(EXPECTED))
def test_the_definitions_plan_cleanly_against_the_local_provider(compiled, target, tmp_path):
    # every target's definitions, under the local target's store (no cloud reachable here); a
    # cloud target's sources are in object storage, so Feast cannot read them to validate
    repo = write_repo(tmp_path, compiled[target], compiled["local"]["feature_repo/feature_store.yaml"])
    proc = feast_plan(repo, "--skip-source-validation")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Created entity customer" in proc.stdout and "Created feature view customer_activity" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_the_local_repository_plans_with_its_sources_validated(compiled, tmp_path):
    repo = write_repo(tmp_path, compiled["local"])
    (repo / "data").mkdir()
    pd.DataFrame({
        "customer_id": ["C1"], "tenure_months": [3], "monthly_spend": [10.0], "orders_30d": [2],
        "plan": ["basic"], "avg_order_value_30d": [5.0], "tenure_bucket": ["0-6"],
        "event_timestamp": [pd.Timestamp("2026-01-01", tz="UTC")],
    }).to_parquet(repo / "data" / "customer_activity.parquet")
    proc = feast_plan(repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Could not validate" not in proc.stdout + proc.stderr
    assert "Created feature view customer_activity" in proc.stdout


def test_an_inline_store_compiles_no_feature_repository():
    os.chdir(ROOT)
    result = api.compile_spec("specs/churn-local.yaml", ["local"])
    assert result.ok
    assert not [p for p in result.bundles["local"] if p.startswith("feature_repo/")]


def test_kubeflow_without_a_shared_feast_store_is_e701(tmp_path, monkeypatch):
    text = (ROOT / "specs" / "churn.yaml").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith("    feast: {registry:")]
    spec = tmp_path / "churn.yaml"
    spec.write_text("".join(lines), encoding="utf-8")
    shutil.copytree(ROOT / "specs" / "churn_local", tmp_path / "churn_local",
                    ignore=shutil.ignore_patterns("data"))
    monkeypatch.chdir(tmp_path)
    result = api.compile_spec("churn.yaml", ["kubeflow"])
    found = [d for d in result.diagnostics if d.code == "E701"]
    assert len(found) == 1 and "Feast feature store" in found[0].message
    assert "targets.kubeflow.feast" in found[0].hint
    assert found[0].line == next(i for i, line in enumerate(lines, 1) if line.startswith("features:")) + 1
