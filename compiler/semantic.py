"""Checks the schema cannot express: the secret scan and the input checks over the document,
then normalization (format problems, E601-E604) and the rules over the IR (compiler/rules/) --
when the schema found errors, over the part of the document it accepted (compiler/partial.py).

    loader -> schema -> [secrets, inputs] -> normalize -> rules
"""

from __future__ import annotations

from .diagnostics import Diagnostic
from .loader import Document
from .rules import inputs
from .rules.secrets import looks_like_credential, scan

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)

if TYPE_CHECKING:
    from . import ir

__all__ = ["analyse", "check", "looks_like_credential"]


def check(doc: Document, *, shape_ok: bool = True) -> list[Diagnostic]:
    """Semantic problems. The secret scan reads any data; the other checks need a valid shape."""
    return analyse(doc, shape_ok=shape_ok)[0]


def analyse(doc: Document, *, shape_ok: bool = True) -> tuple[list[Diagnostic], ir.Project | None]:
    """Semantic problems, and the IR (without pipelines) when the shape allowed building it."""
    found = scan(doc) + inputs.check(doc)
    if not shape_ok:
        return sorted(set(found + _on_the_well_formed_part(doc))), None
    project, problems = _rules(doc)
    return sorted(set(found + problems)), project


def _rules(doc: Document) -> tuple[ir.Project, list[Diagnostic]]:
    from . import rules
    from .normalize import sections

    project, problems = sections(doc)
    return project, problems + rules.check(project, doc)


def _on_the_well_formed_part(doc: Document) -> list[Diagnostic]:
    """The rules' findings on what the schema accepted (compiler/partial.py says which stay)."""
    from .partial import surviving, well_formed

    kept = well_formed(doc)
    if kept is None:
        return []
    part, removed = kept
    return surviving(_rules(part)[1], removed)
