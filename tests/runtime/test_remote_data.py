"""Steps reading datasets from object storage, each step its own `mlopsc step` process as a
platform would run it: S3 from moto's server, GCS from an emulator, DVC remotes. The version
actually read reaches `versions.json`, the training run's inputs and the registered model's
lineage; every failure (missing object, unreachable bucket, wrong DVC md5, dead tracking
server) is one line naming the dataset or store, and nothing is registered."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from servers import gcs_emulator, s3_buckets

SPEC = """\
apiVersion: mlopsc/v1
name: remote-data
owner: ml@acme.example
data:
  label: churned
  datasets:
    customers:
      uri: {uri}
      format: parquet{version}
      schema:
        customer_id: {{type: string, nullable: false, unique: true}}
        spend: {{type: number, min: 0}}
        churned: {{type: boolean}}
      checks: {{min_rows: 4}}
training:
  entrypoint: train.py:train
  framework: custom
tracking:
  backend: mlflow
  experiment: remote-data
registry:
  model: remote-data
"""

TRAIN = '''
class Rate:
    """Predicts the training churn rate for every row."""

    def __init__(self, rate):
        self.rate = rate

    def predict(self, df):
        return [self.rate] * len(df)


def train(data, hyperparameters, *, label):
    rate = float(data[label].mean())
    return Rate(rate), {"churn_rate": rate}
'''


def _parquet(rows: int) -> bytes:
    df = pd.DataFrame({"customer_id": [f"c{i}" for i in range(rows)], "spend": [float(i) for i in range(rows)],
                       "churned": [i % 3 == 0 for i in range(rows)]})
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def _project(root: Path, uri: str, version: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.py").write_text(textwrap.dedent(TRAIN))
    spec = root / "mlops.yaml"
    spec.write_text(SPEC.format(uri=uri, version=f"\n      version: {version}" if version else ""))
    return spec


def _step(action: str, spec: Path, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    # A SageMaker step needs a shared tracking store: here, with every step a host process, a
    # SQLite file in the project stands for it, unless the test names a tracking server.
    store = f"sqlite:///{spec.parent / '.mlopsc' / 'mlflow.db'}"
    (spec.parent / ".mlopsc").mkdir(exist_ok=True)
    full_env = {**os.environ, "MLFLOW_TRACKING_URI": store, "MLOPSC_WORKDIR": str(spec.parent), **(env or {})}
    return subprocess.run([sys.executable, "-m", "mlopsc", "step", action, "--spec", str(spec), "--target",
                           "sagemaker", *argv], capture_output=True, text=True, env=full_env, timeout=300,
                          cwd=spec.parent)


def _validate(spec: Path, version: str = "latest", env: dict | None = None) -> subprocess.CompletedProcess:
    out = spec.parent / "out"
    return _step("validate", spec, "--input", f"version_customers={version}", "--output", f"data={out / 'data'}",
                 "--output", f"report={out / 'report.json'}", env=env)


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def _registered(root: Path) -> list[tuple]:
    db = root / ".mlopsc" / "mlflow.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return conn.execute("select name, version from model_versions").fetchall()


@pytest.fixture(scope="module")
def s3():
    with s3_buckets() as client:
        yield client


def test_s3_version_read_is_the_lineage_of_the_registered_model(s3, tmp_path):
    v1 = s3.put_object(Bucket="data", Key="churn/customers.parquet", Body=_parquet(6))["VersionId"]
    s3.put_object(Bucket="data", Key="churn/customers.parquet", Body=_parquet(9))
    spec = _project(tmp_path / "p", "s3://data/churn/customers.parquet")
    proc = _validate(spec, f"s3:versionId:{v1}")
    assert proc.returncode == 0, proc.stderr
    out = spec.parent / "out"
    assert json.loads((out / "data" / "versions.json").read_text()) == {"customers": f"s3:versionId:{v1}"}
    assert len(pd.read_parquet(out / "data" / "customers.parquet")) == 6  # the pinned version, not the latest

    proc = _step("train", spec, "--input", f"data={out / 'data'}", "--output", f"model={out / 'model.json'}",
                 "--output", f"metrics={out / 'metrics.json'}")
    assert proc.returncode == 0, proc.stderr
    proc = _step("register", spec, "--input", f"model={out / 'model.json'}")
    assert proc.returncode == 0, proc.stderr

    from mlflow import MlflowClient

    store = f"sqlite:///{spec.parent / '.mlopsc' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=store, registry_uri=store)  # not the registry an earlier test set
    version = client.get_model_version("remote-data", "1")
    assert version.tags["mlopsc.data.customers"] == f"s3:versionId:{v1}"
    run = client.get_run(version.run_id)
    [logged] = run.inputs.dataset_inputs
    assert logged.dataset.name == "customers" and "s3://data/churn/customers.parquet" in logged.dataset.source
    assert {t.key: t.value for t in logged.tags}["mlopsc.version"] == f"s3:versionId:{v1}"
    assert run.data.tags["mlopsc.model.flavor"] == "pyfunc"


def test_s3_latest_records_the_newest_version(s3, tmp_path):
    s3.put_object(Bucket="data", Key="latest/customers.parquet", Body=_parquet(5))
    newest = s3.put_object(Bucket="data", Key="latest/customers.parquet", Body=_parquet(7))["VersionId"]
    spec = _project(tmp_path, "s3://data/latest/customers.parquet")
    assert _validate(spec).returncode == 0
    assert json.loads((tmp_path / "out" / "data" / "versions.json").read_text()) == \
        {"customers": f"s3:versionId:{newest}"}


def test_an_unversioned_object_pinned_by_its_etag_must_still_hold_it(s3, tmp_path):
    body = _parquet(5)
    s3.put_object(Bucket="plain", Key="customers.parquet", Body=body)
    etag = f"s3:etag:{hashlib.md5(body).hexdigest()}"
    spec = _project(tmp_path, "s3://plain/customers.parquet")
    proc = _validate(spec, etag)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out" / "data" / "versions.json").read_text()) == {"customers": etag}
    s3.put_object(Bucket="plain", Key="customers.parquet", Body=_parquet(6))  # the data changed since
    line = _one_line_error(_validate(spec, etag))
    assert line.startswith(f"error: step validate failed: dataset 'customers': version {etag} was requested "
                           "but s3://plain/customers.parquet now holds s3:etag:")


def test_s3_missing_object_and_unreachable_bucket_are_one_line_naming_the_dataset(s3, tmp_path):
    spec = _project(tmp_path, "s3://data/nowhere/customers.parquet")
    line = _one_line_error(_validate(spec))
    assert line == "error: step validate failed: dataset 'customers': s3://data/nowhere/customers.parquet does not exist"
    line = _one_line_error(_validate(spec, env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                                                "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}))
    assert line.startswith("error: step validate failed: dataset 'customers': cannot reach "
                           "s3://data/nowhere/customers.parquet")
    assert not (tmp_path / "out" / "data").exists() and _registered(tmp_path) == []


def test_a_wrong_dvc_md5_is_one_line_and_nothing_is_written(s3, tmp_path):
    wrong = "0" * 32
    s3.put_object(Bucket="data", Key=f"dvc/files/md5/{wrong[:2]}/{wrong[2:]}", Body=_parquet(5))  # corrupted
    spec = _project(tmp_path, "data/customers.parquet")
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text("[core]\n    remote = storage\n['remote \"storage\"']\n"
                                             "    url = s3://data/dvc\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "customers.parquet.dvc").write_text(f"outs:\n- md5: {wrong}\n  path: customers.parquet\n")
    line = _one_line_error(_validate(spec, "dvc:data/customers.parquet.dvc"))
    assert line.startswith("error: step validate failed: dataset 'customers': s3://data/dvc/files/md5/00/")
    assert line.endswith(f"does not match the md5 {wrong} of its .dvc file")
    assert not (tmp_path / "out" / "data").exists() and _registered(tmp_path) == []


def test_a_dvc_version_reads_the_remote_object_and_records_its_md5(s3, tmp_path):
    body = _parquet(8)
    md5 = hashlib.md5(body).hexdigest()
    s3.put_object(Bucket="data", Key=f"dvc2/files/md5/{md5[:2]}/{md5[2:]}", Body=body)
    spec = _project(tmp_path, "data/customers.parquet")
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text("[core]\n    remote = storage\n['remote \"storage\"']\n"
                                             "    url = s3://data/dvc2\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "customers.parquet.dvc").write_text(f"outs:\n- md5: {md5}\n  path: customers.parquet\n")
    proc = _validate(spec, "dvc:data/customers.parquet.dvc")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out" / "data" / "versions.json").read_text()) == {"customers": f"dvc:md5:{md5}"}
    # the md5 a `resolve_data` step recorded pins the spec's DVC version to that object
    spec = _project(tmp_path, "data/customers.parquet", version="dvc:data/customers.parquet.dvc")
    assert _validate(spec, f"dvc:md5:{md5}").returncode == 0
    line = _one_line_error(_validate(spec, "dvc:md5:" + "1" * 32))
    assert line.startswith(f"error: step validate failed: dataset 'customers': version dvc:md5:{'1' * 32} was "
                           f"requested but data/customers.parquet now holds dvc:md5:{md5}")


def test_gcs_generation_is_recorded_and_a_missing_object_is_one_line(tmp_path):
    from gcsfs.core import GCSFileSystem

    with gcs_emulator():
        GCSFileSystem.clear_instance_cache()
        fs = GCSFileSystem(token="anon")
        fs.mkdir("bucket")
        fs.pipe("bucket/customers.parquet", _parquet(5))
        generation = fs.info("bucket/customers.parquet")["generation"]
        spec = _project(tmp_path / "ok", "gs://bucket/customers.parquet")
        proc = _validate(spec)
        assert proc.returncode == 0, proc.stderr
        assert json.loads((spec.parent / "out" / "data" / "versions.json").read_text()) == \
            {"customers": f"gs:generation:{generation}"}
        spec = _project(tmp_path / "missing", "gs://bucket/gone.parquet")
        line = _one_line_error(_validate(spec))
        assert line == "error: step validate failed: dataset 'customers': gs://bucket/gone.parquet does not exist"


def test_a_dead_tracking_server_is_one_line_naming_it(tmp_path):
    spec = _project(tmp_path, "data/customers.parquet")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "customers.parquet").write_bytes(_parquet(5))
    assert _validate(spec).returncode == 0
    out = tmp_path / "out"
    # no retry settings: the step asks the server's health endpoint once before MLflow's client
    # would retry for minutes
    env = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}
    proc = _step("train", spec, "--input", f"data={out / 'data'}", "--output", f"model={out / 'model.json'}",
                 "--output", f"metrics={out / 'metrics.json'}", env=env)
    line = _one_line_error(proc)
    assert line.startswith("error: step train failed: tracking server http://127.0.0.1:9 does not answer (")
    assert line.endswith("no run was logged")
    assert not (out / "model.json").exists()


@pytest.fixture
def lakefs(s3):
    """lakeFS: its API stand-in (commits of `churn-data`: main -> c2, then c1) and moto as its S3
    gateway, where the repository is the bucket and each commit a key prefix."""
    from servers import lakefs_api

    s3.create_bucket(Bucket="churn-data")
    s3.put_object(Bucket="churn-data", Key="c1/customers.parquet", Body=_parquet(5))
    s3.put_object(Bucket="churn-data", Key="c2/customers.parquet", Body=_parquet(8))
    with lakefs_api({("churn-data", "main"): ["c2", "c1"]}) as (url, problems):
        env = {"LAKECTL_SERVER_ENDPOINT_URL": url, "LAKECTL_CREDENTIALS_ACCESS_KEY_ID": "testing",
               "LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY": "testing",
               "LAKEFS_S3_GATEWAY_URL": s3.meta.endpoint_url}
        yield env
        assert problems == [], problems


def test_lakefs_reads_the_refs_commit_and_records_it(lakefs, tmp_path):
    spec = _project(tmp_path, "lakefs://churn-data/main/customers.parquet")
    proc = _validate(spec, env=lakefs)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out" / "data" / "versions.json").read_text()) == {"customers": "lakefs:commit:c2"}
    assert len(pd.read_parquet(tmp_path / "out" / "data" / "customers.parquet")) == 8  # main's head


def test_lakefs_pinned_commit_reads_that_commit(lakefs, tmp_path):
    spec = _project(tmp_path, "lakefs://churn-data/main/customers.parquet")
    proc = _validate(spec, "lakefs:commit:c1", env=lakefs)
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_parquet(tmp_path / "out" / "data" / "customers.parquet")) == 5


def test_lakefs_unknown_ref_is_one_line(lakefs, tmp_path):
    spec = _project(tmp_path, "lakefs://churn-data/nope/customers.parquet")
    line = _one_line_error(_validate(spec, env=lakefs))
    assert line == ("error: step validate failed: dataset 'customers': lakeFS has no ref 'nope' in repository "
                    "'churn-data' (HTTP 404)")
