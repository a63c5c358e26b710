"""`submit` against moto's server on 127.0.0.1: create, then update, and read the definition back."""

import io
import os

import pytest
from sm_helpers import compile_spec


@pytest.fixture()
def moto_url(monkeypatch):
    from moto.server import ThreadedMotoServer

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        # moto keeps its backends per process: start every test from an empty account.
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).read()
        yield url
    finally:
        server.stop()


def test_create_then_update_reads_back_unchanged(moto_url, monkeypatch):
    import boto3
    from mlopsc.targets.sagemaker.submit import submit

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the compiled default, unchanged

    project, files, _ = compile_spec("churn.yaml")
    first = submit(project, files, endpoint_url=moto_url, out=io.StringIO())
    assert {r["action"] for r in first} == {"created"}
    changed = dict(files)
    changed["pipelines/train.json"] = files["pipelines/train.json"].replace('"P30D"', '"P7D"')
    second = submit(project, changed, endpoint_url=moto_url, out=io.StringIO())
    assert {r["pipeline"]: r["action"] for r in second}["churn-classifier-train"] == "updated"
    third = submit(project, changed, endpoint_url=moto_url, out=io.StringIO())
    assert {r["action"] for r in third} == {"unchanged"}  # idempotent
    client = boto3.client("sagemaker", endpoint_url=moto_url, region_name="us-east-1")
    for path, text in changed.items():
        if path.startswith("pipelines/"):
            name = "churn-classifier-" + os.path.basename(path).removesuffix(".json")
            assert client.describe_pipeline(PipelineName=name)["PipelineDefinition"] == text
    assert client.describe_model_package_group(ModelPackageGroupName="churn-classifier")


def test_env_parameters_default_to_the_submitting_environment(moto_url, monkeypatch):
    """Scheduled executions pass no parameters: `${env:MLFLOW_TRACKING_URI}` defaults to the value
    where `submit` ran, so they reach the same tracking server; the compiled file stays empty."""
    import json

    import boto3
    from mlopsc.targets.sagemaker.submit import submit

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://mlflow.acme.example")
    project, files, _ = compile_spec("churn.yaml")
    compiled = {p["Name"]: p["DefaultValue"] for p in json.loads(files["pipelines/train.json"])["Parameters"]}
    assert compiled["MLFLOW_TRACKING_URI"] == ""
    submit(project, files, endpoint_url=moto_url, out=io.StringIO())
    client = boto3.client("sagemaker", endpoint_url=moto_url, region_name="us-east-1")
    stored = json.loads(client.describe_pipeline(PipelineName="churn-classifier-train")["PipelineDefinition"])
    defaults = {p["Name"]: p["DefaultValue"] for p in stored["Parameters"]}
    assert defaults == {**compiled, "MLFLOW_TRACKING_URI": "https://mlflow.acme.example"}


def test_dry_run_prints_requests_and_touches_nothing():
    from mlopsc.targets.sagemaker.submit import submit

    project, files, _ = compile_spec("churn.yaml")
    out = io.StringIO()

    class NoClient:
        def __getattr__(self, name):
            raise AssertionError("dry run must not call AWS")

    results = submit(project, files, dry_run=True, out=out, client=NoClient())
    assert [r["action"] for r in results] == ["dry-run"] * 3
    printed = out.getvalue()
    assert '"PipelineName": "churn-classifier-train"' in printed


def test_cli_submit_creates_then_updates(moto_url, tmp_path, monkeypatch):
    """`mlopsc submit --target sagemaker --endpoint-url ...` as a user runs it, twice."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the compiled default, unchanged
    import json
    import shutil
    import subprocess
    import sys

    import boto3
    from mlopsc import api

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    (tmp_path / "specs").mkdir()
    spec = tmp_path / "specs" / "churn.yaml"
    shutil.copy(os.path.join(root, "specs", "churn.yaml"), spec)

    def submit_cli():
        proc = subprocess.run([sys.executable, "-m", "mlopsc", "submit", "specs/churn.yaml", "--target", "sagemaker",
                               "--endpoint-url", moto_url], cwd=tmp_path, capture_output=True, text=True, env=os.environ)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        return {line.split()[1]: line.split()[0].rstrip(":") for line in proc.stdout.splitlines()}

    assert submit_cli() == {f"churn-classifier-{p}": "created" for p in ("train", "deploy", "monitor")}
    spec.write_text(spec.read_text().replace("max_trials: 20", "max_trials: 12"))
    second = submit_cli()
    assert second["churn-classifier-train"] == "updated"
    assert second["churn-classifier-deploy"] == "unchanged"

    monkeypatch.chdir(tmp_path)
    expected = api.compile_spec("specs/churn.yaml", ["sagemaker"]).bundles["sagemaker"]
    client = boto3.client("sagemaker", endpoint_url=moto_url, region_name="us-east-1")
    for name in ("train", "deploy", "monitor"):
        stored = client.describe_pipeline(PipelineName=f"churn-classifier-{name}")["PipelineDefinition"]
        assert stored == expected[f"pipelines/{name}.json"]
    assert '"MaxNumberOfTrainingJobs": 12' in json.dumps(json.loads(expected["pipelines/train.json"]))
