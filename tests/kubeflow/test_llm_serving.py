"""The vLLM InferenceService (and Vertex's vLLM deployment) carry the model, the adapter, the
Hugging Face token and resources sized from the base model, validated against KServe's CRD;
QLoRA without a GPU is a compile error."""

import jsonschema
import pytest
import yaml
from mlopsc import api
from mlopsc.loader import load_bytes
from mlopsc.normalize import normalize
from mlopsc.targets import llm_serving
from mlopsc.targets.kubeflow import kserve

GIB = 2**30
SPEC = """apiVersion: mlopsc/v1
name: t
data: {{datasets: {{d: {{uri: s3://b/d.jsonl}}}}}}
llm:
  base_model: {base}
{fine_tune}  serving: {{resources: {resources}, max_model_len: 4096, tensor_parallel: 2}}
registry: {{model: bot}}
evals: {{suite: {{dataset: d, scorers: [exact_match], min_score: 0.5}}}}
deployment:
  environments:
    production: {{rollback: {{max_error_rate: 0.05}}}}
"""


def _project(tmp_path, base="meta-llama/Llama-3.1-8B-Instruct", fine_tune="lora",
             resources="{gpu: {count: 2, type: nvidia-a100}}"):
    ft = f"  fine_tune: {{method: {fine_tune}, dataset: d, lora: {{r: 8}}}}\n" if fine_tune == "lora" else \
        (f"  fine_tune: {{method: {fine_tune}, dataset: d}}\n" if fine_tune else "")
    text = SPEC.format(base=base, fine_tune=ft, resources=resources)
    (tmp_path / "mlops.yaml").write_text(text)
    return normalize(load_bytes(text.encode(), str(tmp_path / "mlops.yaml"))), str(tmp_path / "mlops.yaml")


def _model(project):
    return kserve.inference_service(project, project.deployment.environments[0])["spec"]["predictor"]["model"]


@pytest.mark.parametrize("base,params", [
    ("meta-llama/Llama-3.1-8B-Instruct", 8), ("meta-llama/Llama-3.1-70B-Instruct", 70),
    ("Qwen/Qwen2.5-0.5B-Instruct", 0.5), ("mistralai/Mistral-7B-Instruct-v0.3", 7), ("gpt2", 0.124),
    ("microsoft/phi-2", 2.7), ("google/gemma-2-9b-it", 9.24), ("acme/support-model", None),
])
def test_the_size_table(base, params):
    assert llm_serving.parameters_billion(base) == params


def test_lora_serves_the_hub_base_with_the_adapter_and_the_token(tmp_path, isvc_schema):
    project, _ = _project(tmp_path)
    manifest = kserve.inference_service(project, project.deployment.environments[0])
    jsonschema.Draft7Validator(isvc_schema).validate(yaml.safe_load(yaml.safe_dump(manifest)))
    model = manifest["spec"]["predictor"]["model"]
    assert model["args"] == ["--model_name=bot-base", "--enable-lora", "--lora-modules=bot=/mnt/models",
                             "--max-lora-rank=8", "--model_id=meta-llama/Llama-3.1-8B-Instruct", "--backend=vllm",
                             "--tensor-parallel-size=2", "--max-model-len=4096"]
    assert model["env"] == [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
        "name": "bot-huggingface", "key": "token", "optional": True}}}]
    assert "storageUri" not in model  # the deploy step points it at the registered adapter
    # 8B in bf16 is 14.9 GiB: host memory raised to hold it, 4 cpu for vLLM's server
    assert model["resources"]["requests"] == {"cpu": "4", "memory": "19Gi", "nvidia.com/gpu": "2"}


def test_a_full_fine_tune_serves_the_registered_weights(tmp_path, isvc_schema):
    project, _ = _project(tmp_path, fine_tune="full")
    model = _model(project)
    assert model["args"][:1] == ["--model_name=bot"] and not any(a.startswith("--model_id") for a in model["args"])
    assert "--enable-lora" not in model["args"] and "env" not in model


def test_a_base_in_storage_is_the_storage_uri(tmp_path, isvc_schema):
    project, _ = _project(tmp_path, base="s3://models/llama-3.1-8b", fine_tune=None)
    model = _model(project)
    assert model["storageUri"] == "s3://models/llama-3.1-8b" and "env" not in model
    jsonschema.Draft7Validator(isvc_schema).validate(
        yaml.safe_load(yaml.safe_dump(kserve.inference_service(project, project.deployment.environments[0]))))


def test_too_little_gpu_memory_is_a_w702(tmp_path):
    project, _ = _project(tmp_path, base="meta-llama/Llama-3.1-70B-Instruct",
                             resources="{cpu: 8, memory: 200Gi, gpu: {count: 1, type: nvidia-l4}}")
    notes = [d for d in llm_serving.sizing_notes("kubeflow", project)]
    assert [d.code for d in notes] == ["W702"]
    assert "1 x nvidia-l4 (24 GiB) is less than the 156 GiB" in notes[0].message and notes[0].line == 7
    project, _ = _project(tmp_path, resources="{cpu: 8, memory: 32Gi, gpu: {count: 1, type: nvidia-a100}}")
    assert llm_serving.sizing_notes("kubeflow", project) == []


def test_the_compile_warns_where_the_spec_asks_for_too_little(tmp_path):
    _, path = _project(tmp_path, resources="{gpu: {count: 1, type: nvidia-t4}}")
    found = [d for d in api.compile_spec(path, ["kubeflow"]).diagnostics if d.code == "W702" and "GiB" in d.message]
    assert len(found) == 2 and all(d.line == 7 for d in found)


def test_qlora_without_a_gpu_is_a_compile_error_and_a_local_note(tmp_path):
    text = ("apiVersion: mlopsc/v1\nname: t\ndata: {datasets: {d: {uri: d.jsonl}}}\n"
            "llm:\n  base_model: m\n  fine_tune: {method: qlora, dataset: d}\n"
            "tracking: {uri: 'http://mlflow:5000'}\n")
    (tmp_path / "mlops.yaml").write_text(text)
    result = api.compile_spec(str(tmp_path / "mlops.yaml"), ["kubeflow", "local"])
    codes = sorted((d.code, d.line, d.message.split(" ")[1].rstrip(":")) for d in result.diagnostics if "qlora" in d.message)
    assert codes == [("E701", 6, "`kubeflow`"), ("W702", 6, "`local`")]


def test_vertex_carries_the_vllm_server_arguments(tmp_path):
    project, _ = _project(tmp_path)
    assert llm_serving.vllm_server_args(project, "/models") == [
        "--model=meta-llama/Llama-3.1-8B-Instruct", "--served-model-name=bot-base", "--enable-lora",
        "--lora-modules=bot=/models", "--max-lora-rank=8", "--tensor-parallel-size=2", "--max-model-len=4096"]
