"""The generated files that a change alters, per registered target, with a bounded diff.

Both versions are compiled in memory exactly as `mlopsc.api.compile_spec` does, from bytes and
under the same display path, so the path written into outputs never differs between the two;
`manifest.json` still changes whenever the spec's bytes do (it holds the spec's hash).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from ..bundle import MANIFEST, with_bundle_files
from ..diagnostics import Diagnostic
from ..loader import Document
from ..normalize import normalize


@dataclass
class TargetDiff:
    target: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)  # path -> unified diff (bounded)
    errors: list[str] = field(default_factory=list)  # the target cannot compile one side

    @property
    def files(self) -> list[str]:
        return sorted(self.added + self.removed + self.changed)


def compile_doc(doc: Document | None, names: list[str]) -> dict[str, tuple[dict[str, str], list[Diagnostic]]]:
    """target -> (path -> text, diagnostics); an empty dict of files for a missing spec."""
    from mlopsc import targets

    out: dict[str, tuple[dict[str, str], list[Diagnostic]]] = {}
    if doc is None:
        return {name: ({}, []) for name in names}
    project = normalize(doc)
    for name in names:
        try:
            files, found = targets.get(name).compile(project)
        except Exception as exc:  # noqa: BLE001 - a target being written may fail; the plan still reports the rest
            out[name] = ({}, [Diagnostic(doc.file, 1, 1, "E799", f"target `{name}` failed: {type(exc).__name__}: {exc}")])
            continue
        bundle = with_bundle_files(project, name, {f.path: f.content for f in files}) if files else {}
        out[name] = (bundle, sorted(found))
    return out


def compare(base: Document | None, new: Document, names: list[str], max_lines: int = 40) -> list[TargetDiff]:
    before, after = compile_doc(base, names), compile_doc(new, names)
    result = []
    for name in names:
        old_files, old_diags = before[name]
        new_files, new_diags = after[name]
        td = TargetDiff(name)
        for side, diags, files in (("base", old_diags, old_files), ("working", new_diags, new_files)):
            errors = [d for d in diags if d.severity == "error"]
            if errors and not files:
                td.errors.append(f"the {side} spec does not compile for `{name}`: " + "; ".join(
                    f"{d.file}:{d.line}:{d.col}: {d.message}" for d in errors[:3]))
        if td.errors and not new_files:
            result.append(td)  # nothing to compare against: the working spec has no output here
            continue
        for path in sorted(set(old_files) | set(new_files)):
            a, b = old_files.get(path), new_files.get(path)
            if a == b:
                continue
            (td.added if a is None else td.removed if b is None else td.changed).append(path)
            if path != MANIFEST:
                td.diffs[path] = unified(a or "", b or "", f"a/{name}/{path}", f"b/{name}/{path}", max_lines)
        result.append(td)
    return result


def unified(a: str, b: str, name_a: str, name_b: str, max_lines: int) -> str:
    """A unified diff with two lines of context, cut after `max_lines` lines."""
    lines = list(difflib.unified_diff(a.splitlines(), b.splitlines(), name_a, name_b, n=2, lineterm=""))
    if len(lines) > max_lines:
        more = len(lines) - max_lines
        lines = lines[:max_lines] + [f"... {more} more diff line{'s' if more != 1 else ''}"]
    return "\n".join(lines) + "\n" if lines else ""
