"""What every target is: a name, a capability table, typed settings, a check, a pure compile to
files, a submitter and the name of its runtime platform."""

from __future__ import annotations

from importlib import import_module

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.image_context import image_spec_path
from mlopsc.ir_node import Node, node

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any


@node  # a frozen dataclass without generated code (see ir_node)
class OutputFile(Node):
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


def spec_ref(project: ir.Project, *, in_image: bool = True) -> str:
    """The spec path a target's steps (and servers) are given: the one place this is decided.

    The cloud targets' steps run in the step image `mlopsc build` makes, where the spec lies at a
    fixed path (`image_context.image_spec_path`) whatever directory compile ran from; the local
    target's steps run in the user's checkout, where `project.spec_path` is right.
    """
    return image_spec_path(project) if in_image else project.spec_path


class SubmitNotSupported(Exception):
    """`mlopsc submit` for a target that has no submitter; the message says what to do instead."""


class Target:
    """One compile target. A target package has the same modules in every target:

    `settings.py` (its typed `targets.<name>` settings), `unsupported.py` (what it cannot express),
    `target.py` (this class: `files`), `submit.py` (the submitter, or why there is none); and it
    names its runtime platform class. `compile` parses the settings first, so a missing required
    setting is a located E703 and no emitter ever sees a `None` or a placeholder.
    """

    name: str = ""
    summary: str = ""
    # part of the lifecycle -> the native mechanism used (shown by `mlopsc targets`)
    capabilities: dict[str, str] = {}
    # "module:Class" of the step runtime's platform for this target, imported only by the runtime
    runtime_platform: str = ""
    # "module:function" of `submit(project, compiled_files, endpoint_url=, dry_run=, region=, out=)`
    submitter: str = ""
    # Whether the steps run in the step image (`spec_ref` then gives the spec's path inside it).
    steps_in_image: bool = True
    # Whether each step runs in its own container, so they share only what `tracking.uri` names
    # (`cloud.shared_tracking`); `--target all` skips such a target for a spec with a local store.
    needs_shared_tracking: bool = False

    def spec_ref(self, project: ir.Project) -> str:
        """The `--spec` this target's steps get (see the module function `spec_ref`)."""
        return spec_ref(project, in_image=self.steps_in_image)

    def settings(self, project: ir.Project) -> tuple[Any, list[Diagnostic]]:
        """This target's typed settings (None when a required one is missing) and their E703s."""
        return None, []

    def unsupported(self, project: ir.Project) -> list[Diagnostic]:
        """Parts of the spec this target cannot express, located at their spec line."""
        return []

    def files(self, project: ir.Project) -> list[OutputFile]:
        raise NotImplementedError

    def compile(self, project: ir.Project) -> tuple[list[OutputFile], list[Diagnostic]]:
        from . import feast_repo, triggers  # parts every target compiles the same way

        _, found = self.settings(project)
        if not _has_error(found):
            found = (found + self.unsupported(project) + feast_repo.check(self.name, project)
                     + triggers.check(self.name, project))
        found = sorted(found)
        if _has_error(found):
            return [], found
        files = self.files(project) + feast_repo.files(self.name, project) + triggers.files(self.name, project)
        return sorted(files, key=lambda f: f.path), found

    def submit(self, project: ir.Project, compiled_files: dict[str, str], **options: Any) -> list[dict[str, str]]:
        """Create or update the compiled pipelines on the platform (`options`: endpoint_url, dry_run,
        region, out). The submitter is imported here only, so compiling never loads a platform SDK."""
        if not self.submitter:
            raise SubmitNotSupported(f"target `{self.name}` cannot submit")
        module, _, function = self.submitter.partition(":")
        return getattr(import_module(module), function)(project, compiled_files, **options)


def _has_error(found: list[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in found)


def cannot_express(target: str, span: ir.Span, what: str, hint: str | None = None,
                   severity: str = "error") -> Diagnostic:
    return Diagnostic(span.file, span.line, span.col, "E701",
                      f"target `{target}` cannot express {what}", hint, severity)


def note(target: str, span: ir.Span, what: str) -> Diagnostic:
    return Diagnostic(span.file, span.line, span.col, "W702", f"target `{target}`: {what}", None, "warning")
