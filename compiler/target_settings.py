"""The spec's `targets:` block in the IR, and typed target settings parsed from it.

Normalization keeps each target's raw settings with the span of its `targets.<name>` key
(`TargetsBlock`). A target declares its settings as a frozen dataclass; `parse_settings` fills
it from the block and reports a missing required setting as E703, located at `targets.<name>`
when the spec has it, else at `targets`, else at the spec's first line. So no target reads the
raw YAML and no `None` or placeholder value reaches an output.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from .diagnostics import Diagnostic, SpecError
from .ir import FrozenDict, Span, freeze, thaw
from .ir_node import Node, node

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)

if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")
    from .ir import Project
    from .loader import Document

MISSING_SETTING = "E703"
FIRST_LINE = Span("<default>", 1, 1)


@node  # a frozen dataclass without generated code (see ir_node)
class TargetBlock(Node):
    """`targets.<name>`: the raw settings of one target and where the key sits."""

    name: str
    values: FrozenDict
    span: Span


@node  # a frozen dataclass without generated code (see ir_node)
class TargetsBlock(Node):
    """Every `targets.<name>` block of a spec; `span` is the `targets` key (the first line when absent).

    Iterating yields `(name, values)` pairs, the shape `Project.targets` had before it carried spans.
    """

    blocks: tuple[TargetBlock, ...] = ()
    span: Span = FIRST_LINE

    def __iter__(self) -> Iterator[tuple[str, FrozenDict]]:
        return iter([(b.name, b.values) for b in self.blocks])

    def __len__(self) -> int:
        return len(self.blocks)

    def block(self, name: str) -> TargetBlock | None:
        return next((b for b in self.blocks if b.name == name), None)

    def with_values(self, name: str, values: dict[str, Any]) -> TargetsBlock:
        """A copy with `targets.<name>` set to `values` (kept at its span; for tests and tools)."""
        span = self.where(name)
        others = tuple(b for b in self.blocks if b.name != name)
        blocks = tuple(sorted((*others, TargetBlock(name, freeze(values), span)), key=lambda b: b.name))
        return TargetsBlock(blocks, self.span)

    def where(self, name: str) -> Span:
        """Where to report a problem with `targets.<name>`: its key, else `targets`, else line 1."""
        found = self.block(name)
        return found.span if found else self.span


def from_document(doc: Document) -> TargetsBlock:
    """The `targets:` block of a checked document, with the spans of its keys."""
    raw = doc.data.get("targets") or {}

    def span(path: tuple[str, ...]) -> Span:
        line, col = doc.source_map.locate(path, key=True)
        return Span(doc.file, line, col)

    blocks = tuple(TargetBlock(name, freeze(raw[name] or {}), span(("targets", name))) for name in sorted(raw))
    return TargetsBlock(blocks, span(("targets",)) if "targets" in doc.data else Span(doc.file, 1, 1))


def parse_settings(project: Project, target: str, cls: type[T]) -> tuple[T | None, list[Diagnostic]]:
    """`targets.<target>` as `cls` (a dataclass; fields without a default are required).

    Returns the settings, or None with one E703 naming every missing required setting.
    """
    block = project.targets.block(target)
    raw = thaw(block.values) if block else {}
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    missing = [f.name for f in fields if f.name not in raw and _required(f)]
    if missing:
        return None, [missing_settings(project, target, missing)]
    return cls(**{f.name: raw[f.name] for f in fields if f.name in raw}), []


def require_settings(project: Project, target: str, cls: type[T]) -> T:
    """The settings a target's emitters read; `Target.compile` has already reported E703."""
    found, problems = parse_settings(project, target, cls)
    if found is None:
        raise SpecError(problems)
    return found


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def missing_settings(project: Project, target: str, names: list[str]) -> Diagnostic:
    span = project.targets.where(target)
    listed = [f"`targets.{target}.{n}`" for n in names]
    what = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
    values = ", ".join(f"{n}: {_example(target, n)}" for n in names)
    return Diagnostic(span.file, span.line, span.col, MISSING_SETTING,
                      f"target `{target}` needs {what}; it has no default, so mlopsc does not invent one",
                      f"add to the spec: `targets: {{{target}: {{{values}}}}}`")


_EXAMPLE = re.compile(r"Example: (\S+?)\.?$")


def _example(target: str, name: str) -> str:
    """The schema's example for `targets.<target>.<name>` (its description's `Example: ...`)."""
    from .schema import schema  # only on this error path

    prop: Any = schema()["properties"]["targets"].get("properties", {}).get(target, {})
    found = _EXAMPLE.search(prop.get("properties", {}).get(name, {}).get("description", ""))
    return found.group(1) if found else "<value>"
