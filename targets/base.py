"""What every target is: a name, a capability table, a check and a pure compile to files."""

from __future__ import annotations

from dataclasses import dataclass

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative, forward slashes
    content: str  # text; written as UTF-8 with LF endings


# The rows of `mlopsc targets`: every target says how it expresses each part (tests check).
PARTS = (
    "train pipeline",
    "evaluation gate",
    "failure notification",
    "resources / spot",
    "secrets",
    "approval",
    "rollout + rollback",
    "autoscaling",
    "monitoring",
    "schedules",
    "llm serving + gateway",
)


class Target:
    """Subclasses override `name`, `summary`, `capabilities`, `unsupported` and `files`."""

    name: str = ""
    summary: str = ""
    # part of the lifecycle -> the native mechanism used (shown by `mlopsc targets`)
    capabilities: dict[str, str] = {}

    def unsupported(self, project: ir.Project) -> list[Diagnostic]:
        """Parts of the spec this target cannot express, located at their spec line."""
        return []

    def files(self, project: ir.Project) -> list[OutputFile]:
        raise NotImplementedError

    def compile(self, project: ir.Project) -> tuple[list[OutputFile], list[Diagnostic]]:
        found = sorted(self.unsupported(project))
        if any(d.severity == "error" for d in found):
            return [], found
        return sorted(self.files(project), key=lambda f: f.path), found


def cannot_express(target: str, span: ir.Span, what: str, hint: str | None = None,
                   severity: str = "error") -> Diagnostic:
    return Diagnostic(span.file, span.line, span.col, "E701",
                      f"target `{target}` cannot express {what}", hint, severity)


def note(target: str, span: ir.Span, what: str) -> Diagnostic:
    return Diagnostic(span.file, span.line, span.col, "W702", f"target `{target}`: {what}", None, "warning")
