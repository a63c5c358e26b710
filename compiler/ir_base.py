"""The IR's building blocks: spans (where in the spec) and frozen mappings."""

# No `from __future__ import annotations`: dataclasses parses string annotations with regexes.
from dataclasses import field

from .ir_node import Node, node

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any
else:
    Any = object  # the annotations are evaluated (no __future__ import), and only type checkers read them


def thaw(value: Any) -> Any:
    """Turn frozen IR values back into plain dicts and lists for emitters."""
    if isinstance(value, FrozenDict):
        return {k: thaw(v) for k, v in value}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


class FrozenDict(tuple):
    """A tuple of (key, value) pairs that thaws back into a dict (lists thaw into lists)."""

    __slots__ = ()

    def get(self, key: str, default: Any = None) -> Any:
        for k, v in self:
            if k == key:
                return v
        return default

    def keys(self) -> list[str]:
        return [k for k, _ in self]


def freeze(value: Any) -> Any:
    """Turn parsed YAML (dicts, lists, scalars) into hashable IR values, keys sorted."""
    if isinstance(value, dict):
        return FrozenDict((k, freeze(value[k])) for k in sorted(value))
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


@node(order=True)
class Span(Node):
    """A position in a spec file (1-based line and column).

    `path` is the spec's key path to the node (e.g. ("deployment", "environments", "prod")), so
    a rule can point inside a node (`Report.error(..., at=("steps", 2))`). It is not compared:
    two spans at the same position are equal.
    """

    file: str
    line: int
    col: int
    path: tuple[Any, ...] = field(default=(), compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NO_SPAN = Span("<default>", 0, 0)
