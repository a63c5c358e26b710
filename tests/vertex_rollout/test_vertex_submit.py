"""`mlopsc submit --target vertex` against a server speaking Vertex's REST API on 127.0.0.1 that
parses every body strictly into aiplatform's messages (PipelineJob, Schedule): one pipeline per
submit with its `--param` values, its Schedule created once and updated on the next submit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vertex_fake import FakeVertexServer

ROOT = Path(__file__).resolve().parents[2]
PARENT = "projects/acme-ml/locations/us-central1"


def _submit(url: str, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLFLOW_TRACKING_URI": "https://mlflow.acme.example"}
    return subprocess.run([sys.executable, "-m", "mlopsc", "submit", "specs/churn.yaml", "--target", "vertex",
                           "--endpoint-url", url, *extra], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_submit_runs_one_pipeline_and_creates_then_updates_its_schedule():
    with FakeVertexServer() as server:
        fake = server.fake
        first = _submit(server.url, "--param", "git_commit=abc123", "--param", "data_version_holdout=gen:7")
        assert first.returncode == 0, first.stderr
        assert fake.rejected == []
        [job] = fake.pipeline_jobs.values()
        assert job["displayName"] == "churn-classifier-train" and job["name"].startswith(PARENT + "/pipelineJobs/")
        values = job["runtimeConfig"]["parameterValues"]
        assert values["git_commit"] == "abc123" and values["data_version_holdout"] == "gen:7"
        assert values["MLFLOW_TRACKING_URI"] == "https://mlflow.acme.example"  # ${env:} from the environment
        assert job["serviceAccount"] == "pipelines@acme-ml.iam.gserviceaccount.com"
        [schedule] = fake.schedules.values()
        assert schedule["displayName"] == "churn-classifier-train-schedule" and schedule["cron"] == "0 3 * * 0"
        assert schedule["createPipelineJobRequest"]["pipelineJob"]["runtimeConfig"]["parameterValues"][
            "git_commit"] == "abc123"
        assert f"submitted: churn-classifier-train {job['name']}" in first.stdout
        assert f"schedule created: churn-classifier-train-schedule {schedule['name']}" in first.stdout

        again = _submit(server.url, "--param", "git_commit=def456")
        assert again.returncode == 0, again.stderr
        assert fake.rejected == [] and len(fake.pipeline_jobs) == 2
        assert list(fake.schedules) == [schedule["name"]]  # updated, not a second one
        updated = fake.schedules[schedule["name"]]
        assert updated["createPipelineJobRequest"]["pipelineJob"]["runtimeConfig"]["parameterValues"][
            "git_commit"] == "def456"
        assert f"schedule updated: churn-classifier-train-schedule {schedule['name']}" in again.stdout
        assert [c for c in fake.calls if c[0] == "PATCH"] == [("PATCH", f"/v1/{schedule['name']}")]


def test_submit_deploy_with_a_version_and_bad_params():
    with FakeVertexServer() as server:
        done = _submit(server.url, "--pipeline", "deploy", "--param", "model_version=7")
        assert done.returncode == 0, done.stderr
        [job] = server.fake.pipeline_jobs.values()
        assert job["displayName"] == "churn-classifier-deploy"
        assert job["runtimeConfig"]["parameterValues"]["model_version"] == "7"
        assert server.fake.schedules == {}  # the deploy pipeline has no schedule
        bad = _submit(server.url, "--pipeline", "deploy", "--param", "model_versoin=7")
        assert bad.returncode == 2 and "model_versoin" in bad.stderr and "model_version" in bad.stderr
        assert len(server.fake.pipeline_jobs) == 1
