"""Every Vertex pipeline: strict proto parses, one YAML document, our graph checker, CEL gates,
kfp round trip, and `aiplatform.PipelineJob` built offline from the file with its runtime config."""

import json

import celpy
import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb
from mlopsc.targets.kfp_ir.check import CONDITION_REF, check
from vertex_cases import CASES


@pytest.mark.parametrize("spec,pipeline", CASES)
def test_single_document_parses_strictly(files, spec, pipeline):
    text = files[spec][f"pipelines/{pipeline}.yaml"]
    docs = list(yaml.safe_load_all(text))
    assert len(docs) == 1 and "platforms" not in docs[0]
    assert text.startswith("# PIPELINE DEFINITION\n")
    json_format.ParseDict(docs[0], pb.PipelineSpec())  # unknown fields raise
    assert docs[0]["schemaVersion"] == "2.1.0"
    for executor in docs[0]["deploymentSpec"]["executors"].values():
        json_format.ParseDict(executor, pb.PipelineDeploymentConfig.ExecutorSpec())


@pytest.mark.parametrize("spec,pipeline", CASES)
def test_graph_checker_passes(compiled, spec, pipeline):
    _, c = compiled[(spec, pipeline)]
    assert check(c.spec) == []  # the shared checker, as is (no platform spec on Vertex)


def test_checker_still_catches_broken_graphs(compiled):
    import copy

    spec = copy.deepcopy(compiled[("churn", "deploy")][1].spec)
    body = spec["components"]["comp-exit-handler-1"]["dag"]["tasks"]
    body["deploy-production"]["inputs"]["artifacts"]["model"]["taskOutputArtifact"]["producerTask"] = "nope"
    spec["deploymentSpec"]["executors"]["exec-deploy-staging"]["container"]["args"].append(
        "{{$.inputs.artifacts['missing'].metadata['resourceName']}}")
    problems = check(spec)
    assert any("'nope'" in p for p in problems) and any("'missing'" in p for p in problems)


def _deploy_args(compiled):
    import copy

    spec = copy.deepcopy(compiled[("churn", "deploy")][1].spec)
    return spec, spec["deploymentSpec"]["executors"]["exec-deploy-staging"]["container"]["args"]


def test_checker_accepts_an_input_artifact_metadata_key(compiled):
    spec, args = _deploy_args(compiled)
    args += ["{{$.inputs.artifacts['endpoint_resource'].metadata['resourceName']}}",
             "{{$.inputs.artifacts['model'].metadata}}"]
    assert check(spec) == []


@pytest.mark.parametrize("placeholder,expected", [
    ("{{$.inputs.artifacts['model'].metadata[resourceName]}}", "unknown placeholder"),
    ("{{$.inputs.artifacts['model'].metadata['']}}", "unknown placeholder"),
    ("{{$.inputs.artifacts['model'].metadata['a']['b']}}", "unknown placeholder"),
    ("{{$.inputs.artifacts['model'].metadata.resourceName}}", "unknown placeholder"),
    ("{{$.inputs.artifacts['model'].uri['resourceName']}}", "only .metadata takes a ['key']"),
    ("{{$.inputs.artifacts['model']['resourceName']}}", "is not valid on inputs artifacts"),
    ("{{$.inputs.parameters['previous_split']['x']}}", "only .metadata takes a ['key']"),
    ("{{$.outputs.artifacts['model'].metadata['resourceName']}}", "names no declared output artifact"),
    ("{{$.inputs.artifacts['modle'].metadata['resourceName']}}", "names no declared input artifact 'modle'"),
])
def test_checker_rejects_malformed_metadata_placeholders(compiled, placeholder, expected):
    spec, args = _deploy_args(compiled)
    args.append(placeholder)
    problems = check(spec)
    assert len(problems) == 1 and expected in problems[0], problems


@pytest.mark.parametrize("spec", ["churn", "support-assistant"])
@pytest.mark.parametrize("passed", [True, False])
def test_gate_conditions_in_cel(compiled, spec, passed):
    c = compiled[(spec, "train")][1].spec
    ran = set()
    for comp in [c["root"], *c["components"].values()]:
        for task in comp.get("dag", {}).get("tasks", {}).values():
            cond = task.get("triggerPolicy", {}).get("condition")
            if not cond:
                continue
            refs = CONDITION_REF.findall(cond)
            env = celpy.Environment()
            value = env.program(env.compile(cond)).evaluate(
                {"inputs": celpy.json_to_cel({"parameter_values": {refs[0]: passed}})})
            if value:
                ran |= set(c["components"][task["componentRef"]["name"]]["dag"]["tasks"])
    assert ran == ({"register"} if passed else {"gate-failed"})


@pytest.mark.parametrize("spec,pipeline", CASES)
def test_kfp_compiler_round_trip_is_identity(files, spec, pipeline, tmp_path):
    from kfp import compiler, components

    src, out = tmp_path / "in.yaml", tmp_path / "out.yaml"
    src.write_text(files[spec][f"pipelines/{pipeline}.yaml"])
    compiler.Compiler().compile(components.load_component_from_file(str(src)), str(out))
    assert yaml.safe_load(out.read_text()) == yaml.safe_load(src.read_text())


@pytest.mark.parametrize("spec,pipeline", CASES)
def test_pipeline_job_builds_offline(files, spec, pipeline, tmp_path):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform

    path = tmp_path / f"{pipeline}.yaml"
    path.write_text(files[spec][f"pipelines/{pipeline}.yaml"])
    config = json.loads(files[spec][f"jobs/{pipeline}.runtime-config.json"])
    job = aiplatform.PipelineJob(
        display_name=config["display_name"], template_path=str(path), pipeline_root=config["pipeline_root"],
        parameter_values=config["parameter_values"], enable_caching=config["enable_caching"],
        labels=config["labels"], failure_policy=config["failure_policy"], credentials=AnonymousCredentials(),
        project=config["project"], location=config["location"])
    body = job._gca_resource
    assert body.runtime_config.gcs_output_directory == config["pipeline_root"]
    assert set(body.runtime_config.parameter_values) == set(config["parameter_values"])
    assert dict(body.labels) == config["labels"]
    assert body.pipeline_spec["pipelineInfo"]["name"] == config["display_name"]
