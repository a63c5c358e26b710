"""`fine_tune`: LoRA, QLoRA or full fine-tuning of `llm.base_model` on `llm.fine_tune.dataset`
with transformers + peft, the same code on every target (a local process, a SageMaker training
job, a Kubeflow pod, a Vertex custom job).

- QLoRA quantizes the base to 4 bits with bitsandbytes, which needs CUDA: without it the step
  stops, located (compile says so earlier for targets without GPUs).
- The eval loss on a held-out tenth of the rows is measured before and after training; both are
  metrics (`eval_loss_before`, `eval_loss`), so a run shows whether training helped.
- After each epoch the trainable weights and the optimizer go to a checkpoint directory
  (SageMaker's /opt/ml/checkpoints, synced to S3 for managed spot; `.mlopsc/checkpoints/` locally);
  a restarted job resumes from the last finished epoch.
- The adapter (or the full weights), the tokenizer and `mlopsc_llm.json` are logged to MLflow as
  one pyfunc model with lineage tags: git commit, spec hash, data versions, prompt hashes, base model.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from mlopsc import ir
from mlopsc.runtime.llm_text import (
    LLM_META,
    base_model_path,
    prompt_hashes,
    rows,
    system_prompt,
    training_text,
)
from mlopsc.runtime.steps import (
    StepContext,
    StepFailed,
    read_frames,
    step_tracker,
    write_json,
    write_model_ref,
)

SAGEMAKER_CHECKPOINTS = "/opt/ml/checkpoints"
BATCH = 8
SEED = 42


def fine_tune(ctx: StepContext) -> dict:
    llm = ctx.project.llm
    ft = llm.fine_tune if llm else None
    if ft is None:
        raise StepFailed("the spec declares no llm.fine_tune")
    import torch

    if ft.method == "qlora" and not torch.cuda.is_available():
        raise StepFailed(f"{ft.span}: qlora quantizes {llm.base_model} to 4 bits with bitsandbytes, which needs "
                         "a CUDA GPU, and this machine has none; use `method: lora` here, or run on a GPU")
    frames, versions = read_frames(ctx.input_path("data"))
    if ft.dataset not in frames:
        raise StepFailed(f"{ft.span}: dataset `{ft.dataset}` was not among the validated data")
    system = system_prompt(llm, ctx.spec_dir)
    examples = [training_text(system, r) for r in rows(frames[ft.dataset])]
    train_rows, eval_rows = split(examples)
    base = base_model_path(llm.base_model, ctx.spec_dir)
    tokenizer, model = load_trainable(base, ft)
    out = ctx.root / ".mlopsc" / "llm" / (ctx.pipeline or "train") / (ctx.step or "train")
    ckpt = checkpoint_dir(ctx)
    key = checkpoint_key(ctx.project, versions, base)
    metrics = train(model, tokenizer, train_rows, eval_rows, ft, (ckpt, key), ctx.log)
    save(model, tokenizer, out, base, ft.method)
    (ckpt / "state.pt").unlink(missing_ok=True)  # finished: a later job starts fresh
    ref = log_run(ctx, out, metrics, versions, base)
    write_model_ref(ctx.output("model"), ref)
    if "metrics" in ctx.outputs:
        write_json(ctx.output("metrics"), metrics)
    ctx.log(f"fine-tuned {llm.base_model} ({ft.method}): eval loss {metrics['eval_loss_before']:.4f} -> "
            f"{metrics['eval_loss']:.4f}")
    return ref


def split(examples: list[tuple[str, str]]) -> tuple[list, list]:
    """A fixed, seeded tenth of the rows (at least one) held out for the eval loss."""
    order = list(range(len(examples)))
    random.Random(SEED).shuffle(order)
    n_eval = max(1, len(examples) // 10) if len(examples) > 1 else 0
    held = set(order[:n_eval])
    return [e for i, e in enumerate(examples) if i not in held], [e for i, e in enumerate(examples) if i in held]


def load_trainable(base: str, ft: Any) -> tuple[Any, Any]:
    """The tokenizer and the model with only the weights this method trains left trainable."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(SEED)
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    kwargs: dict[str, Any] = {}
    if ft.method == "qlora":  # pragma: no cover - needs CUDA and bitsandbytes
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                           bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    if ft.method == "full":
        return tokenizer, model
    from peft import LoraConfig, get_peft_model

    lora = ir.thaw(ft.lora)
    # every linear layer (the QLoRA paper's choice), not only the attention projections
    config = LoraConfig(r=int(lora["r"]), lora_alpha=int(lora["alpha"]), lora_dropout=float(lora["dropout"]),
                        target_modules="all-linear", task_type="CAUSAL_LM")
    return tokenizer, get_peft_model(model, config)


def encode(tokenizer: Any, batch: list[tuple[str, str]]) -> dict:
    """Token ids of context + target + end of text; the loss counts the target tokens only."""
    import torch

    seqs, masks = [], []
    for context, target in batch:
        c = tokenizer(context).input_ids if context else []
        t = tokenizer(target).input_ids + [tokenizer.eos_token_id]
        seqs.append(c + t)
        masks.append([-100] * len(c) + t)
    width = max(len(s) for s in seqs)
    pad = tokenizer.pad_token_id
    ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs])
    labels = torch.tensor([m + [-100] * (width - len(m)) for m in masks])
    attention = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs])
    return {"input_ids": ids, "labels": labels, "attention_mask": attention}


def eval_loss(model: Any, tokenizer: Any, examples: list[tuple[str, str]]) -> float:
    import torch

    if not examples:
        return float("nan")
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(examples), BATCH):
            batch = examples[i:i + BATCH]
            total += float(model(**encode(tokenizer, batch)).loss) * len(batch)
            n += len(batch)
    return total / n


def checkpoint_key(project: Any, versions: dict, base: str) -> str:
    """What a checkpoint belongs to: the spec, the data read and the base model. A checkpoint
    left by another job (the same S3 prefix, the same work directory) is not resumed."""
    import hashlib

    text = json.dumps([project.spec_hash, versions, base], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def train(model: Any, tokenizer: Any, train_rows: list, eval_rows: list, ft: Any, checkpoint: tuple[Path, str],
          log: Any) -> dict:
    """Epochs of AdamW over shuffled batches, a checkpoint after each, resumed when one exists."""
    import torch

    ckpt, key = checkpoint
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=ft.learning_rate)
    before = eval_loss(model, tokenizer, eval_rows)
    start = resume(model, optimizer, ckpt, key, log)
    losses: list[float] = []
    for epoch in range(start, ft.epochs):
        model.train()
        order = list(range(len(train_rows)))
        random.Random(SEED + epoch).shuffle(order)
        for i in range(0, len(order), BATCH):
            loss = model(**encode(tokenizer, [train_rows[j] for j in order[i:i + BATCH]])).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
        save_checkpoint(model, optimizer, ckpt, key, epoch + 1)
        log(f"epoch {epoch + 1}/{ft.epochs}: train loss {losses[-1]:.4f}")
    return {"eval_loss_before": before, "eval_loss": eval_loss(model, tokenizer, eval_rows),
            "train_loss": losses[-1] if losses else float("nan"), "epochs": float(ft.epochs),
            "trainable_parameters": float(sum(p.numel() for p in params)),
            "train_rows": float(len(train_rows)), "eval_rows": float(len(eval_rows))}


def checkpoint_dir(ctx: StepContext) -> Path:
    """`MLOPSC_CHECKPOINT_DIR`; else /opt/ml/checkpoints where it exists (a SageMaker job with a
    CheckpointConfig, synced with S3 for managed spot); else the work directory."""
    if not os.environ.get("MLOPSC_CHECKPOINT_DIR") and Path(SAGEMAKER_CHECKPOINTS).is_dir():
        return Path(SAGEMAKER_CHECKPOINTS)
    found = os.environ.get("MLOPSC_CHECKPOINT_DIR")
    return Path(found) if found else ctx.root / ".mlopsc" / "checkpoints" / (ctx.pipeline or "train") / (ctx.step or "train")


def trainable_state(model: Any) -> dict:
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v for k, v in model.state_dict().items() if k in names}


def save_checkpoint(model: Any, optimizer: Any, ckpt: Path, key: str, epoch: int) -> None:
    import torch

    ckpt.mkdir(parents=True, exist_ok=True)
    tmp = ckpt / "state.pt.tmp"
    torch.save({"key": key, "epoch": epoch, "model": trainable_state(model), "optimizer": optimizer.state_dict()}, tmp)
    os.replace(tmp, ckpt / "state.pt")  # a job stopped mid-write keeps the previous checkpoint


def resume(model: Any, optimizer: Any, ckpt: Path, key: str, log: Any) -> int:
    """The first epoch still to run: 0, or the one after this job's last checkpoint."""
    import torch

    path = ckpt / "state.pt"
    if not path.is_file():
        return 0
    state = torch.load(path, weights_only=True)
    if state.get("key") != key:
        log(f"ignoring the checkpoint at {path}: another spec, data or base model made it")
        return 0
    model.load_state_dict(state["model"], strict=False)
    optimizer.load_state_dict(state["optimizer"])
    log(f"resuming from the checkpoint after epoch {state['epoch']} ({path})")
    return int(state["epoch"])


def save(model: Any, tokenizer: Any, out: Path, base: str, method: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / LLM_META).write_text(json.dumps({"base_model": base, "method": method}, indent=1, sort_keys=True) + "\n")


def log_run(ctx: StepContext, out: Path, metrics: dict, versions: dict, base: str) -> dict:
    """One MLflow run with params, metrics, lineage tags and the model; the model reference."""
    from mlopsc.runtime.lineage import content_hash, git_commit, lineage_tags
    from mlopsc.runtime.llm_model import log_llm

    project, ft = ctx.project, ctx.project.llm.fine_tune
    commit, dirty = ctx.inputs.get("git_commit"), None
    if not commit or commit == "unknown":
        commit, dirty = git_commit(ctx.spec_dir)
    tags = lineage_tags(git_commit=commit, git_dirty=dirty, spec_hash=project.spec_hash, data_versions=versions)
    tags.update({f"mlopsc.prompt.{k}": v for k, v in prompt_hashes(project.llm, ctx.spec_dir).items()})
    tags["mlopsc.base_model"] = project.llm.base_model
    if Path(base).is_dir():
        tags["mlopsc.base_model.hash"] = content_hash(base)
    tracker = step_tracker(ctx)
    with tracker.start_run(run_name="fine-tune", tags=tags) as run:
        tracker.log_params({"method": ft.method, "epochs": ft.epochs, "learning_rate": ft.learning_rate,
                            **({f"lora_{k}": v for k, v in ir.thaw(ft.lora).items()} if ft.method != "full" else {})})
        tracker.log_metrics(metrics)
        model_uri = log_llm(out)
    return {"model_uri": model_uri, "run_id": run.info.run_id, "experiment": tracker.experiment_name,
            "tracking_uri": tracker.tracking_uri, "kind": "llm"}
