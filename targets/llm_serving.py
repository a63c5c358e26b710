"""Self-hosted LLM serving on the cloud targets: what vLLM is started with, and resources sized
from the base model (shared by KServe on Kubeflow and the Vertex deployment).

- The base model is a hub id (`meta-llama/Llama-3.1-8B-Instruct`: vLLM's `--model_id`, pulled
  with `HF_TOKEN` from a secret, optional so public models need none) or a storage URI
  (`s3://`, `gs://`, `pvc://`: KServe's `storageUri`).
- A LoRA / QLoRA fine-tune serves the base with the registered adapter: `--enable-lora`,
  `--lora-modules <registry model>=<adapter dir>` and `--max-lora-rank`; requests for the
  registry model's name get the adapter, `<name>-base` the base. A full fine-tune serves the
  registered weights themselves.
- Resources: the weights need `parameters x 2` bytes (bf16). The size comes from the table below
  or from the id (`8B`, `70b`, `0.5B`). Host memory is raised to hold the weights once (loading)
  and GPU memory must hold them with room for the KV cache; a spec that asks for less gets W702.
"""

from __future__ import annotations

import math
import re

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.ir_node import Node, node

from .base import note

GIB = 2**30
BYTES_PER_PARAMETER = 2  # bf16 / fp16 weights
GPU_HEADROOM = 1.2  # weights + KV cache and activations: vLLM's default gpu_memory_utilization is 0.9
HOST_HEADROOM = 1.25
ADAPTER_DIR = "/mnt/models"  # where KServe's storage initializer puts `storageUri`
HF_TOKEN_ENV = "HF_TOKEN"
MIN_CPU = 4.0  # vLLM's API server, tokenizer and scheduler beside the GPU work

# Parameters (billions) of base models whose id does not say; ids that do (`...-8B...`) need no entry.
KNOWN_SIZES = {"gpt2": 0.124, "gpt2-medium": 0.355, "gpt2-large": 0.774, "gpt2-xl": 1.56,
               "microsoft/phi-2": 2.7, "google/gemma-2-9b-it": 9.24, "mistralai/Mistral-Nemo-Instruct-2407": 12.2}
GPU_MEMORY_GIB = {"nvidia-t4": 16, "nvidia-l4": 24, "nvidia-a10g": 24, "nvidia-v100": 16, "nvidia-a100": 40,
                  "nvidia-a100-80gb": 80, "nvidia-h100": 80}
_SIZE_IN_ID = re.compile(r"(?<![0-9a-z.])(\d+(?:\.\d+)?)b(?![a-z0-9])", re.IGNORECASE)


@node  # a frozen dataclass without generated code (see ir_node)
class Sizing(Node):
    parameters_b: float  # billions
    weights_bytes: int
    gpu_bytes_needed: int
    host_bytes_needed: int


def parameters_billion(base_model: str) -> float | None:
    if base_model in KNOWN_SIZES:
        return KNOWN_SIZES[base_model]
    found = _SIZE_IN_ID.findall(base_model.rsplit("/", 1)[-1])
    return float(found[-1]) if found else None


def sizing(base_model: str) -> Sizing | None:
    params = parameters_billion(base_model)
    if params is None:
        return None
    weights = int(params * 1e9 * BYTES_PER_PARAMETER)
    return Sizing(params, weights, int(weights * GPU_HEADROOM), _round_gib(weights * HOST_HEADROOM))


def _round_gib(n: float) -> int:
    return math.ceil(n / GIB) * GIB


def is_storage_uri(base_model: str) -> bool:
    return "://" in base_model


def base_from_hub(project: ir.Project) -> bool:
    """Whether vLLM pulls the base from the hub: a hub id, unless a full fine-tune replaced the weights."""
    ft = project.llm.fine_tune
    return not is_storage_uri(project.llm.base_model) and not (ft is not None and ft.method == "full")


def storage_uri(project: ir.Project) -> str | None:
    """KServe's `storageUri` known at compile time: the base model's URI when nothing was fine-tuned.
    With a fine-tune the deploy step sets it to the registered version's artifacts (the adapter or
    the full weights) at run time, so compiled files stay a pure function of the spec."""
    llm = project.llm
    return llm.base_model if llm.fine_tune is None and is_storage_uri(llm.base_model) else None


def adapter_method(project: ir.Project) -> str | None:
    """`lora` / `qlora` when the served model is base + adapter; None for full weights or no fine-tune."""
    ft = project.llm.fine_tune if project.llm else None
    return ft.method if ft is not None and ft.method in ("lora", "qlora") else None


def vllm_args(project: ir.Project) -> list[str]:
    """vLLM's arguments (KServe's huggingface runtime passes them on): model, adapter, length, parallelism."""
    llm, serving = project.llm, project.llm.serving
    name = project.registry.model
    args = []
    if adapter_method(project):
        args += [f"--model_name={name}-base", "--enable-lora", f"--lora-modules={name}={ADAPTER_DIR}",
                 f"--max-lora-rank={int(ir.thaw(llm.fine_tune.lora)['r'])}"]
    else:
        args.append(f"--model_name={name}")
    if base_from_hub(project):
        args.append(f"--model_id={llm.base_model}")
    args += ["--backend=vllm", f"--tensor-parallel-size={serving.tensor_parallel}"]
    if serving.max_model_len:
        args.append(f"--max-model-len={serving.max_model_len}")
    return args


def sized_resources(project: ir.Project) -> ir.Resources:
    """The spec's serving resources with host memory raised to hold the weights."""
    res = project.llm.serving.resources
    size = sizing(project.llm.base_model)
    if size is None or (res.memory_bytes >= size.host_bytes_needed and res.cpu >= MIN_CPU):
        return res
    return ir.Resources(cpu=max(res.cpu, MIN_CPU), memory_bytes=max(res.memory_bytes, size.host_bytes_needed),
                        gpu_count=res.gpu_count, gpu_type=res.gpu_type, span=res.span)


def sizing_notes(target: str, project: ir.Project) -> list[Diagnostic]:
    """W702 when the spec asks for less memory or GPU memory than the base model's weights need."""
    serving = project.llm.serving if project.llm else None
    size = sizing(project.llm.base_model) if serving else None
    if size is None:
        return []
    res, found = serving.resources, []
    what = f"{project.llm.base_model} (~{size.parameters_b:g}B parameters, {size.weights_bytes / GIB:.1f} GiB in bf16)"
    if res.memory_bytes < size.host_bytes_needed or res.cpu < MIN_CPU:
        sized = sized_resources(project)
        found.append(note(target, serving.span, f"serving resources are raised from {res.cpu:g} cpu / "
                                                f"{res.memory_bytes / GIB:g} GiB to {sized.cpu:g} cpu / "
                                                f"{sized.memory_bytes // GIB} GiB: the weights of {what} are loaded "
                                                "through host memory"))
    per_gpu = GPU_MEMORY_GIB.get(res.gpu_type or "")
    if not res.gpu_count:
        found.append(note(target, serving.span, f"vLLM serving of {what} asks for no GPU; vLLM needs one "
                                                "(set `llm.serving.resources.gpu`)"))
    elif per_gpu and res.gpu_count * per_gpu * GIB < size.gpu_bytes_needed:
        found.append(note(target, serving.span, f"{res.gpu_count} x {res.gpu_type} ({res.gpu_count * per_gpu} GiB) "
                                                f"is less than the {size.gpu_bytes_needed / GIB:.0f} GiB the weights of "
                                                f"{what} need with the KV cache; use more or larger GPUs"))
    return found


def kserve_model(project: ir.Project) -> dict:
    """`spec.predictor.model` of the vLLM InferenceService (KServe's huggingface runtime)."""
    model = {"args": vllm_args(project), "modelFormat": {"name": "huggingface"}, "runtime": "kserve-huggingfaceserver"}
    if base_from_hub(project):  # gated models (Llama, Gemma) need a token; optional: public ones do not
        model["env"] = [{"name": HF_TOKEN_ENV, "valueFrom": {"secretKeyRef": {
            "name": hf_token_secret(project), "key": "token", "optional": True}}}]
    uri = storage_uri(project)
    if uri:
        model["storageUri"] = uri
    return model


def hf_token_secret(project: ir.Project) -> str:
    return f"{project.registry.model}-huggingface"


def qlora_gpu(target: str, project: ir.Project, *, local: bool = False) -> list[Diagnostic]:
    """QLoRA's 4-bit base needs CUDA (bitsandbytes): E701 for a fine-tune job that asks for no GPU on a
    cloud target; W702 locally, where the run stops unless the machine has one."""
    from .base import cannot_express

    ft = project.llm.fine_tune if project.llm else None
    if ft is None or ft.method != "qlora":
        return []
    if local:
        return [note(target, ft.span, "qlora needs a CUDA GPU (bitsandbytes 4-bit); a local run on a machine "
                                      "without one stops at the fine-tune step (use `method: lora` locally)")]
    if ft.resources.gpu_count:
        return []
    return [cannot_express(target, ft.span, "qlora on a fine-tune job without a GPU: its 4-bit base needs CUDA",
                           "add `resources: {gpu: {count: 1, type: nvidia-a100}}` to `llm.fine_tune`, "
                           "or use `method: lora`")]


def vllm_server_args(project: ir.Project, model_dir: str) -> list[str]:
    """vLLM's own OpenAI server arguments (the Vertex serving container): the base from the hub or
    `model_dir` (the registered artifacts), the adapter from `model_dir`."""
    llm, serving, name = project.llm, project.llm.serving, project.registry.model
    base = llm.base_model if base_from_hub(project) else model_dir
    args = [f"--model={base}"]
    if adapter_method(project):
        args += [f"--served-model-name={name}-base", "--enable-lora", f"--lora-modules={name}={model_dir}",
                 f"--max-lora-rank={int(ir.thaw(llm.fine_tune.lora)['r'])}"]
    else:
        args.append(f"--served-model-name={name}")
    args.append(f"--tensor-parallel-size={serving.tensor_parallel}")
    if serving.max_model_len:
        args.append(f"--max-model-len={serving.max_model_len}")
    return args
