"""Datasets read from S3 (moto's server), GCS (an emulator), DVC remotes and disk, each with the
version actually read; every failure one line naming the dataset."""

from __future__ import annotations

import hashlib
import io

import pandas as pd
import pytest
from mlopsc.runtime import storage
from servers import gcs_emulator, s3_buckets


def _parquet(rows: int, seed: int) -> bytes:
    df = pd.DataFrame({"customer_id": [f"c{seed}-{i}" for i in range(rows)], "spend": [float(i) for i in range(rows)]})
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


@pytest.fixture(scope="module")
def s3():
    with s3_buckets() as client:
        yield client


def _fresh_fs_cache():
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # an earlier server's endpoint must not be reused


def test_s3_versioned_object_records_its_version_and_reads_exactly_it(s3, tmp_path):
    _fresh_fs_cache()
    v1 = s3.put_object(Bucket="data", Key="churn/customers.parquet", Body=_parquet(3, 1))["VersionId"]
    v2 = s3.put_object(Bucket="data", Key="churn/customers.parquet", Body=_parquet(5, 2))["VersionId"]
    latest = storage.resolve("customers", "s3://data/churn/customers.parquet", "latest", tmp_path)
    assert latest.version == f"s3:versionId:{v2}" and v1 != v2
    assert len(storage.read_table(latest)) == 5
    pinned = storage.resolve("customers", "s3://data/churn/customers.parquet", f"s3:versionId:{v1}", tmp_path)
    assert pinned.version == f"s3:versionId:{v1}"
    assert storage.read_table(pinned)["customer_id"].tolist() == ["c1-0", "c1-1", "c1-2"]


def test_s3_unversioned_object_records_its_etag(s3, tmp_path):
    _fresh_fs_cache()
    body = _parquet(2, 3)
    s3.put_object(Bucket="plain", Key="x.parquet", Body=body)
    r = storage.resolve("x", "s3://plain/x.parquet", None, tmp_path)
    assert r.version == f"s3:etag:{hashlib.md5(body).hexdigest()}"


def test_s3_errors_are_one_line_and_name_the_dataset(s3, tmp_path, monkeypatch):
    _fresh_fs_cache()
    with pytest.raises(storage.StorageError, match=r"^dataset 'customers': s3://data/missing.parquet does not exist$"):
        storage.resolve("customers", "s3://data/missing.parquet", "latest", tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    _fresh_fs_cache()
    with pytest.raises(storage.StorageError) as err:
        storage.resolve("customers", "s3://data/churn/customers.parquet", "latest", tmp_path)
    message = str(err.value)
    assert message.startswith("dataset 'customers': cannot reach s3://data/churn/customers.parquet") and "\n" not in message


def test_gcs_object_records_its_generation():
    from gcsfs.core import (
        GCSFileSystem,  # the JSON-API filesystem an emulator serves (see storage._emulated_gcs)
    )

    with gcs_emulator():
        GCSFileSystem.clear_instance_cache()
        fs = GCSFileSystem(token="anon")
        fs.mkdir("bucket")
        fs.pipe("bucket/holdout.parquet", _parquet(4, 7))
        r = storage.resolve("holdout", "gs://bucket/holdout.parquet", "", None)
        assert r.version.startswith("gs:generation:") and r.version != "gs:generation:None"
        assert len(storage.read_table(r)) == 4
        with pytest.raises(storage.StorageError, match="dataset 'holdout': gs://bucket/nope.parquet does not exist"):
            storage.resolve("holdout", "gs://bucket/nope.parquet", "", None)


def test_local_file_records_its_content_hash_and_a_pinned_version_must_match(tmp_path):
    path = tmp_path / "d.parquet"
    path.write_bytes(_parquet(2, 1))
    r = storage.resolve("d", "d.parquet", "latest", tmp_path)
    assert r.version == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert storage.resolve("d", "d.parquet", r.version, tmp_path) == r
    with pytest.raises(storage.StorageError, match="version sha256:0 was requested"):
        storage.resolve("d", "d.parquet", "sha256:0", tmp_path)
    with pytest.raises(storage.StorageError, match="does not exist"):
        storage.resolve("d", "nope.parquet", "latest", tmp_path)


def _dvc_project(root, remote: str, md5: str) -> None:
    (root / ".dvc").mkdir()
    (root / ".dvc" / "config").write_text(f"[core]\n    remote = storage\n['remote \"storage\"']\n    url = {remote}\n")
    (root / "data").mkdir()
    (root / "data" / "customers.parquet.dvc").write_text(f"outs:\n- md5: {md5}\n  size: 10\n  path: customers.parquet\n")


def test_dvc_file_resolves_to_the_remote_object_and_checks_its_md5(s3, tmp_path):
    _fresh_fs_cache()
    body = _parquet(6, 4)
    md5 = hashlib.md5(body).hexdigest()
    s3.put_object(Bucket="plain", Key=f"dvcstore/files/md5/{md5[:2]}/{md5[2:]}", Body=body)
    _dvc_project(tmp_path, "s3://plain/dvcstore", md5)
    r = storage.resolve("customers", "s3://acme/customers.parquet", "dvc:data/customers.parquet.dvc", tmp_path)
    assert r.version == f"dvc:md5:{md5}" and r.uri.endswith(f"/files/md5/{md5[:2]}/{md5[2:]}")
    assert len(storage.read_table(r)) == 6


def test_a_wrong_dvc_md5_is_a_one_line_error(s3, tmp_path):
    _fresh_fs_cache()
    body = _parquet(2, 5)
    md5 = hashlib.md5(body).hexdigest()
    wrong = "0" * 32
    s3.put_object(Bucket="plain", Key=f"bad/files/md5/{wrong[:2]}/{wrong[2:]}", Body=body)  # corrupted cache
    _dvc_project(tmp_path, "s3://plain/bad", wrong)
    r = storage.resolve("customers", "s3://acme/customers.parquet", "dvc:data/customers.parquet.dvc", tmp_path)
    with pytest.raises(storage.StorageError, match=f"does not match the md5 {wrong} of its .dvc file"):
        storage.read_bytes(r)
    missing = tmp_path / "other"
    missing.mkdir()
    _dvc_project(missing, "s3://plain/bad", md5)
    with pytest.raises(storage.StorageError, match="dataset 'customers': s3://plain/bad/files/md5/.* does not exist"):
        storage.resolve("customers", "s3://acme/customers.parquet", "dvc:data/customers.parquet.dvc", missing)
