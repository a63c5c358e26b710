"""The fine-tune loop's pieces on the tiny model: the loss counts only the answer, a checkpoint
resumes the same job and is ignored by another, qlora without CUDA stops, located."""

from __future__ import annotations

import types

import pytest
from mlopsc import ir
from mlopsc.runtime import llm_finetune as ft_mod
from mlopsc.runtime.llm_text import chat_prompt, training_text

pytestmark = pytest.mark.slow


def _ft(epochs=1, method="lora"):
    return types.SimpleNamespace(method=method, epochs=epochs, learning_rate=0.01,
                                 lora=ir.freeze({"r": 4, "alpha": 8, "dropout": 0.0}))


def test_training_text_uses_the_chat_template():
    context, target = training_text("Be brief.", {"prompt": "Hi?", "completion": "Hello."})
    assert context == chat_prompt("Be brief.", [{"role": "user", "content": "Hi?"}]) == \
        "Be brief.\n### User: Hi?\n### Assistant:"
    assert target == " Hello."


def test_encode_masks_the_context(support_example):
    tokenizer, _ = ft_mod.load_trainable(str(support_example / "support_local" / "model"), _ft())
    batch = ft_mod.encode(tokenizer, [("### User: a\n### Assistant:", " b"), ("", " longer text here")])
    n_context = len(tokenizer("### User: a\n### Assistant:").input_ids)
    assert (batch["labels"][0, :n_context] == -100).all() and batch["labels"][0, n_context] != -100
    assert batch["attention_mask"][0].sum() < batch["attention_mask"].shape[1] or \
        batch["attention_mask"][1].sum() < batch["attention_mask"].shape[1]


def test_a_checkpoint_resumes_its_own_job_only(support_example, tmp_path):
    base = str(support_example / "support_local" / "model")
    rows = [("### User: q\n### Assistant:", " an answer")] * 4
    tokenizer, model = ft_mod.load_trainable(base, _ft())
    logs: list[str] = []
    ft_mod.train(model, tokenizer, rows, rows[:1], _ft(epochs=1), (tmp_path, "job-a"), logs.append)
    assert (tmp_path / "state.pt").is_file() and logs == ["epoch 1/1: train loss " + logs[0].rsplit(" ", 1)[1]]
    logs.clear()
    tokenizer, model = ft_mod.load_trainable(base, _ft())
    ft_mod.train(model, tokenizer, rows, rows[:1], _ft(epochs=2), (tmp_path, "job-a"), logs.append)
    assert logs[0].startswith("resuming from the checkpoint after epoch 1") and logs[1].startswith("epoch 2/2")
    logs.clear()
    tokenizer, model = ft_mod.load_trainable(base, _ft())
    ft_mod.train(model, tokenizer, rows, rows[:1], _ft(epochs=1), (tmp_path, "job-b"), logs.append)
    assert logs[0].startswith("ignoring the checkpoint") and logs[1].startswith("epoch 1/1")


def test_qlora_without_cuda_stops_at_the_spec_line(tmp_path):
    import torch
    from mlopsc.runtime.steps import StepContext, StepFailed

    if torch.cuda.is_available():
        pytest.fail("this test expects a CPU-only machine")
    spec = tmp_path / "mlops.yaml"
    spec.write_text("apiVersion: mlopsc/v1\nname: t\ndata: {datasets: {d: {uri: d.jsonl}}}\n"
                    "llm:\n  base_model: m\n  fine_tune: {method: qlora, dataset: d}\n")
    from mlopsc.loader import load_bytes
    from mlopsc.normalize import normalize

    project = normalize(load_bytes(spec.read_bytes(), str(spec)))
    with pytest.raises(StepFailed, match=r"mlops.yaml:6:\d+: qlora .* needs a CUDA GPU"):
        ft_mod.fine_tune(StepContext(project=project, spec_dir=tmp_path))
