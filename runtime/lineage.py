"""Lineage values without MLflow: git commit, content hashes, the `mlopsc.*` tags.

`mlopsc.runtime.tracking` re-exports these; steps that only need a hash (validate) import this
module and skip MLflow's import time.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TAG_PREFIX = "mlopsc."


def git_commit(path: str | os.PathLike = ".") -> tuple[str | None, bool]:
    """(HEAD commit, work tree dirty) of the repository containing `path`; (None, False) outside Git."""
    try:
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return head or None, bool(dirty)
    except (OSError, subprocess.SubprocessError):
        return None, False


def content_hash(path: str | os.PathLike) -> str:
    """`sha256:<hex>` of a file, or of a directory's files (relative names and bytes, sorted)."""
    p = Path(path)
    h = hashlib.sha256()
    if p.is_dir():
        for f in sorted(x for x in p.rglob("*") if x.is_file()):
            h.update(f.relative_to(p).as_posix().encode() + b"\0")
            _update_file(h, f)
            h.update(b"\0")
    else:
        _update_file(h, p)
    return "sha256:" + h.hexdigest()


def _update_file(h: Any, path: Path) -> None:
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)


def lineage_tags(
    *,
    git_commit: str | None = None,
    git_dirty: bool | None = None,
    spec_hash: str | None = None,
    data_versions: Mapping[str, str] | None = None,
    run_id: str | None = None,
) -> dict[str, str]:
    """The lineage tags, keys in a fixed order; values that are None are left out."""
    tags: dict[str, str] = {}
    if git_commit:
        tags[TAG_PREFIX + "git_commit"] = git_commit
    if git_dirty is not None:
        tags[TAG_PREFIX + "git_dirty"] = "true" if git_dirty else "false"
    if spec_hash:
        tags[TAG_PREFIX + "spec_hash"] = spec_hash
    for name in sorted(data_versions or {}):
        tags[f"{TAG_PREFIX}data.{name}"] = str(data_versions[name])  # type: ignore[index]
    if run_id:
        tags[TAG_PREFIX + "run_id"] = run_id
    return tags
