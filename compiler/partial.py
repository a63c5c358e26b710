"""The well-formed part of a document the schema rejected, so the rules over the IR can run on
it and a user sees every problem in one pass.

Each value the schema rejects is removed (an unknown key, a value of the wrong type or form, a
mapping missing a required key; an item of a list takes the whole list with it, so list
indexes keep their meaning), until what is left passes the schema. When the root itself is
wrong (say `name` is missing) nothing is left to check. Findings that removing a value could
have caused (a missing gate, a default compared with a written value) are dropped when a value
was removed from the sections they read (CAUSES), and E301 for a name that was removed.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from .diagnostics import Diagnostic
from .loader import Document, Path, SourceMap

ROUNDS = 8
# Findings a removed value could cause -> the sections whose removals can cause them. The rest
# (cycles, route loops, the order of canary steps, unparseable values) judge only what is written.
CAUSES = {
    "E303": ("monitoring", "data", "features"), "E401": ("deployment",), "E402": ("deployment",),
    "E403": ("deployment", "llm"), "E404": ("training", "llm"), "E405": ("evals", "deployment"),
    "E406": ("deployment",), "E628": ("deployment", "registry", "name"), "E629": ("deployment", "registry", "name"),
}
_UNKNOWN_NAME = re.compile(r"^unknown .* `(.*)`$")


def well_formed(doc: Document) -> tuple[Document, list[Path]] | None:
    """The document less what the schema rejects, and the paths removed; None when the root is wrong."""
    from .schema import raw_errors

    data, removed = copy.deepcopy(doc.data), []
    for _ in range(ROUNDS):
        errors = raw_errors(data)
        if not errors:
            values = {p: v for p, v in doc.source_map.values.items() if not _under(p, removed)}
            keys = {p: v for p, v in doc.source_map.keys.items() if not _under(p, removed)}
            kept = Document(doc.file, data, SourceMap(doc.file, values, keys), doc.raw, [], doc.origin)
            return kept, removed
        for error in errors:
            targets = _targets(data, error)
            if not all(targets):
                return None
            for target in targets:
                _remove(data, target, removed)
    return None


def _targets(data: Any, error) -> list[Path]:
    """What to remove for one schema error (an empty path: the root itself is wrong)."""
    path = tuple(error.absolute_path)
    value = _at(data, path)
    if error.validator == "additionalProperties" and isinstance(value, dict):
        declared = error.schema.get("properties", {})
        paths = [path + (k,) for k in value if k not in declared]
    elif error.validator == "pattern" and isinstance(value, dict) and error.instance in value:
        paths = [path + (error.instance,)]  # propertyNames: the key itself is wrong
    else:
        paths = [path]
    return [_outside_lists(p) for p in paths]


def _outside_lists(path: Path) -> Path:
    while path and isinstance(path[-1], int):
        path = path[:-1]
    return path


def _remove(data: Any, path: Path, removed: list[Path]) -> None:
    parent = _at(data, path[:-1])
    if isinstance(parent, dict) and path[-1] in parent:  # else already gone with an ancestor
        del parent[path[-1]]
        removed.append(path)


def _at(data: Any, path: Path) -> Any:
    for part in path:
        if (isinstance(data, dict) and part in data) or (
                isinstance(data, list) and isinstance(part, int) and part < len(data)):
            data = data[part]
        else:
            return None
    return data


def _under(path: Path, removed: list[Path]) -> bool:
    return any(path[:len(r)] == r for r in removed)


def surviving(found: list[Diagnostic], removed: list[Path]) -> list[Diagnostic]:
    """The findings on the well-formed part that removing values cannot have caused."""
    names = {part for path in removed for part in path if isinstance(part, str)}
    sections = {path[0] for path in removed}
    keep = []
    for d in found:
        if sections.intersection(CAUSES.get(d.code, ())):
            continue
        unknown = _UNKNOWN_NAME.match(d.message) if d.code == "E301" else None
        if unknown and unknown.group(1) in names:
            continue
        keep.append(d)
    return keep
