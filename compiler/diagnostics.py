"""Located diagnostics and their three output formats (text, json, github)."""

from __future__ import annotations

import json
from dataclasses import asdict

from .ir_node import Node, node

# Every code, its severity, stage and title: compiler/codes.py (a test keeps them registered).


@node(order=True)  # a frozen, ordered dataclass; see ir_node for why not @dataclass
class Diagnostic(Node):
    """One located problem; diagnostics sort by file, line, column, then code."""

    file: str
    line: int
    col: int
    code: str
    message: str
    hint: str | None = None
    severity: str = "error"

    def text(self) -> str:
        head = f"{self.file}:{self.line}:{self.col}: {self.severity}[{self.code}]: {self.message}"
        return head + (f"\n  hint: {self.hint}" if self.hint else "")

    def github(self) -> str:
        # GitHub workflow command: one line, with %, CR and LF escaped.
        message = self.message + (f" (hint: {self.hint})" if self.hint else "")
        message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return (
            f"::{self.severity} file={self.file},line={self.line},col={self.col},"
            f"title={self.code}::{message}"
        )


class SpecError(Exception):
    """Raised with the diagnostics that stop loading or compiling a spec."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__("\n".join(d.text() for d in diagnostics))
        self.diagnostics = sorted(diagnostics)


FORMATS = ("text", "json", "github")


def render(diagnostics: list[Diagnostic], fmt: str) -> str:
    """All diagnostics, sorted by position, in one of FORMATS (empty string when none)."""
    ordered = sorted(set(diagnostics))
    if fmt == "json":
        return json.dumps([asdict(d) for d in ordered], indent=2, sort_keys=True) + "\n"
    if not ordered:
        return ""
    if fmt == "github":
        return "\n".join(d.github() for d in ordered) + "\n"
    return "\n".join(d.text() for d in ordered) + "\n"


def summary(diagnostics: list[Diagnostic], files: int) -> str:
    errors = sum(1 for d in diagnostics if d.severity == "error")
    if not errors:
        return f"ok: {files} spec(s) valid"
    return f"{errors} error(s) in {len({d.file for d in diagnostics})} of {files} spec(s)"
