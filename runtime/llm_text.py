"""Text conventions of the LLM steps, without torch: the base model's location, the system prompt,
the chat template the fine-tune trains on and the server answers with, and reading rows.

Rows of a fine-tuning dataset have `prompt` and `completion` (or a single `text`); eval cases
have `prompt` and `expected`, optionally `contains` (a string that must appear) and `json`
(whether the answer must be JSON).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

from mlopsc import ir

USER, ASSISTANT = "### User:", "### Assistant:"
LLM_META = "mlopsc_llm.json"  # next to the weights or adapter: what base and method made them


def base_model_path(base_model: str, spec_dir: Path) -> str:
    """A local directory (relative to the spec) when one exists, else the hub id as written."""
    local = (spec_dir / base_model)
    return str(local.resolve()) if local.is_dir() else base_model


def prompt_files(llm: ir.Llm, spec_dir: Path) -> dict[str, Path]:
    return {p.name: spec_dir / p.path for p in llm.prompts}


def prompt_hashes(llm: ir.Llm | None, spec_dir: Path) -> dict[str, str]:
    """`sha256:<hex>` of each prompt file by name (`missing` when it does not exist): lineage."""
    found = {}
    for name, path in prompt_files(llm, spec_dir).items() if llm else ():
        found[name] = ("sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()) if path.is_file() else "missing"
    return found


def system_prompt(llm: ir.Llm | None, spec_dir: Path) -> str:
    """The prompt named `system`, if the spec has one and it exists."""
    path = prompt_files(llm, spec_dir).get("system") if llm else None
    return path.read_text(encoding="utf-8").strip() if path and path.is_file() else ""


def chat_prompt(system: str, messages: list[dict[str, Any]]) -> str:
    """The text the model continues: the system prompt, the turns, and an open assistant turn."""
    parts = [system] if system else []
    for m in messages:
        role, content = m.get("role"), str(m.get("content") or "")
        if role == "system":
            if not system:  # the spec's system prompt wins over one sent by a client
                parts.insert(0, content)
        elif role == "assistant":
            parts.append(f"{ASSISTANT} {content}")
        else:
            parts.append(f"{USER} {content}")
    parts.append(ASSISTANT)
    return "\n".join(parts)


def training_text(system: str, row: dict[str, Any]) -> tuple[str, str]:
    """(context, target) for one training row: the model learns to write `target` after `context`."""
    if row.get("text") and not row.get("prompt"):
        return "", str(row["text"])
    return chat_prompt(system, [{"role": "user", "content": row.get("prompt", "")}]), " " + str(row.get("completion", ""))


def rows(df: Any) -> list[dict[str, Any]]:
    """A data frame's rows as plain dicts (NaN cells left out)."""
    out = []
    for rec in df.to_dict(orient="records"):
        out.append({k: v for k, v in rec.items() if not (isinstance(v, float) and math.isnan(v))})
    return out
