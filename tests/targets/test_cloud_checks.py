"""What every cloud target checks and fixes for steps that each run in their own container of the
step image: the spec's fixed path inside the image, a tracking store every step reaches (E701),
and an image registry the platform pulls from (W702)."""

from __future__ import annotations

import os

import pytest
import yaml
from mlopsc import api, targets
from mlopsc.contract import parse_argv
from mlopsc.targets.cloud import local_store, registry_of

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLOUD = ["kubeflow", "sagemaker", "vertex"]
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn"
ARTIFACT_REGISTRY = "us-central1-docker.pkg.dev/acme-ml/images/churn"
GCR = "gcr.io/acme-ml/churn"


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def _argvs(files) -> list[list[str]]:
    from test_contract import emitted_argvs

    return emitted_argvs(files)


@pytest.mark.parametrize("name", targets.names())
def test_steps_get_the_spec_where_they_run(at_root, name):
    """Cloud steps run in the image: `/opt/mlopsc/project/churn.yaml` whatever directory compile ran
    from; the local plan's steps run in the checkout: the path compile was given."""
    project = api.load_project("specs/churn.yaml")
    target = targets.get(name)
    expected = "specs/churn.yaml" if name == "local" else "/opt/mlopsc/project/churn.yaml"
    assert target.spec_ref(project) == expected
    files, _ = target.compile(project)
    specs = {parse_argv(argv).spec for argv in _argvs(files)}
    assert specs == {expected}, (name, specs)


def test_sagemaker_models_and_kserve_custom_servers_read_the_spec_in_the_image(at_root, tmp_path):
    project = api.load_project("specs/churn.yaml")
    files = {f.path: f.content for f in targets.get("sagemaker").compile(project)[0]}
    assert '"MLOPSC_SPEC": "/opt/mlopsc/project/churn.yaml"' in files["pipelines/train.json"]
    assert '"MLOPSC_SPEC": "/opt/mlopsc/project/churn.yaml"' in files["cloudformation/deploy-production.json"]
    with open("specs/churn.yaml", encoding="utf-8") as f:
        tree = yaml.safe_load(f)
    tree["deployment"]["serving"]["runtime"] = "custom"
    spec = tmp_path / "custom.yaml"
    spec.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    files = {f.path: f.content for f in targets.get("kubeflow").compile(api.load_project(str(spec)))[0]}
    service = yaml.safe_load(files["serving/production.inferenceservice.yaml"])
    # KServe mounts the model at /mnt/models; the custom server needs no spec, only the model's name
    assert service["spec"]["predictor"]["containers"][0]["command"] == [
        "python", "-m", "mlopsc.runtime.kserve_serve", "--model-name", "churn-classifier-production"]


@pytest.mark.parametrize("uri,local", [
    (None, True), ("", True), ("sqlite:///mlflow.db", True), ("sqlite:////tmp/mlflow.db", True),
    ("file:///tmp/mlruns", True), ("FILE:./mlruns", True), ("./mlruns", True), ("mlruns", True),
    ("/var/mlflow", True), ("C:\\mlruns", True), ("sqlite:///${env:HOME}/x.db", True),
    ("${env:MLFLOW_TRACKING_URI}", False), ("${secret:team/mlflow}", False), ("http://mlflow:5000", False),
    ("https://mlflow.acme.example", False), ("databricks", True), ("databricks://profile", False),
    ("${env:MLFLOW_HOST}/api", False),
])
def test_which_tracking_uris_are_local_stores(uri, local):
    # `databricks` alone has no scheme, so it reads as a path: the spec writes `databricks://`
    assert local_store(uri) is local


def _spec(tmp_path, tracking: str | None, repository: str | None = None) -> str:
    with open(os.path.join(ROOT, "specs", "churn.yaml"), encoding="utf-8") as f:
        text = f.read()
    old = "  uri: ${env:MLFLOW_TRACKING_URI}         # local default: an embedded SQLite store\n"
    assert old in text
    text = text.replace(old, f"  uri: {tracking}\n" if tracking is not None else "")
    if repository is not None:
        text = text.replace(f"repository: {ECR}", f"repository: {repository}")
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _line_of(path: str, needle: str) -> int:
    with open(path, encoding="utf-8") as f:
        return next(i for i, line in enumerate(f, 1) if needle in line)


@pytest.mark.parametrize("name", CLOUD)
@pytest.mark.parametrize("uri", ["sqlite:///.mlopsc/mlflow.db", "file:///tmp/mlruns"])  # the schema takes URIs only
def test_a_local_tracking_store_is_a_located_error_on_cloud_targets(tmp_path, name, uri):
    spec = _spec(tmp_path, uri)
    files, found = targets.get(name).compile(api.load_project(spec))
    errors = [d for d in found if d.severity == "error"]
    assert files == [] and [d.code for d in errors] == ["E701"], [d.text() for d in found]
    d = errors[0]
    line = _line_of(spec, f"uri: {uri}")
    assert (d.line, d.col) == (line, 8)  # the value of tracking.uri
    assert f"the local tracking store `{uri}`" in d.message and "its own container" in d.message
    assert "${env:MLFLOW_TRACKING_URI}" in d.hint and "http(s)://" in d.hint


@pytest.mark.parametrize("name", CLOUD)
def test_no_tracking_uri_is_an_error_at_the_tracking_section(tmp_path, name):
    spec = _spec(tmp_path, None)
    _, found = targets.get(name).compile(api.load_project(spec))
    errors = [d for d in found if d.code == "E701"]
    assert len(errors) == 1 and "the default tracking store" in errors[0].message
    assert errors[0].line == _line_of(spec, "tracking:") + 1  # inside the section, where `uri` goes


@pytest.mark.parametrize("name", CLOUD)
def test_a_spec_without_a_tracking_section_is_an_error_at_its_root(tmp_path, name):
    with open(os.path.join(ROOT, "specs", "churn.yaml"), encoding="utf-8") as f:
        tree = yaml.safe_load(f)
    del tree["tracking"]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    _, found = targets.get(name).compile(api.load_project(str(path)))
    errors = [d for d in found if d.code == "E701"]
    assert len(errors) == 1 and (errors[0].line, errors[0].col) == (1, 1)


@pytest.mark.parametrize("uri", ["${env:MLFLOW_TRACKING_URI}", "${secret:mlflow_uri}", "https://mlflow.acme.example",
                                 "databricks://prod"])
def test_a_shared_tracking_store_compiles_everywhere(tmp_path, uri):
    project = api.load_project(_spec(tmp_path, uri))
    for name in targets.names():
        files, found = targets.get(name).compile(project)
        assert files and not [d for d in found if d.severity == "error"], (name, [d.text() for d in found])


def test_the_local_target_keeps_its_embedded_store(tmp_path):
    for uri in ("sqlite:///.mlopsc/mlflow.db", None):
        files, found = targets.get("local").compile(api.load_project(_spec(tmp_path, uri)))
        assert files and not [d for d in found if d.code == "E701"]


def test_registries_are_told_apart():
    assert registry_of(ECR) == "aws" and registry_of("1.dkr.ecr.cn-north-1.amazonaws.com.cn/x") == "aws"
    assert registry_of(ARTIFACT_REGISTRY) == "gcp" and registry_of(GCR) == "gcp"
    assert registry_of("eu.gcr.io/p/x") == "gcp"
    for other in (None, "churn", "ghcr.io/acme/churn", "registry.acme.example/churn", "docker.io/library/python"):
        assert registry_of(other) is None


@pytest.mark.parametrize("name,repository,warned", [
    ("vertex", ECR, True), ("vertex", ARTIFACT_REGISTRY, False), ("vertex", GCR, False),
    ("sagemaker", ARTIFACT_REGISTRY, True), ("sagemaker", GCR, True), ("sagemaker", ECR, False),
    ("kubeflow", ECR, False), ("kubeflow", ARTIFACT_REGISTRY, False),  # Kubeflow runs on any cloud
    ("vertex", "ghcr.io/acme/churn", False), ("sagemaker", "ghcr.io/acme/churn", False),
])
def test_an_image_in_another_clouds_registry_is_a_warning_at_image_repository(tmp_path, name, repository, warned):
    spec = _spec(tmp_path, "${env:MLFLOW_TRACKING_URI}", repository)
    files, found = targets.get(name).compile(api.load_project(spec))
    assert files  # a warning: the pipeline is still written
    notes = [d for d in found if d.code == "W702" and "image.repository" in d.message]
    if not warned:
        assert notes == []
        return
    assert len(notes) == 1 and notes[0].severity == "warning"
    assert (notes[0].line, notes[0].col) == (_line_of(spec, "repository:"), 15)
    home = "Amazon ECR" if name == "sagemaker" else "Google Artifact Registry"
    assert f"push the image to {home}" in notes[0].message
