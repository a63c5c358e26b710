"""Prompt files as versioned artifacts in the plan: a prompt whose path stays the same in the spec
but whose content changed is a change too (re-evaluate, redeploy), shown by content hash.

The spec names prompt files relative to its own directory; each side reads them where that side
lives (the working tree, or the base revision through git, or next to a base file).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable
from typing import Any

from ..loader import Document
from .diff import RawChange

Reader = Callable[[str], bytes | None]  # prompt path as written in the spec -> bytes, None: missing


def prompt_hash(raw: bytes | None) -> str:
    return "missing" if raw is None else "sha256:" + hashlib.sha256(raw).hexdigest()


def _prompts(doc: Document | None) -> dict[str, str]:
    llm = doc.data.get("llm") if doc is not None and isinstance(doc.data, dict) else None
    prompts = llm.get("prompts") if isinstance(llm, dict) else None
    return {k: v for k, v in prompts.items() if isinstance(v, str)} if isinstance(prompts, dict) else {}


def prompt_changes(base: Document | None, new: Document, read_base: Reader | None, read_new: Reader
                   ) -> list[RawChange]:
    """A `changed` entry at `llm.prompts.<name>` for each prompt whose path is unchanged but whose
    content differs between the two sides (a changed path is already in the spec's own diff)."""
    if base is None or read_base is None:
        return []
    old, found = _prompts(base), []
    for name, path in _prompts(new).items():
        if old.get(name) != path:
            continue
        before, after = prompt_hash(read_base(path)), prompt_hash(read_new(path))
        if before != after:
            line, col = new.source_map.locate(("llm", "prompts", name))
            found.append(RawChange(("llm", "prompts", name), "changed", before, after, new.file, line, col, "new"))
    return found


def file_reader(spec_path: str) -> Reader:
    """Prompt files next to a spec on disk."""
    root = os.path.dirname(os.path.abspath(spec_path))

    def read(path: str) -> bytes | None:
        try:
            with open(os.path.join(root, path), "rb") as fh:
                return fh.read()
        except OSError:
            return None
    return read


def git_reader(spec_path: str, revision: str) -> Reader:
    """Prompt files as they were at `revision` in the spec's repository."""
    spec_dir = os.path.dirname(os.path.realpath(os.path.abspath(spec_path)))

    def read(path: str) -> bytes | None:
        rel = os.path.normpath(os.path.join(spec_dir, path))
        proc = _git_show(spec_dir, revision, rel)
        return proc.stdout if proc.returncode == 0 else None
    return read


def _git_show(cwd: str, revision: str, path: str) -> Any:
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True,
                          check=False)
    rel = os.path.relpath(path, os.path.realpath(root.stdout.strip())).replace(os.sep, "/")
    return subprocess.run(["git", "show", f"{revision}:{rel}"], cwd=cwd, capture_output=True, check=False)


def readers_for(spec: str, base: str | None, revision: str | None) -> tuple[Reader | None, Reader]:
    """(base, working) readers: the base revision through git, or the files next to a base file."""
    if revision:
        return git_reader(spec, revision), file_reader(spec)
    return (file_reader(base) if base else None), file_reader(spec)
