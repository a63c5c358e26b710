"""The `resolve_data` action: the version each dataset resolves to, as the step's outputs, for a
local file and for a versioned S3 object (moto's server), with every failure one line naming the
dataset; and the cache key of validate-data following that version."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlopsc import api, ir
from mlopsc.runtime import cachekey
from mlopsc.runtime.actions_resolve import resolve_data
from mlopsc.runtime.steps import StepContext, StepFailed
from servers import moto_server

SPEC = """apiVersion: mlopsc/v1
name: tiny
data:
  datasets:
    customers: {{uri: {uri}, format: parquet}}
training: {{entrypoint: train.py:train}}
"""


def _parquet(rows: int) -> bytes:
    buf = io.BytesIO()
    pd.DataFrame({"customer_id": [f"c{i}" for i in range(rows)], "spend": [float(i) for i in range(rows)]}) \
        .to_parquet(buf, index=False)
    return buf.getvalue()


def _project(tmp_path: Path, uri: str):
    spec = tmp_path / "mlops.yaml"
    spec.write_text(SPEC.format(uri=uri), encoding="utf-8")
    return spec, api.load_project(str(spec))


def _resolve(tmp_path: Path, project, requested: str | None = "latest") -> str:
    out = tmp_path / "out" / "version_customers"
    inputs = {"version_customers": requested} if requested is not None else {}
    ctx = StepContext(project, tmp_path, inputs=inputs, outputs={"version_customers": str(out)}, log=lambda _: None)
    resolve_data(ctx)
    return json.loads(out.read_text(encoding="utf-8"))


def test_a_local_file_resolves_to_its_content_hash_and_follows_its_content(tmp_path):
    data = tmp_path / "customers.parquet"
    data.write_bytes(_parquet(3))
    _, project = _project(tmp_path, "customers.parquet")
    first = _resolve(tmp_path, project)
    assert first == "sha256:" + hashlib.sha256(data.read_bytes()).hexdigest()
    assert _resolve(tmp_path, project, requested=None) == first  # no input: the dataset's own version, latest
    data.write_bytes(_parquet(4))
    second = _resolve(tmp_path, project)
    assert second.startswith("sha256:") and second != first
    assert _resolve(tmp_path, project, requested=second) == second  # pinned to what is there


def test_failures_are_one_line_naming_the_dataset(tmp_path):
    _, project = _project(tmp_path, "missing.parquet")
    with pytest.raises(StepFailed) as missing:
        _resolve(tmp_path, project)
    assert "dataset 'customers'" in str(missing.value) and "does not exist" in str(missing.value)
    (tmp_path / "missing.parquet").write_bytes(_parquet(2))
    with pytest.raises(StepFailed) as pinned:
        _resolve(tmp_path, project, requested="sha256:" + "0" * 64)
    assert "dataset 'customers'" in str(pinned.value) and "was requested" in str(pinned.value)
    assert "\n" not in str(missing.value) + str(pinned.value)


def test_sagemaker_form_writes_the_s3_version_into_the_property_file(tmp_path):
    """The argv SageMaker runs (`PATH#KEY` outputs): the property file holds the object's
    VersionId, and a new object version changes it."""
    import boto3
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # an earlier server's endpoint must not be reused
    with moto_server() as url:
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        s3.put_bucket_versioning(Bucket="data", VersioningConfiguration={"Status": "Enabled"})
        spec, _ = _project(tmp_path, "s3://data/customers.parquet")
        report = tmp_path / "outputs" / "outputs.json"

        def run() -> subprocess.CompletedProcess:
            return subprocess.run(
                [sys.executable, "-m", "mlopsc", "step", "resolve_data", "--spec", str(spec), "--target", "sagemaker",
                 "--pipeline", "train", "--step", "resolve-data", "--input", "version_customers=latest",
                 "--output", f"version_customers={report}#version_customers"],
                capture_output=True, text=True, env=dict(os.environ), timeout=120, check=False)

        v1 = s3.put_object(Bucket="data", Key="customers.parquet", Body=_parquet(3))["VersionId"]
        proc = run()
        assert proc.returncode == 0, proc.stderr
        assert json.loads(report.read_text()) == {"version_customers": f"s3:versionId:{v1}"}
        v2 = s3.put_object(Bucket="data", Key="customers.parquet", Body=_parquet(5))["VersionId"]
        assert run().returncode == 0
        assert json.loads(report.read_text()) == {"version_customers": f"s3:versionId:{v2}"} and v1 != v2
        s3.delete_object(Bucket="data", Key="customers.parquet")  # a delete marker: no current object
        proc = run()
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().count("\n") == 0 and "dataset 'customers'" in proc.stderr


def test_validate_datas_key_follows_the_resolved_version():
    """The version input alone moves the key: for remote data the local runner hashes no file,
    so this is what makes a run with new data validate (and retrain) again."""
    project = api.load_project(str(Path(__file__).resolve().parents[2] / "specs" / "churn.yaml"))
    step = project.pipeline("train").step("validate-data")
    versions = [i.source for i in step.inputs if i.name.startswith("version_")]
    assert versions == [ir.FromStep("resolve-data", "version_customers"),
                        ir.FromStep("resolve-data", "version_holdout")]

    def key(customers: str) -> str:
        inputs = {"version_customers": ("param", customers), "version_holdout": ("param", "s3:etag:1")}
        return cachekey.step_key(project, Path("/nonexistent"), step, inputs, cachekey.Hasher())

    assert key("s3:versionId:a") == key("s3:versionId:a")
    assert key("s3:versionId:a") != key("s3:versionId:b")
