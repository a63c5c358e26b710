"""E627 over the document: every path in the spec stays inside the repository.

A path is relative (no leading `/`, no `~`), and resolved from the spec's directory (or the
repository root, for the values the schema calls repository paths) it stays under the
repository root: the nearest directory above the spec holding `.git`, else the spec's own
directory. A `requirements: ../../../../root/.ssh/id_rsa` used to become a Dockerfile `COPY`.
"""

from __future__ import annotations

import os
import re

from ..loader import Document, Path
from .document import Found, dotted, value_at

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_REFERENCE = re.compile(r"^\$\{(secret|env):")


def check(doc: Document) -> list:
    found = Found(doc)
    spec_dir = os.path.dirname(doc.origin or os.path.abspath(doc.file))
    root = repository_root(spec_dir)
    for path, value, from_root in _paths(doc.data):
        problem = escapes(value, root if from_root else spec_dir, root)
        if problem:
            found.error(path, "E627", f"{dotted(path)}: {problem}",
                        "write a path inside the repository, relative to "
                        + ("its root" if from_root else "the spec's directory"))
    return found.items


def repository_root(start: str) -> str:
    here = start
    while True:
        if os.path.exists(os.path.join(here, ".git")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return start
        here = parent


def escapes(value: str, base: str, root: str) -> str | None:
    """Why `value` (a path relative to `base`) is not a path inside `root`, or None."""
    if value.startswith("~"):
        return "a path starting with `~` points into a home directory, outside the repository"
    if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", value):
        return "an absolute path; paths in a spec are relative"
    target = os.path.normpath(os.path.join(base, value))
    if os.path.commonpath([target, root]) != root:
        return "the path leaves the repository (`..` climbs above its root)"
    return None


def _paths(data: dict) -> list[tuple[Path, str, bool]]:
    """(path, value, relative to the repository root?) for every path-valued setting."""
    found: list[tuple[Path, Any, bool]] = [(("image", "requirements"), value_at(data, ("image", "requirements")), True),
                                           (("training", "entrypoint"), _file(value_at(data, ("training", "entrypoint"))),
                                            False)]
    for section, kind, key, from_root in (("llm", "prompts", None, True), ("features", "views", "transform", False),
                                          ("data", "datasets", "uri", False)):
        entries = value_at(data, (section, kind))
        for name, entry in (entries.items() if isinstance(entries, dict) else ()):
            value = entry if key is None else (entry.get(key) if isinstance(entry, dict) else None)
            at = (section, kind, name) + ((key,) if key else ())
            found.append((at, _file(value) if key == "transform" else value, from_root))
    return [(p, v, r) for p, v, r in found if isinstance(v, str) and v and _is_path(v)]


def _file(value: Any) -> Any:
    return value.rsplit(":", 1)[0] if isinstance(value, str) and ".py:" in value else value


def _is_path(value: str) -> bool:
    """A URI with a scheme (s3://, file:///, https://) or a `${env:..}` reference is not a path."""
    return not (_SCHEME.match(value) and not re.match(r"^[A-Za-z]:[\\/]", value)) and not _REFERENCE.match(value)
