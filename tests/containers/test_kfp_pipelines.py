"""The example's train pipeline, compiled for Kubeflow and for Vertex, run by kfp's own local
runner with every step in its own container of the image `mlopsc build` made.

Nothing is shared but what the platforms share: the datasets in object storage (moto's S3 server,
the GCS emulator), an MLflow tracking server on 127.0.0.1 whose artifact store is in that object
storage, and kfp.local's pipeline root (a directory it mounts into each container, standing for
the artifact store KFP hands between tasks). The project directory is not mounted: the steps use
the spec and code inside the image. The tracking URI reaches the steps as the run parameter the
spec's `${env:MLFLOW_TRACKING_URI}` compiles to.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cloud_project import datasets
from kfp_local import ir_with_image, run_dirs, run_pipeline
from mlopsc import api
from servers import gcs_emulator, mlflow_server, moto_server

pytestmark = pytest.mark.container

MODEL = "churn-classifier"
THRESHOLDS = {"auc": (">=", 0.85), "f1": (">=", 0.65), "p95_latency_ms": ("<=", 200)}


def _compile_train(spec: Path, target: str, image: str, dest: Path) -> Path:
    result = api.compile_spec(str(spec), [target])
    assert result.ok, [d.text() for d in result.diagnostics]
    ir = dest / f"{target}-train.yaml"
    ir.write_text(ir_with_image(result.bundles[target]["pipelines/train.yaml"], image), encoding="utf-8")
    return ir


def _tracking(url: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=url, registry_uri=url)


def _train_runs(client) -> list:
    exps = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(exps, "attributes.run_name = 'train'") if exps else []


def _versions(client) -> list:
    return sorted(client.search_model_versions(f"name = '{MODEL}'"), key=lambda v: int(v.version))


def _gate_matches_metrics(run_dir: Path) -> bool:
    """The evaluation's decision recomputed from its own metrics and the spec's thresholds."""
    import json

    evaluation = json.loads((run_dir / "evaluate" / "evaluation").read_text())
    metrics = evaluation["metrics"]
    expected = all((metrics[m] >= v) if op == ">=" else (metrics[m] <= v) for m, (op, v) in THRESHOLDS.items())
    assert evaluation["passed"] is expected, evaluation
    return expected


class Store:
    """One object store for a test: where the data goes and how a container reaches it."""

    def __init__(self, scheme: str, put, container_env: dict[str, str], server_env: dict[str, str]):
        self.scheme, self.put, self.container_env, self.server_env = scheme, put, container_env, server_env


def _s3_store(url: str) -> Store:
    import boto3

    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    s3.create_bucket(Bucket="acme-ml")
    s3.put_bucket_versioning(Bucket="acme-ml", VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket="mlflow-artifacts")

    def put(name: str, body: bytes) -> str:
        return "s3:versionId:" + s3.put_object(Bucket="acme-ml", Key=f"churn/{name}", Body=body)["VersionId"]

    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    return Store("s3", put, {**creds, "AWS_ENDPOINT_URL": url}, {**creds, "MLFLOW_S3_ENDPOINT_URL": url})


def _gcs_store(url: str) -> Store:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="acme-ml", credentials=AnonymousCredentials(), client_options={"api_endpoint": url})
    bucket = client.create_bucket("acme-ml")
    client.create_bucket("mlflow-artifacts")

    def put(name: str, body: bytes) -> str:
        blob = bucket.blob(f"churn/{name}")
        blob.upload_from_string(body)
        blob.reload()
        return f"gs:generation:{blob.generation}"

    env = {"STORAGE_EMULATOR_HOST": url}
    return Store("gs", put, env, env)


def _run_and_check(target: str, store: Store, tag: str, spec: Path, tmp: Path, *, changed_data: bool) -> None:
    first = {name: store.put(name, body) for name, body in datasets(seed=1).items()}
    with mlflow_server(f"{store.scheme}://mlflow-artifacts/", env=store.server_env) as tracking:
        ir = _compile_train(spec, target, tag, tmp)
        root, cache = tmp / "root", tmp / "cache"
        args = {"MLFLOW_TRACKING_URI": tracking, "image": tag, "git_commit": "abc123"}
        run_pipeline(ir, root, cache, store.container_env, args)
        client = _tracking(tracking)
        [run_dir] = run_dirs(root)
        passed = _gate_matches_metrics(run_dir)
        versions = _versions(client)
        assert len(versions) == (1 if passed else 0), "register runs exactly when the gate passed"
        assert passed, "the example's model should pass its gate on this data"
        [v1] = versions
        # lineage names the version actually read: the object's own version in the store
        assert v1.tags["mlopsc.data.customers"] == first["customers.parquet"], v1.tags
        assert v1.tags["mlopsc.git_commit"] == "abc123"
        assert v1.source.startswith(("models:/", "mlflow-artifacts:", "runs:/")), v1.source
        trained = len(_train_runs(client))

        # the next scheduled run, nothing changed: every cached step is served from kfp.local's cache
        run_pipeline(ir, root, cache, store.container_env, args)
        assert len(_train_runs(client)) == trained, "unchanged data must not retrain"
        assert len(_versions(client)) == 1, "the cached model is not registered again"
        if not changed_data:
            return
        # new data arrives in the bucket: resolve-data sees its version, everything after it reruns
        second = {name: store.put(name, body) for name, body in datasets(seed=2).items()}
        run_pipeline(ir, root, cache, store.container_env, args)
        assert len(_train_runs(client)) == trained + 1, "new data must retrain"
        versions = _versions(client)
        assert len(versions) == 2 and versions[-1].tags["mlopsc.data.customers"] == second["customers.parquet"]


def test_kubeflow_train_pipeline_runs_each_step_in_its_own_container(cloud_images, tmp_path):
    tag, spec = cloud_images["s3"]
    with moto_server() as url:
        _run_and_check("kubeflow", _s3_store(url), tag, spec, tmp_path, changed_data=True)


def test_vertex_train_pipeline_runs_each_step_in_its_own_container(cloud_images, tmp_path):
    tag, spec = cloud_images["gs"]
    with gcs_emulator() as url:
        _run_and_check("vertex", _gcs_store(url), tag, spec, tmp_path, changed_data=True)
