"""Bad input met by a step in its own container of the step image: one line naming the dataset
or the store, exit 1, no traceback, nothing registered."""

from __future__ import annotations

import json
import subprocess

import pytest
from cloud_project import datasets
from servers import free_port, moto_server

pytestmark = pytest.mark.container

SPEC = "/opt/mlopsc/project/churn.yaml"
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def _step(tag: str, docker_env: dict, env: dict, *argv: str, mounts: tuple = ()) -> subprocess.CompletedProcess:
    cmd = ["docker", "run", "--rm", "--network", "host"]
    for k, v in env.items():
        cmd += ["-e", f"{k}={v}"]
    for host, inside in mounts:
        cmd += ["-v", f"{host}:{inside}"]
    cmd += [tag, "mlopsc", "step", *argv[:1], "--spec", SPEC, "--target", "kubeflow", "--pipeline", "train", *argv[1:]]
    return subprocess.run(cmd, capture_output=True, text=True, env=docker_env, timeout=300)


def _validate(tag: str, docker_env: dict, env: dict) -> subprocess.CompletedProcess:
    return _step(tag, docker_env, env, "validate", "--step", "validate-data", "--input", "version_customers=latest",
                 "--input", "version_holdout=latest", "--output", "data=/tmp/out/data",
                 "--output", "report=/tmp/out/report.json")


def _one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    [line] = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    return line


def test_an_unreachable_bucket_names_the_dataset_and_the_endpoint(cloud_images, docker_env):
    tag, _ = cloud_images["s3"]
    dead = f"http://127.0.0.1:{free_port()}"
    line = _one_line(_validate(tag, docker_env, {**CREDS, "AWS_ENDPOINT_URL": dead,
                                                 "AWS_MAX_ATTEMPTS": "1"}))
    assert line.startswith("error: step validate failed: dataset 'customers': cannot reach "
                           "s3://acme-ml/churn/customers.parquet: ")
    assert dead in line


def test_a_missing_object_names_the_dataset(cloud_images, docker_env):
    tag, _ = cloud_images["s3"]
    with moto_server() as url:
        import boto3

        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        s3.create_bucket(Bucket="acme-ml")
        s3.put_object(Bucket="acme-ml", Key="churn/holdout.parquet", Body=datasets()["holdout.parquet"])
        line = _one_line(_validate(tag, docker_env, {**CREDS, "AWS_ENDPOINT_URL": url}))
    assert line == "error: step validate failed: dataset 'customers': s3://acme-ml/churn/customers.parquet does not exist"


def test_a_dead_tracking_server_is_one_line_and_nothing_is_registered(cloud_images, docker_env, tmp_path):
    tag, _ = cloud_images["s3"]
    (tmp_path / "model.json").write_text(json.dumps({"run_id": "0" * 32, "model_uri": f"runs:/{'0' * 32}/model"}))
    dead = f"http://127.0.0.1:{free_port()}"
    proc = _step(tag, docker_env, {}, "register", "--step", "register", "--arg", "model=churn-classifier",
                 "--input", "model=/in/model.json", "--input", f"env_MLFLOW_TRACKING_URI={dead}",
                 "--output", "model_version=/tmp/out/version", mounts=((tmp_path, "/in"),))
    assert _one_line(proc) == (f"error: step register failed: tracking server {dead} does not answer "
                               "([Errno 111] Connection refused); no run was logged")


def test_a_step_without_the_tracking_uri_refuses_a_store_inside_its_container(cloud_images, docker_env, tmp_path):
    tag, _ = cloud_images["s3"]
    (tmp_path / "model.json").write_text(json.dumps({"run_id": "0" * 32, "model_uri": f"runs:/{'0' * 32}/model"}))
    proc = _step(tag, docker_env, {}, "register", "--step", "register", "--input", "model=/in/model.json",
                 "--input", "env_MLFLOW_TRACKING_URI=", mounts=((tmp_path, "/in"),))
    line = _one_line(proc)
    assert line.startswith("error: step register failed: tracking store: a kubeflow step needs the shared "
                           "tracking server, but the spec's tracking.uri ${env:MLFLOW_TRACKING_URI} does not resolve")

