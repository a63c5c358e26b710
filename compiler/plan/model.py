"""The plan: located, classified changes plus the generated files they alter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import schema, semantic
from ..diagnostics import Diagnostic, SpecError
from ..loader import Document, load_bytes
from .classify import Consequence, classify, ordered
from .cost import CostDelta, cost_delta
from .diff import RawChange, diff, dotted
from .outputs import TargetDiff, compare
from .prompts import Reader, prompt_changes


@dataclass(frozen=True)
class Change:
    raw: RawChange
    consequence: Consequence

    @property
    def path(self) -> str:
        return dotted(self.raw.path)

    def where(self) -> str:
        return f"{self.raw.file}:{self.raw.line}:{self.raw.col}"


@dataclass
class Plan:
    spec: str
    base_label: str
    base_exists: bool
    changes: list[Change] = field(default_factory=list)
    targets: list[TargetDiff] = field(default_factory=list)
    cost: CostDelta | None = None

    @property
    def stages(self) -> list[str]:
        return ordered({s for c in self.changes for s in c.consequence.stages})

    @property
    def regenerate_only(self) -> list[str]:
        """Targets whose settings changed (when nothing else needs a run)."""
        found = {t for c in self.changes if c.consequence.target for t in c.consequence.target.split(", ")}
        return sorted(found)

    def as_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "base": {"label": self.base_label, "exists": self.base_exists},
            "stages": self.stages,
            "changes": [
                {
                    "path": c.path,
                    "op": c.raw.op,
                    "old": c.raw.old,
                    "new": c.raw.new,
                    "file": c.raw.file,
                    "line": c.raw.line,
                    "col": c.raw.col,
                    "side": c.raw.side,
                    "area": c.consequence.area,
                    "stages": list(c.consequence.stages),
                    "consequence": c.consequence.summary,
                    "reason": c.consequence.reason,
                    "regenerate": c.consequence.target.split(", ") if c.consequence.target else None,
                }
                for c in self.changes
            ],
            "targets": {
                t.target: {"added": t.added, "removed": t.removed, "changed": t.changed, "errors": t.errors,
                           "diffs": t.diffs}
                for t in self.targets
            },
            "cost": self.cost.as_dict() if self.cost else None,
        }


def check_doc(raw: bytes, file: str, side: str) -> Document:
    """Load and validate one side; a SpecError names the side in its first diagnostic."""
    try:
        doc = load_bytes(raw, file)
    except SpecError as exc:
        raise SideError(side, exc.diagnostics) from None
    problems = schema.check(doc) or semantic.check(doc)
    if any(p.severity == "error" for p in problems):
        raise SideError(side, problems)
    return doc


class SideError(SpecError):
    """The base or the working spec is invalid (exit 1)."""

    def __init__(self, side: str, diagnostics: list[Diagnostic]):
        super().__init__(diagnostics)
        self.side = side


def build_plan(new_raw: bytes, display: str, base_raw: bytes | None, base_display: str, base_label: str,
               target_names: list[str], max_diff_lines: int = 40,
               prompt_readers: tuple[Reader | None, Reader] | None = None) -> Plan:
    """Compare two versions of one spec. `display` names the working spec in outputs and
    locations; `base_display` names the base in locations of removed keys and in errors.
    `prompt_readers` (base, working) read prompt files, so a prompt's new content is a change."""
    new_doc = check_doc(new_raw, display, "working")
    base_doc = check_doc(base_raw, base_display, "base") if base_raw is not None else None
    raw_changes = diff(base_doc.data if base_doc else None, new_doc.data,
                       base_doc.source_map if base_doc else None, new_doc.source_map)
    if prompt_readers is not None:
        raw_changes += prompt_changes(base_doc, new_doc, *prompt_readers)
    plan = Plan(display, base_label, base_doc is not None)
    plan.changes = [Change(r, classify(r.path, r.old, r.new)) for r in raw_changes]
    # Compile the base under the working spec's name, so outputs differ only where the spec does.
    base_for_compile = load_bytes(base_raw, display) if base_raw is not None else None
    plan.targets = compare(base_for_compile, new_doc, target_names, max_diff_lines)
    plan.cost = cost_delta(base_for_compile, new_doc)
    return plan
