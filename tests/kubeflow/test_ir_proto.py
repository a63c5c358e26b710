"""Every compiled pipeline parses strictly into kfp-pipeline-spec's and kfp-kubernetes' messages,
and kfp's own compiler writes it back unchanged."""

import copy

import pytest
import yaml
from google.protobuf import json_format
from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s
from kfp.pipeline_spec import pipeline_spec_pb2 as pb
from kfp_cases import compiled_cases
from mlopsc.targets.kfp_ir import render


@pytest.mark.parametrize("spec,pipeline", compiled_cases())
def test_pipeline_spec_parses_strictly(compiled, spec, pipeline):
    c = compiled[(spec, pipeline)]
    json_format.ParseDict(c.spec, pb.PipelineSpec())  # unknown fields raise
    assert c.spec["schemaVersion"] == "2.1.0"
    for executor in c.spec["deploymentSpec"]["executors"].values():
        json_format.ParseDict(executor, pb.PipelineDeploymentConfig.ExecutorSpec())
    if c.platform:
        json_format.ParseDict(c.platform, pb.PlatformSpec())
        for cfg in c.platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values():
            json_format.ParseDict(cfg, k8s.KubernetesExecutorConfig())


def test_strict_parse_rejects_unknown_field(compiled):
    bad = copy.deepcopy(compiled[("churn", "train")].spec)
    bad["root"]["dag"]["tasks"]["exit-handler-1"]["dependentTask"] = []
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict(bad, pb.PipelineSpec())


@pytest.mark.parametrize("spec,pipeline", compiled_cases())
def test_kfp_compiler_round_trip_is_identity(compiled, spec, pipeline, tmp_path):
    from kfp import compiler, components

    c = compiled[(spec, pipeline)]
    src, out = tmp_path / "in.yaml", tmp_path / "out.yaml"
    src.write_text(render(c))
    compiler.Compiler().compile(components.load_component_from_file(str(src)), str(out))
    docs = list(yaml.safe_load_all(out.read_text()))
    assert docs[0] == c.spec
    assert (docs[1] if len(docs) > 1 else {}) == c.platform


def test_gpu_step_gets_node_selector_toleration_and_deadline(compiled):
    cfg = compiled[("churn", "train")].platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert cfg["exec-train"]["nodeSelector"] == {"labels": {"nvidia.com/gpu.product": "Tesla-T4"}}
    assert cfg["exec-train"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert cfg["exec-train"]["activeDeadlineSeconds"] == 7200
    res = compiled[("churn", "train")].spec["deploymentSpec"]["executors"]["exec-train"]["container"]["resources"]
    assert res["accelerator"]["resourceCount"] == "1" and res["resourceMemoryLimit"] == "16Gi"


def test_secret_refs_become_secret_env(compiled):
    cfg = compiled[("support-assistant", "monitor")].platform["platforms"]["kubernetes"]["deploymentSpec"]
    env = cfg["executors"]["exec-check-llm-quality"]["secretAsEnv"][0]
    assert env["secretNameParameter"]["runtimeValue"]["constant"] == "openai-api-key"
    assert env["keyToEnv"] == [{"envVar": "OPENAI_API_KEY", "secretKey": "value"}]


def test_single_document_form_for_vertex(compiled):
    text = render(compiled[("churn", "train")], two_documents=False)
    assert len(list(yaml.safe_load_all(text))) == 1
    assert text.startswith("# PIPELINE DEFINITION\n")
