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


def _serves_the_model_package(archive: bytes, tag: str, docker_env: dict, root) -> None:
    """SageMaker's inference contract: model.tar.gz unpacked into /opt/ml/model, `IMAGE serve`,
    GET /ping and POST /invocations; no tracking server is given to the endpoint."""
    import io
    import subprocess
    import tarfile
    import time
    import urllib.request

    import pandas as pd
    from cloud_project import parquet
    from servers import free_port

    model = root / "model"
    model.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(model, filter="data")
    port = free_port()
    started = subprocess.run(["docker", "run", "-d", "--rm", "--network", "host", "-v", f"{model}:/opt/ml/model:ro",
                              "-e", f"SAGEMAKER_BIND_TO_PORT={port}", tag, "serve"],
                             capture_output=True, text=True, env=docker_env, check=True)
    container = started.stdout.strip()
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while True:
            try:
                assert urllib.request.urlopen(url + "/ping", timeout=5).status == 200
                break
            except OSError:
                if time.monotonic() > deadline:
                    logs = subprocess.run(["docker", "logs", container], capture_output=True, text=True,
                                          env=docker_env).stderr
                    raise AssertionError("the endpoint never answered /ping:\n" + logs[-2000:]) from None
                time.sleep(1)
        rows = pd.read_parquet(io.BytesIO(parquet(5, seed=7))).drop(columns=["churned"])
        body = json.dumps({"instances": json.loads(rows.to_json(orient="records"))}).encode()
        request = urllib.request.Request(url + "/invocations", data=body, headers={"Content-Type": "application/json"})
        predictions = json.loads(urllib.request.urlopen(request, timeout=60).read())["predictions"]
        assert len(predictions) == 5 and all(0.0 <= float(p) <= 1.0 for p in predictions), predictions
    finally:
        subprocess.run(["docker", "stop", "-t", "5", container], capture_output=True, env=docker_env)


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
            _serves_the_model_package(s3_read(s3, model_url), tag, docker_env, tmp_path / "endpoint")

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
