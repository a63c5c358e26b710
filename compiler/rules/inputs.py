"""The input checks over the document (numbers, strings, paths), run whatever the schema found."""

from __future__ import annotations

from ..diagnostics import Diagnostic
from ..loader import Document
from . import numbers, strings

CHECKS = (numbers.check, strings.check)


def check(doc: Document) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for run in CHECKS:
        found += run(doc)
    return found
