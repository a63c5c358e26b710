"""Create the example's base model offline: a tiny GPT-2 and a byte-level BPE tokenizer trained on
the example's own text, saved to `model/` next to this file. The weights start random (fixed
seed) and are pre-trained briefly on the example's sentences, one at a time, so the base knows
the words but not which answer goes with which question: that is what the LoRA fine-tune teaches.

    python specs/support_local/make_model.py [OUT_DIR]

No hub download: the config is built here and the weights are initialised from a fixed seed,
so the same machine makes the same model. It stands in for `meta-llama/...` in the local run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPECIAL = ["<|endoftext|>", "<|pad|>"]


def corpus() -> list[str]:
    """Every text the example has: prompts, tickets and eval cases."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((HERE / "prompts").glob("*"))]
    for name in ("tickets.jsonl", "eval_cases.jsonl"):
        for line in (HERE / "data" / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts += [str(v) for v in row.values() if isinstance(v, str)]
    texts.append("### User:\n### Assistant:\nsystem user assistant 0 1 0.5 score")
    return texts


def make_tokenizer(texts: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=SPECIAL[0], bos_token=SPECIAL[0],
                                   unk_token=SPECIAL[0], pad_token=SPECIAL[1])


def make_model(out: Path) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = make_tokenizer(corpus())
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_embd=64, n_layer=2, n_head=2,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=tokenizer.pad_token_id)
    model = GPT2LMHeadModel(config)
    pretrain(model, tokenizer, corpus())
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def pretrain(model, tokenizer, texts: list[str], steps: int = 150) -> None:
    """Next-token training on single sentences (never a question with its answer)."""
    import random

    import torch

    lines = sorted({s.strip() for t in texts for s in t.splitlines() if s.strip()})
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = random.Random(0)
    model.train()
    for _ in range(steps):
        batch = tokenizer([rng.choice(lines) for _ in range(16)], return_tensors="pt", padding=True)
        labels = batch.input_ids.masked_fill(batch.attention_mask == 0, -100)
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


if __name__ == "__main__":
    print(make_model(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "model"))
