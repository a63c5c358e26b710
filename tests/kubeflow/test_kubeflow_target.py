"""The target as the CLI uses it: files for both specs, capabilities, located diagnostics,
schedules, determinism, no kfp import."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest
from kfp_cases import ROOT
from mlopsc import api, targets
from mlopsc.targets.base import PARTS
from mlopsc.targets.kubeflow import schedule


def test_churn_compiles_to_the_expected_files():
    os.chdir(ROOT)
    result = api.compile_spec("specs/churn.yaml", ["kubeflow"])
    assert result.ok, [d.text() for d in result.diagnostics]
    assert sorted(result.bundles["kubeflow"]) == [
        "README.md", "ci/train-on-code-change.yaml", "feature_repo/feature_store.yaml", "feature_repo/features.py", "manifest.json",
        "pipelines/deploy.yaml", "pipelines/monitor.yaml", "pipelines/train.yaml",
        "schedules/monitor.recurring-run.json", "schedules/train.recurring-run.json",
        "serving/capture-collector.yaml", "serving/production.inferenceservice.yaml", "serving/rollout-rbac.yaml",
        "serving/staging.inferenceservice.yaml", "tuning/train.experiment.yaml"]
    assert all(d.code == "W702" for d in result.diagnostics)


def test_support_assistant_compiles_with_shadow_and_gateway():
    os.chdir(ROOT)
    result = api.compile_spec("specs/support-assistant.yaml", ["kubeflow"])
    assert result.ok, [d.text() for d in result.diagnostics]
    assert sorted(result.bundles["kubeflow"]) == [
        "README.md", "gateway/litellm.yaml", "manifest.json", "pipelines/deploy.yaml", "pipelines/monitor.yaml",
        "pipelines/train.yaml", "schedules/monitor.recurring-run.json",
        "serving/production-shadow.inferenceservice.yaml", "serving/production.inferenceservice.yaml",
        "serving/production.virtualservice.yaml", "serving/rollout-rbac.yaml",
        "serving/staging.inferenceservice.yaml"]
    assert all(d.code == "W702" and d.file == "specs/support-assistant.yaml" for d in result.diagnostics)


def test_self_hosted_route_without_serving_is_located_e701(projects):
    sa = projects["support-assistant"]
    project = dataclasses.replace(sa, llm=dataclasses.replace(sa.llm, serving=None))
    found = targets.get("kubeflow").unsupported(project)
    errors = [d for d in found if d.severity == "error"]
    route = sa.llm.gateway.routes[0]
    assert [(d.file, d.line, d.col, d.code) for d in errors] == [(route.span.file, route.span.line, route.span.col,
                                                                   "E701")]
    assert "kubeflow" in errors[0].message and "self_hosted" in errors[0].message


def test_capabilities_cover_exactly_the_canonical_parts():
    capabilities = targets.get("kubeflow").capabilities
    assert set(capabilities) == set(PARTS)
    assert all(isinstance(v, str) and v for v in capabilities.values())


def test_recurring_run_is_a_kfp_api_body(compiled, projects):
    from kfp_server_api import ApiClient

    project = projects["churn"]
    monitor = schedule.recurring_run(project, project.pipeline("monitor"), compiled[("churn", "monitor")])
    run = ApiClient()._ApiClient__deserialize(json.loads(json.dumps(monitor)), "V2beta1RecurringRun")
    assert run.trigger.cron_schedule.cron == "0 0 6 * * *"
    # every pipeline has a platform spec now (the spec's labels on each pod), so it is nested as
    # kfp.Client nests it
    assert run.mode == "ENABLE"
    assert run.pipeline_spec["pipeline_spec"]["pipelineInfo"]["name"] == "churn-classifier-monitor"
    train = schedule.recurring_run(project, project.pipeline("train"), compiled[("churn", "train")])
    run = ApiClient()._ApiClient__deserialize(json.loads(json.dumps(train)), "V2beta1RecurringRun")
    assert run.trigger.cron_schedule.cron == "0 0 3 * * 0"
    assert set(run.pipeline_spec) == {"pipeline_spec", "platform_spec"}


@pytest.mark.parametrize("cron,expected", [("0 6 * * *", "0 0 6 * * *"), ("@daily", "0 0 0 * * *"),
                                           ("*/15 9-17 * * mon-fri", "0 */15 9-17 * * mon-fri")])
def test_kfp_cron_has_seconds(cron, expected):
    assert schedule.kfp_cron(cron) == expected


def test_compile_path_does_not_import_kfp():
    # (`google` and `google.cloud` are namespace packages that site .pth files import at startup)
    code = ("import sys; from mlopsc import api; api.compile_spec('specs/churn.yaml', ['kubeflow']); "
            "api.compile_spec('specs/support-assistant.yaml', ['kubeflow']); "
            "heavy = ('kfp', 'kfp_server_api', 'kubernetes', 'google.protobuf', 'google.cloud.aiplatform'); "
            "bad = [m for m in sys.modules if m.startswith(heavy)]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
