"""Walking the loaded document (not the IR), for the input checks that must also run when the
schema found errors: every leaf with its path, and diagnostics located at a path."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..loader import Document, Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any


def leaves(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every scalar below `node`, with its path (mapping keys are not leaves)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaves(v, path + (i,))
    else:
        yield path, node


def mappings(node: Any, path: Path = ()) -> Iterator[tuple[Path, dict]]:
    """Every mapping below (and including) `node`, with its path."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from mappings(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from mappings(v, path + (i,))


def value_at(data: Any, path: Path) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def dotted(path: Path) -> str:
    from .strings import printable

    out = ""
    for part in path:
        part = printable(part) if isinstance(part, str) else part
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the spec"


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Found:
    """Diagnostics located at document paths (a column offset moves inside a one-line value)."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.items: list[Diagnostic] = []

    def error(self, path: Path, code: str, message: str, hint: str | None = None, *, key: bool = False,
              col_offset: int = 0) -> None:
        line, col = self.doc.source_map.locate(path, key=key)
        found = Diagnostic(self.doc.file, line, col + col_offset, code, message, hint)
        if found not in self.items:
            self.items.append(found)
