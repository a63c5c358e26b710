"""Checks the schema cannot express: the secret scan over the document, then normalization
(format problems, E601-E604) and the rules over the IR (compiler/rules/).

    loader -> schema -> [secrets] -> normalize -> rules
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .diagnostics import Diagnostic
from .loader import Document
from .rules import inputs
from .rules.secrets import looks_like_credential, scan

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
        return sorted(found), None
    from . import rules
    from .normalize import sections

    project, problems = sections(doc)
    return sorted(found + problems + rules.check(project, doc)), project
