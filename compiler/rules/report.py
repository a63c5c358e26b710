"""Where rules put what they find: located diagnostics built from IR spans."""

from __future__ import annotations

from collections.abc import Iterable

from ..diagnostics import Diagnostic
from ..ir_base import Span
from ..loader import Document

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any


class Report:
    """The diagnostics found in one document, each located through its IR node's span.

    `at` points inside the node (a key path below the node, e.g. ("steps", 2)); `key=True`
    points at the key rather than its value.
    """

    def __init__(self, doc: Document):
        self.doc = doc
        self.found: list[Diagnostic] = []

    def error(self, span: Span, code: str, message: str, hint: str | None = None, *,
              at: tuple[Any, ...] = (), key: bool = False) -> None:
        line, col = self.doc.source_map.locate(span.path + at, key=key)
        found = Diagnostic(self.doc.file, line, col, code, message, hint)
        if found not in self.found:
            self.found.append(found)

    def unknown(self, span: Span, value: str, choices: Iterable[str], what: str, *, at: tuple[Any, ...] = ()) -> None:
        """E301 when `value` names none of `choices`, with a did-you-mean or the defined names."""
        choices = sorted(set(choices))
        if value in choices:
            return
        import difflib  # only for a name that does not resolve: a valid spec never needs it

        close = difflib.get_close_matches(value, choices, n=1)
        if close:
            hint = f"did you mean `{close[0]}`?"
        elif choices:
            hint = f"defined {what}s: " + ", ".join(f"`{c}`" for c in choices)
        else:
            hint = f"no {what} is defined"
        self.error(span, "E301", f"unknown {what} `{value}`", hint, at=at)

    def written(self, span: Span, *keys: Any) -> bool:
        """Whether the spec writes this key below the node (rather than normalization's default)."""
        return span.path + keys in self.doc.source_map.values
