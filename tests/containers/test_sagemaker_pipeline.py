"""The example's train pipeline, compiled for SageMaker, executed step by step under SageMaker's
container contract (sagemaker_local.py): every job its own container of the image `mlopsc build`
made, data and job outputs in S3 (moto's server, which also answers the SageMaker API that
RegisterModel calls), MLflow on 127.0.0.1 with its artifacts in that S3. The project directory is
not mounted; the steps use the spec and code inside the image.
"""

from __future__ import annotations

import json

import pytest
from cloud_project import datasets
from mlopsc import api
from sagemaker_local import Execution, s3_read
from servers import mlflow_server, moto_server

pytestmark = pytest.mark.container

THRESHOLDS = {"auc": (">=", 0.85), "f1": (">=", 0.65), "p95_latency_ms": ("<=", 200)}


def _clients(url: str):
    import boto3

    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    sm = boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1")
    s3.create_bucket(Bucket="acme-ml")
    s3.put_bucket_versioning(Bucket="acme-ml", VersioningConfiguration={"Status": "Enabled"})
    for bucket in ("acme-ml-artifacts", "mlflow-artifacts"):
        s3.create_bucket(Bucket=bucket)
    return s3, sm


def _put_data(s3, seed: int) -> dict[str, str]:
    return {name: "s3:versionId:" + s3.put_object(Bucket="acme-ml", Key=f"churn/{name}", Body=body)["VersionId"]
            for name, body in datasets(seed=seed).items()}


def _packages(sm) -> list[dict]:
    listed = sm.list_model_packages(ModelPackageGroupName="churn-classifier")["ModelPackageSummaryList"]
    return [sm.describe_model_package(ModelPackageName=p["ModelPackageArn"]) for p in listed]


def test_sagemaker_train_pipeline_runs_each_job_in_its_own_container(cloud_images, docker_env, tmp_path):
    tag, spec = cloud_images["s3"]
    result = api.compile_spec(str(spec), ["sagemaker"])
    assert result.ok, [d.text() for d in result.diagnostics]
    definition = json.loads(result.bundles["sagemaker"]["pipelines/train.json"])
    with moto_server() as url:
        s3, sm = _clients(url)
        first = _put_data(s3, seed=1)
        creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}
        with mlflow_server("s3://mlflow-artifacts/", env={**creds, "MLFLOW_S3_ENDPOINT_URL": url}) as tracking:
            cache: dict = {}

            def execute(n: int) -> Execution:
                ex = Execution(definition, {"image": tag, "git_commit": "abc123", "MLFLOW_TRACKING_URI": tracking,
                                            "data_version_customers": "latest", "data_version_holdout": "latest"},
                               s3, sm, tmp_path / f"run{n}", {**creds, "AWS_ENDPOINT_URL": url}, docker_env, cache)
                ex.run()
                return ex

            ex = execute(1)
            assert ex.ran == ["resolve-data", "validate-data", "build-features", "train", "evaluate", "register"]
            # the gate: the condition read `passed` from the evaluation's property file with JsonGet
            evaluation = json.loads(s3_read(s3, ex.properties["evaluate"]["ProcessingOutputConfig"]["Outputs"]
                                            ["evaluation"]["S3Output"]["S3Uri"] + "/evaluation.json"))
            metrics = evaluation["metrics"]
            expected = all((metrics[m] >= v) if op == ">=" else (metrics[m] <= v)
                           for m, (op, v) in THRESHOLDS.items())
            assert evaluation["passed"] is expected is True and ex.properties["evaluate-passed"]["Outcome"] is True
            [package] = _packages(sm)
            # lineage: the S3 object version the run actually read, and the trained model.tar.gz
            assert package["CustomerMetadataProperties"]["data_version_customers"] == first["customers.parquet"]
            model_url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
            assert model_url == ex.properties["train"]["ModelArtifacts"]["S3ModelArtifacts"]
            assert s3_read(s3, model_url)[:2] == b"\x1f\x8b"  # a gzip archive SageMaker can unpack

            # next scheduled run, same data: resolve-data reruns (never cached), the rest is a cache hit
            ex = execute(2)
            assert ex.ran == ["resolve-data", "register"]
            assert ex.cached == ["validate-data", "build-features", "train", "evaluate"]
            # new data in the bucket: its version changes validate-data's arguments, so all reruns
            second = _put_data(s3, seed=2)
            ex = execute(3)
            assert ex.ran == ["resolve-data", "validate-data", "build-features", "train", "evaluate", "register"]
            latest = max(_packages(sm), key=lambda p: p["CreationTime"])
            assert latest["CustomerMetadataProperties"]["data_version_customers"] == second["customers.parquet"]
