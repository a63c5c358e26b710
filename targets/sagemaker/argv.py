"""A container argv whose elements may hold SageMaker pipeline expressions (`Std:Join` of literal
text and run-time values), built from the step contract's plain strings."""

from __future__ import annotations

from dataclasses import field

from mlopsc.ir_node import Record, record

from . import expressions as ex

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

_MARK = "\x00"


@record  # a mutable dataclass without generated code (see ir_node)
class Argv(Record):
    """Builds one container argv whose elements may hold run-time expressions."""

    values: list[Any] = field(default_factory=list)

    def token(self, value: Any) -> str:
        self.values.append(value)
        return f"{_MARK}{len(self.values) - 1}{_MARK}"

    def resolve(self, argv: list[str]) -> list[Any]:
        out: list[Any] = []
        for element in argv:
            parts = element.split(_MARK)
            pieces = [self.values[int(p)] if i % 2 else p for i, p in enumerate(parts)]
            out.append(ex.join([p for p in pieces if p != ""]) if len(parts) > 1 else element)
        return out
