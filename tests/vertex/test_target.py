"""The target as the CLI uses it: files, diagnostics, rollout wiring, job configs, schedules,
secrets, determinism, submit, no SDK import on compile, and no copied IR-building code."""

import ast
import json
import os
import subprocess
import sys

import pytest
from mlopsc import api, ir
from mlopsc.targets.base import PARTS
from mlopsc.targets.vertex import deploy, gcpc, jobs
from vertex_cases import ROOT


def test_capabilities_cover_exactly_the_parts(vertex):
    assert set(vertex.capabilities) == set(PARTS)


def test_churn_compiles_to_the_expected_files():
    os.chdir(ROOT)
    result = api.compile_spec("specs/churn.yaml", ["vertex"])
    assert result.ok, [d.text() for d in result.diagnostics]
    names = ["deploy", "monitor", "train"]
    assert sorted(result.bundles["vertex"]) == sorted(
        ["README.md", "ci/train-on-code-change.yaml", "feature_repo/feature_store.yaml", "feature_repo/features.py", "manifest.json",
         "schedules/monitor.schedule.json", "schedules/train.schedule.json",
         "jobs/train.hyperparameter-tuning-job.json"]
        + [f"pipelines/{n}.yaml" for n in names] + [f"jobs/{n}.runtime-config.json" for n in names])
    assert all(d.code == "W702" for d in result.diagnostics)


def test_support_assistant_compiles_with_the_gateway():
    os.chdir(ROOT)
    result = api.compile_spec("specs/support-assistant.yaml", ["vertex"])
    assert result.ok, [d.text() for d in result.diagnostics]
    assert {"gateway/config.yaml", "gateway/cloudrun-service.yaml"} <= set(result.bundles["vertex"])
    assert "pipelines/endpoints.yaml" not in result.bundles["vertex"]


def test_shadow_is_a_located_w702(projects, vertex):
    project = projects["support-assistant"]
    found = vertex.unsupported(project)
    assert [d for d in found if d.severity == "error"] == []
    shadow_span = project.deployment.environments[1].strategy.span
    shadow = [d for d in found if (d.line, d.col) == (shadow_span.line, shadow_span.col)]
    assert len(shadow) == 1 and shadow[0].code == "W702" and shadow[0].severity == "warning"
    for words in ("cannot mirror", "0% traffic", "predictRequestResponseLoggingConfig", "samplingRate 0.1",
                  "does not replay the logged sample", "86400s", "rollback rules"):
        assert words in shadow[0].message
    assert all(d.file == "specs/support-assistant.yaml" and "vertex" in d.message for d in found)


def _tasks(spec):
    return {name: task for comp in [spec["root"], *spec["components"].values()]
            for name, task in comp.get("dag", {}).get("tasks", {}).items()}


def test_endpoint_ids_are_chosen_by_mlopsc(projects):
    sa = projects["support-assistant"]
    assert [deploy.endpoint_id(sa, e) for e in sa.deployment.environments] == [
        "support-assistant-staging", "support-assistant-production"]


@pytest.mark.parametrize("name,env,expected", [
    ("churn-classifier", "production", "churn-classifier-production"),
    ("Churn_Classifier", "prod.eu", "churn-classifier-prod-eu"),
    ("9lives", "staging", "e-9lives-staging"),
    ("a" * 70, "production", None),
])
def test_endpoint_id_format(projects, name, env, expected):
    import dataclasses
    import hashlib
    import re

    project = dataclasses.replace(projects["churn"], name=name)
    environment = dataclasses.replace(project.deployment.environments[0], name=env)
    found = deploy.endpoint_id(project, environment)
    # CreateEndpointRequest.endpoint_id (google-cloud-aiplatform 2.7, aiplatform_v1): starting with a
    # letter, at most 63 characters of [a-z0-9-], the last a letter or digit
    assert re.fullmatch(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?", found)
    if expected:
        assert found == expected
    else:
        digest = hashlib.sha256(f"{name}-{env}".encode()).hexdigest()[:8]
        assert len(found) == 63 and found == "a" * 54 + "-" + digest


def test_installed_proto_documents_the_endpoint_id_format():
    from google.cloud.aiplatform_v1.types import endpoint_service

    doc = " ".join(endpoint_service.CreateEndpointRequest.__doc__.split())
    assert "If the first character is a letter, this value may be up to 63 characters, and valid " \
           "characters are ``[a-z0-9-]``. The last character must be a letter or number." in doc
    assert "endpoint_id" in endpoint_service.CreateEndpointRequest.meta.fields


def test_plan_step_creates_the_endpoint_with_its_id(compiled):
    _, c = compiled[("support-assistant", "deploy")]
    args = c.spec["deploymentSpec"]["executors"]["exec-endpoint-production"]["container"]["args"]
    assert "endpoint_id=support-assistant-production" in args
    assert "endpoint_display_name=support-assistant-production" in args
    labels = json.loads(next(a for a in args if a.startswith("endpoint_labels=")).partition("=")[2])
    assert labels["mlopsc-environment"] == "production"
    commands = [" ".join(e["container"]["command"]) for e in c.spec["deploymentSpec"]["executors"].values()]
    assert not any("create_endpoint" in cmd for cmd in commands)  # no GCPC EndpointCreateOp


def test_canary_is_deployed_and_walked_by_the_rollout_step(compiled):
    _, c = compiled[("churn", "deploy")]
    tasks, comps, execs = _tasks(c.spec), c.spec["components"], c.spec["deploymentSpec"]["executors"]
    assert not any(e["container"]["image"] == gcpc.IMAGE for e in execs.values())  # no GCPC upload / deploy
    walk_task = tasks["deploy-production"]["inputs"]["artifacts"]
    assert walk_task["model"]["taskOutputArtifact"] == {"outputArtifactKey": "model", "producerTask": "export-model"}
    assert walk_task["endpoint_resource"]["taskOutputArtifact"]["producerTask"] == "endpoint-production"
    plan = execs["exec-endpoint-production"]["container"]
    assert plan["command"] == ["mlopsc", "step", "prepare_endpoint"] and "traffic_percent=5" in plan["args"]
    assert "project=acme-ml" in plan["args"] and "region=us-central1" in plan["args"]
    walk = execs["exec-deploy-production"]["container"]["args"]
    for arg in ("steps=5,25,50,100", "max_error_rate=0.01", "max_p99_latency_ms=200.0", "phase=walk",
                "machine_type=e2-standard-2", "endpoint_id=churn-classifier-production", "min_replicas=1"):
        assert arg in walk
    container = json.loads(next(a for a in walk if a.startswith("serving_container=")).partition("=")[2])
    assert container["command"] == ["mlopsc", "vertex-serve"] and container["ports"] == [{"containerPort": 8080}]
    assert comps["comp-endpoint-production"]["outputDefinitions"]["parameters"]["previous_split"] == \
        {"parameterType": "STRUCT"}
    assert comps["comp-deploy-production"]["inputDefinitions"]["artifacts"]["endpoint_resource"][
        "artifactType"]["schemaTitle"] == "google.VertexEndpoint"
    # smoke and load tests still read the rollout step's endpoint
    assert tasks["smoke-test-staging"]["inputs"]["parameters"]["endpoint"]["taskOutputParameter"][
        "producerTask"] == "deploy-staging"


def test_shadow_deploys_at_zero_with_request_logging(compiled):
    _, c = compiled[("support-assistant", "deploy")]
    execs = c.spec["deploymentSpec"]["executors"]
    plan = execs["exec-endpoint-production"]["container"]["args"]
    assert "traffic_percent=0" in plan
    assert "request_logging_sampling_rate=0.1" in plan and "request_logging_bigquery=bq://acme-ml" in plan
    walk = execs["exec-deploy-production"]["container"]["args"]
    assert "accelerator_type=NVIDIA_L4" in walk
    # the L4 machine with the memory the 8B base model needs (llm serving sizing): 32 GiB, not 16
    assert "machine_type=g2-standard-8" in walk and "min_replicas=1" in walk


@pytest.mark.parametrize("kind,expected", [("canary", 5), ("blue_green", 0), ("shadow", 0), ("ab_test", 20),
                                           ("direct", 100)])
def test_first_percent_per_strategy(kind, expected):
    s = ir.Strategy(kind, (5, 50, 100), 60, None, 0.2 if kind == "ab_test" else None, None)
    assert deploy.first_percent(s) == expected


def test_train_resources_use_vertex_accelerators_and_no_platform_spec(compiled):
    _, c = compiled[("churn", "train")]
    res = c.spec["deploymentSpec"]["executors"]["exec-train"]["container"]["resources"]
    assert res["accelerator"]["resourceType"] == "NVIDIA_TESLA_T4" and res["accelerator"]["resourceCount"] == "1"
    assert res["resourceCpuLimit"] == "4" and res["resourceMemoryLimit"] == "16Gi"


def test_machine_type_override_reshapes_steps(projects, vertex):
    import dataclasses

    project = projects["churn"]
    targets = project.targets.with_values("vertex", {**ir.thaw(project.target_settings("vertex")), "machine_types": {
        "training": "n1-highmem-16", "processing": "e2-standard-8"}})
    changed = dataclasses.replace(project, targets=targets)
    execs = {p.name: c.spec["deploymentSpec"]["executors"] for p, c in vertex.compiled(changed)}
    train = execs["train"]["exec-train"]["container"]["resources"]
    assert (train["resourceCpuLimit"], train["resourceMemoryLimit"]) == ("16", "104Gi")
    assert train["accelerator"]["resourceType"] == "NVIDIA_TESLA_T4"
    validate = execs["train"]["exec-validate-data"]["container"]["resources"]
    assert (validate["resourceCpuLimit"], validate["resourceMemoryLimit"]) == ("8", "32Gi")


def test_secrets_are_secret_manager_references(compiled):
    _, c = compiled[("support-assistant", "monitor")]
    env = c.spec["deploymentSpec"]["executors"]["exec-check-llm-quality"]["container"]["env"]
    assert env == [{"name": "MLOPSC_SECRET_OPENAI_API_KEY",
                    "value": "projects/acme-ml/secrets/openai-api-key/versions/latest"}]


def test_runtime_config(files):
    config = json.loads(files["churn"]["jobs/train.runtime-config.json"])
    assert config["pipeline_root"] == "gs://acme-ml-artifacts/pipelines"
    assert config["labels"] == {"cost_center": "cc-1234", "mlopsc-pipeline": "train",
                                "mlopsc-project": "churn-classifier", "team": "growth"}
    assert config["enable_caching"] is None and config["project"] == "acme-ml"
    assert config["parameter_values"]["data_version_customers"] == "dvc:data/customers.parquet.dvc"
    assert config["service_account"] == "pipelines@acme-ml.iam.gserviceaccount.com"


def test_schedule_is_a_vertex_schedule_request(files):
    from google.cloud.aiplatform_v1.types import Schedule
    from google.protobuf import json_format

    body = json.loads(files["churn"]["schedules/monitor.schedule.json"])
    msg = json_format.ParseDict(body, Schedule.pb(Schedule()))  # strict: unknown fields raise
    assert msg.cron == "0 6 * * *" and msg.max_concurrent_run_count == 1
    assert msg.create_pipeline_job_request.parent == "projects/acme-ml/locations/us-central1"
    job = msg.create_pipeline_job_request.pipeline_job
    assert job.runtime_config.gcs_output_directory == "gs://acme-ml-artifacts/pipelines"
    assert job.service_account == "pipelines@acme-ml.iam.gserviceaccount.com"


def test_labels_are_gcp_labels(projects):
    labels = jobs.gcp_labels(projects["churn"], {"Odd Key": "Some/Value"})
    assert labels["odd-key"] == "some-value"


def test_compile_path_does_not_import_sdks():
    code = ("import sys; from mlopsc import api; api.compile_spec('specs/churn.yaml', ['vertex']); "
            "heavy = ('kfp', 'google.protobuf', 'google.cloud.aiplatform', 'google_cloud_pipeline_components', "
            "'google.auth', 'vertexai'); "
            "bad = [m for m in sys.modules if m.startswith(heavy)]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_submit_dry_run_prints_requests_without_network():
    # a proxy that refuses every connection: any network call would fail the run
    env = dict(os.environ, HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
               GRPC_PROXY="http://127.0.0.1:9", NO_PROXY="", MLFLOW_TRACKING_URI="https://mlflow.acme.example")
    done = subprocess.run([sys.executable, "-m", "mlopsc", "submit", "specs/churn.yaml", "--target", "vertex",
                           "--dry-run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    bodies, decoder, text = [], json.JSONDecoder(), done.stdout.strip()
    while text:
        body, end = decoder.raw_decode(text)
        bodies.append(body)
        text = text[end:].strip()
    # one pipeline per submit (train by default) and its schedule
    assert [b["operation"] for b in bodies] == ["CreatePipelineJob", "CreateOrUpdateSchedule"]
    assert bodies[0]["pipelineJob"]["displayName"] == "churn-classifier-train"
    assert bodies[1]["schedule"]["displayName"] == "churn-classifier-train-schedule"
    train = bodies[0]["pipelineJob"]
    assert train["runtimeConfig"]["gcsOutputDirectory"] == "gs://acme-ml-artifacts/pipelines"
    assert train["serviceAccount"] == "pipelines@acme-ml.iam.gserviceaccount.com"
    # the spec's ${env:MLFLOW_TRACKING_URI} is a run parameter, filled from the submitting environment
    assert train["runtimeConfig"]["parameterValues"]["MLFLOW_TRACKING_URI"] == "https://mlflow.acme.example"
    assert "dry-run: churn-classifier-train" in done.stderr


def test_vertex_modules_define_no_ir_builders():
    """The vertex package overrides the dialect; it builds no components, executors or DAGs itself."""
    package = os.path.join(ROOT, "targets", "vertex")
    forbidden = {"build", "build_component", "add_step_component", "step_task", "dag_component", "sub_dag_task",
                 "root_inputs", "bind_input", "bind_output", "bind_param", "fill", "body", "render", "header"}
    for name in sorted(os.listdir(package)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(package, name), encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        assert not defined & forbidden, (name, defined & forbidden)
        assert "dependentTasks" not in ast.unparse(tree), name
