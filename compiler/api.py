"""The library API that the CLI and the tests call: load, validate, compile."""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from dataclasses import field

from . import schema, semantic
from .diagnostics import Diagnostic, SpecError
from .ir_node import Record, record
from .loader import Document, load_file

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from . import ir


def display_path(path: str) -> str:
    """The path as shown in diagnostics and written into outputs: relative to the working
    directory, so compiled files never hold an absolute path."""
    return os.path.relpath(os.path.abspath(path)).replace(os.sep, "/")


def check(path: str) -> Document:
    """Read and check one spec; raise SpecError with every problem found."""
    return _checked(path)[0]


def _checked(path: str) -> tuple[Document, ir.Project]:
    """The document and its IR (without pipelines); SpecError with every problem found."""
    doc = load_file(path, display_path(path))
    shape = schema.check(doc)
    found, project = semantic.analyse(doc, shape_ok=not shape)
    problems = doc.problems + shape + found
    if problems:
        raise SpecError(problems)
    assert project is not None  # built whenever the schema check passed
    return doc, project


def load_project(path: str) -> ir.Project:
    """Check and normalize one spec into the IR."""
    from .normalize import complete

    doc, project = _checked(path)
    return complete(project, doc)


def validate(path: str) -> list[Diagnostic]:
    try:
        project = load_project(path)
    except SpecError as exc:
        return exc.diagnostics
    return budget_gate(project)


def budget_gate(project: ir.Project, target_names: list[str] | None = None) -> list[Diagnostic]:
    """E801/W802 when the cost estimate passes `cost.budget_monthly_usd` (or its `alert_at`) on a
    target: the given ones, else those the spec configures. Price tables load only for a spec with a budget."""
    if project.cost is None:
        return []
    from .cost.budget import gate, gated_targets

    return gate(project, target_names if target_names is not None else gated_targets(project))


@record  # a mutable dataclass without generated code (see ir_node)
class CompileResult(Record):
    """What compiling one spec gave: each target's files, the diagnostics, which targets failed."""

    bundles: dict[str, dict[str, str]] = field(default_factory=dict)  # target -> path -> text
    diagnostics: list[Diagnostic] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # targets that reported an error (no bundle)
    empty: list[str] = field(default_factory=list)  # targets the spec gave nothing to compile

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


def try_load_project(path: str) -> ir.Project | SpecError:
    """The IR, or the SpecError holding every problem (so a caller loads a spec only once)."""
    try:
        return load_project(path)
    except SpecError as exc:
        return exc


def compile_spec(path: str, target_names: list[str], loaded: ir.Project | SpecError | None = None) -> CompileResult:
    """Compile in memory for each target; nothing touches the disk. `loaded`: what
    `try_load_project(path)` returned, when the caller has it already."""
    from mlopsc import targets

    from .bundle import with_bundle_files

    result = CompileResult()
    with _gc_paused():
        project = try_load_project(path) if loaded is None else loaded
        if isinstance(project, SpecError):
            result.diagnostics, result.failed = project.diagnostics, list(target_names)
            return result
        for name in target_names:
            files, found = targets.get(name).compile(project)
            result.diagnostics += found
            if any(d.severity == "error" for d in found):
                result.failed.append(name)
            elif files:
                result.bundles[name] = with_bundle_files(project, name, {f.path: f.content for f in files})
            else:
                result.empty.append(name)
        # Priced only where the target compiled: a target missing its settings already stops at E703.
        result.diagnostics += budget_gate(project, sorted(result.bundles))
    result.diagnostics.sort()
    return result


@contextmanager
def _gc_paused():
    """No cycle collection while compiling: emitting builds millions of short-lived acyclic
    objects, and the collector's full passes over them made compile time grow faster than the
    spec (25 ms per dataset+environment at 160 of each, 10 ms at 40)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def write(result: CompileResult, out_dir: str) -> list[tuple[str, bool]]:
    """Write every bundle under out_dir/<target>/ atomically, leaving a directory that already
    holds exactly its files untouched (mtimes kept for build tools and file watchers); returns
    (directory, whether it was written)."""
    from .bundle import stale_files, write_atomically

    bundles = {os.path.join(out_dir, name): files for name, files in result.bundles.items()}
    changed = {d: files for d, files in bundles.items() if stale_files(d, files)}
    write_atomically(changed)
    return [(d, d in changed) for d in sorted(bundles)]


def check_fresh(result: CompileResult, out_dir: str) -> list[str]:
    """Stale paths (relative to out_dir) where committed output differs from a fresh compile."""
    from .bundle import stale_files

    stale = []
    for name, files in sorted(result.bundles.items()):
        stale += [f"{name}/{p}" for p in stale_files(os.path.join(out_dir, name), files)]
    return stale
