"""The input checks over the document (numbers, strings, paths), run whatever the schema found."""

from __future__ import annotations

from ..diagnostics import Diagnostic
from ..loader import Document
from . import numbers, paths, strings

CHECKS = (numbers.check, strings.check, paths.check)


def check(doc: Document) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for run in CHECKS:
        found += run(doc)
    return found
