"""Semantic rules over the typed IR: small functions, each with its codes, reporting at the IR
node's span with a hint. `check` runs them all; compiler/semantic.py runs the secret scan
(over the document) and normalization first.

    references  E301-E304  names that must resolve between sections
    lifecycle   E401-E406  rollout and production rules
    names       E628-E629  each target's resource names: distinct, within its length limit
    llm         E208, E304, E407  LLM parts that contradict or need each other
    secrets     E501-E502  credentials written into the spec (over the document, see there)

Format problems (E601-E604) are found while normalizing, where units are parsed.
"""

from __future__ import annotations

from .. import ir
from ..diagnostics import Diagnostic
from ..loader import Document
from . import lifecycle, llm, names, references
from .report import Report

RULES = references.RULES + lifecycle.RULES + names.RULES + llm.RULES


def check(project: ir.Project, doc: Document) -> list[Diagnostic]:
    report = Report(doc)
    for rule in RULES:
        rule(project, report)
    return report.found
