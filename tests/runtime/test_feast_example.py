"""The local example (specs/churn-local.yaml) with `features.store: feast`, as a user runs it:
`mlopsc run --pipeline train` trains on rows from Feast and registers the model; a model server of
that version answers requests carrying only `customer_id` from the online store, with the
predictions the same model gives inline for the full rows."""

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from feast import FeatureStore
from mlopsc.runtime import localserve
from mlopsc.runtime.serving import load_pyfunc

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    root = tmp_path_factory.mktemp("feast-example")
    text = (ROOT / "specs" / "churn-local.yaml").read_text(encoding="utf-8")
    assert text.count("  store: inline\n") == 1
    (root / "churn-local.yaml").write_text(text.replace("  store: inline\n", "  store: feast\n"), encoding="utf-8")
    shutil.copytree(ROOT / "specs" / "churn_local", root / "churn_local",
                    ignore=shutil.ignore_patterns("data", "__pycache__"))
    subprocess.run([sys.executable, str(root / "churn_local" / "make_data.py")], check=True, capture_output=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    work = root / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "MLOPSC_FEAST_REPO")}
    proc = subprocess.run([sys.executable, "-m", "mlopsc", "run", str(root / "churn-local.yaml"), "--pipeline", "train",
                           "--workdir", str(work)], capture_output=True, text=True, timeout=900, env=env,
                          stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"root": root, "work": work, "out": proc.stdout + proc.stderr}


def test_the_train_pipeline_builds_features_through_feast(example):
    assert "feast: applied 1 view(s)" in example["out"]
    store = FeatureStore(repo_path=str(example["work"] / ".mlopsc" / "feast"))
    assert [v.name for v in store.list_feature_views()] == ["customer_activity"]
    customers = pd.read_parquet(example["root"] / "churn_local" / "data" / "customers.parquet")
    first = customers["customer_id"].iloc[0]
    online = store.get_online_features(features=["customer_activity:monthly_spend"],
                                       entity_rows=[{"customer_id": first}]).to_dict()
    assert online["monthly_spend"][0] == pytest.approx(customers["monthly_spend"].iloc[0])


def test_a_prediction_with_only_the_customer_id(example):
    work = example["work"]
    uri = "sqlite:///" + str(work / ".mlopsc" / "mlflow.db")
    customers = pd.read_parquet(example["root"] / "churn_local" / "data" / "customers.parquet").sample(25, random_state=1)
    info = localserve.start("model", ["--model-uri", "models:/churn-local/1", "--tracking-uri", uri,
                                      "--name", "churn-local", "--version", "1"], work, "feast-example")
    try:
        body = json.dumps({"instances": [{"customer_id": c} for c in customers["customer_id"]]}).encode()
        req = urllib.request.Request(info["url"] + "/predict", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            by_id = json.loads(resp.read())["predictions"]
    finally:
        localserve.stop(info["pid"])
    inline = load_pyfunc("models:/churn-local/1", uri).predict(customers.drop(columns=["churned"]))
    assert by_id == pytest.approx([float(p) for p in inline], abs=1e-6)
    assert len({round(p, 6) for p in by_id}) > 1
