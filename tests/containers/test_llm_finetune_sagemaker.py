"""The LLM example's train pipeline compiled for SageMaker and executed under SageMaker's container
contract (sagemaker_local.py): the fine-tune is a TrainingJob of the image `mlopsc build` made (with
the `llm` extra: transformers, peft, the scorers), running the same fine-tune code as `mlopsc run`
on the tiny offline model, which the image carries beside the spec; the eval suite, the gate and
RegisterModel follow. Data in moto's S3, MLflow on 127.0.0.1 with its artifacts in that S3.

What changes from specs/support-local.yaml and why: data at `s3://acme-ml/support/`, a CPU
`ml.m5.large` job (`resources`), the tracking server from the pipeline's parameter, no champion
baseline, approval, deployment or monitoring (not part of the train pipeline).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from conftest import build_image
from mlopsc import api
from sagemaker_local import Execution, s3_read
from servers import mlflow_server, moto_server

pytestmark = pytest.mark.container
ROOT = Path(__file__).resolve().parents[2]
TAG = "mlopsc-support-ci:s3"


def _spec(base_image: str) -> dict:
    spec = yaml.safe_load((ROOT / "specs" / "support-local.yaml").read_text(encoding="utf-8"))
    spec["image"] = {"base": base_image, "repository": TAG.split(":")[0]}
    for name in ("tickets", "eval_cases"):
        spec["data"]["datasets"][name]["uri"] = f"s3://acme-ml/support/{name}.jsonl"
    for key in ("serving", "gateway"):
        spec["llm"].pop(key, None)
    spec["llm"]["fine_tune"]["resources"] = {"cpu": 2, "memory": "4Gi"}
    spec["tracking"] = {"uri": "${env:MLFLOW_TRACKING_URI}", "experiment": "support-local"}
    for key in ("baseline", "max_regression"):
        spec["evals"].pop(key, None)
    spec["registry"].pop("approval", None)
    for key in ("deployment", "monitoring"):
        spec.pop(key, None)
    spec["targets"] = {"sagemaker": {"region": "us-east-1", "role": "arn:aws:iam::123456789012:role/mlops",
                                     "bucket": "s3://acme-ml-artifacts"}}
    return spec


@pytest.fixture(scope="module")
def llm_project(docker_env, base_image, tmp_path_factory):
    project = tmp_path_factory.mktemp("support-sagemaker")
    shutil.copytree(ROOT / "specs" / "support_local", project / "support_local",
                    ignore=shutil.ignore_patterns("model", "__pycache__"))
    subprocess.run([sys.executable, str(project / "support_local" / "make_model.py")], check=True,
                   capture_output=True, timeout=900)
    spec = project / "support.yaml"
    spec.write_text(yaml.safe_dump(_spec(base_image), sort_keys=False), encoding="utf-8")
    build_image(spec, TAG, "sagemaker", docker_env, project / "build" / "image")
    return spec


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name.lstrip("./"): tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_the_sagemaker_fine_tune_job_trains_the_adapter_in_the_image(llm_project, docker_env, tmp_path):
    import boto3

    result = api.compile_spec(str(llm_project), ["sagemaker"])
    assert result.ok, [d.text() for d in result.diagnostics]
    definition = json.loads(result.bundles["sagemaker"]["pipelines/train.json"])
    [train] = [s for s in definition["Steps"] if s["Name"] == "train"]
    assert train["Type"] == "Training" and train["Arguments"]["AlgorithmSpecification"]["ContainerEntrypoint"][2] == "fine_tune"
    with moto_server() as url:
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        sm = boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1")
        s3.create_bucket(Bucket="acme-ml")
        s3.put_bucket_versioning(Bucket="acme-ml", VersioningConfiguration={"Status": "Enabled"})
        for bucket in ("acme-ml-artifacts", "mlflow-artifacts"):
            s3.create_bucket(Bucket=bucket)
        for name in ("tickets", "eval_cases"):
            body = (ROOT / "specs" / "support_local" / "data" / f"{name}.jsonl").read_bytes()
            s3.put_object(Bucket="acme-ml", Key=f"support/{name}.jsonl", Body=body)
        creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        with mlflow_server("s3://mlflow-artifacts/", env={**creds, "MLFLOW_S3_ENDPOINT_URL": url}) as tracking:
            ex = Execution(definition, {"image": TAG, "git_commit": "abc123", "MLFLOW_TRACKING_URI": tracking,
                                        "data_version_tickets": "latest", "data_version_eval_cases": "latest"},
                           s3, sm, tmp_path / "run", {**creds, "AWS_ENDPOINT_URL": url}, docker_env, {})
            ex.run()
            assert ex.ran == ["resolve-data", "validate-data", "train", "evaluate", "register"]
            model_uri = ex.properties["train"]["ModelArtifacts"]["S3ModelArtifacts"]
            model = _members(s3_read(s3, model_uri))  # model.json + the MLflow model carrying the adapter
            assert json.loads(model["model.json"])["model_uri"]
            meta = [v for k, v in model.items() if k.endswith("/mlopsc_llm.json")]
            adapter = [v for k, v in model.items() if k.endswith("/adapter_config.json")]
            assert [json.loads(m) for m in meta] == [{"base_model": "/opt/mlopsc/project/support_local/model",
                                                      "method": "lora"}], sorted(model)
            assert json.loads(adapter[0])["r"] == 8  # the spec's lora block: a peft adapter
            output = _members(s3_read(s3, model_uri.replace("model.tar.gz", "output.tar.gz")))
            metrics = json.loads(output["metrics.json"])
            assert metrics["eval_loss"] < metrics["eval_loss_before"] - 0.5, metrics
            evaluation = json.loads(s3_read(s3, ex.properties["evaluate"]["ProcessingOutputConfig"]["Outputs"]
                                            ["evaluation"]["S3Output"]["S3Uri"] + "/evaluation.json"))
            assert evaluation["passed"] and sorted(evaluation["metrics"]) == [
                "bleu", "contains", "exact_match", "json_valid", "rouge", "score"]
            [package] = sm.list_model_packages(ModelPackageGroupName="support-local")["ModelPackageSummaryList"]
            assert package["ModelPackageStatus"]
