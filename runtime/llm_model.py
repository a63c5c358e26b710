"""A fine-tuned causal LM on disk and in MLflow: base model + LoRA adapter (or full weights),
loading, greedy generation, and the pyfunc that carries the directory as an artifact.

The directory a fine-tune writes holds the adapter (peft's `adapter_config.json` and weights) or
the full model, the tokenizer, and `mlopsc_llm.json` (base model, method). Loading needs the
base model the adapter was trained on: the same hub id, or the same local path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow.pyfunc
from mlopsc.runtime.llm_text import LLM_META

MAX_NEW_TOKENS = 48


class CausalLM:
    """A loaded model and tokenizer that answer prompts greedily (deterministic answers)."""

    def __init__(self, directory: str | Path):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        directory = Path(directory)
        meta = json.loads((directory / LLM_META).read_text())
        self.meta = meta
        self.tokenizer = AutoTokenizer.from_pretrained(directory)
        if meta["method"] == "full":
            model = AutoModelForCausalLM.from_pretrained(directory)
        else:
            from peft import PeftModel

            model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(meta["base_model"]), directory)
        self.model = model.eval()
        self.torch = torch

    def generate(self, prompt: str, max_new_tokens: int = MAX_NEW_TOKENS) -> str:
        """The model's continuation of `prompt`, up to its end-of-text token or a new user turn."""
        tok = self.tokenizer
        limit = self.model.config.max_position_embeddings if hasattr(self.model.config, "max_position_embeddings") \
            else getattr(self.model.config, "n_positions", 1024)
        ids = tok(prompt, return_tensors="pt").input_ids[:, -(limit - max_new_tokens):]
        with self.torch.no_grad():
            out = self.model.generate(input_ids=ids, attention_mask=self.torch.ones_like(ids),
                                      max_new_tokens=max_new_tokens, do_sample=False,
                                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        text = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        return text.split("### User:")[0].strip()

    def tokens(self, text: str) -> int:
        return len(self.tokenizer(text).input_ids)


class LlmPyfunc(mlflow.pyfunc.PythonModel):
    """The pyfunc MLflow registers: `predict` takes rows with `prompt` (already templated) and
    returns the answers. The model directory travels as the artifact `llm`."""

    def load_context(self, context: Any) -> None:
        self.llm = CausalLM(context.artifacts["llm"])

    def predict(self, context: Any, model_input: Any, params: dict | None = None) -> list[str]:
        prompts = model_input["prompt"].tolist() if hasattr(model_input, "columns") else list(model_input)
        return [self.llm.generate(p) for p in prompts]


def log_llm(directory: Path, name: str = "model") -> str:
    """Log the fine-tuned directory as a pyfunc model in the active run; return its model URI."""
    info = mlflow.pyfunc.log_model(name=name, python_model=LlmPyfunc(), artifacts={"llm": str(directory)},
                                   pip_requirements=["torch", "transformers", "peft"])
    mlflow.set_tag("mlopsc.model.flavor", "llm")
    return info.model_uri


def download_llm(model_uri: str, tracking_uri: str, dest: Path) -> Path:
    """The model directory of a logged LLM (`runs:/...` or `models:/...`), downloaded to `dest`."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    import yaml

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dest)))
    meta = yaml.safe_load((local / "MLmodel").read_text())
    return local / meta["flavors"]["python_function"]["artifacts"]["llm"]["path"]
