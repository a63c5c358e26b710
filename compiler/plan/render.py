"""A plan as text (terminal), Markdown (a pull-request comment) and JSON (tools)."""

from __future__ import annotations

import json

from ..bundle import MANIFEST
from . import cost
from .diff import compact
from .model import Change, Plan

FORMATS = ("text", "markdown", "json")
MARKER = "<!-- mlopsc-plan -->"  # lets CI find and update its earlier comment
MAX_MARKDOWN_DIFF_LINES = 400  # a PR comment holds at most 65,536 characters


def render(plan: Plan, fmt: str) -> str:
    return {"text": text, "markdown": markdown, "json": as_json}[fmt](plan)


def as_json(plan: Plan) -> str:
    return json.dumps(plan.as_dict(), indent=2, ensure_ascii=False) + "\n"


def _value(change: Change, arrow: str = "->") -> str:
    raw = change.raw
    if raw.op == "added":
        return f"added {compact(raw.new)}"
    if raw.op == "removed":
        return f"removed (was {compact(raw.old)})"
    return f"{compact(raw.old)} {arrow} {compact(raw.new)}"


def _runs(plan: Plan) -> str:
    if plan.stages:
        return ", ".join(plan.stages)
    return "none"


def _file_state(td, path: str) -> str:
    state = "added" if path in td.added else "removed" if path in td.removed else "changed"
    return state + (", hashes" if path == MANIFEST else "")


def text(plan: Plan) -> str:
    out = [f"mlopsc plan: {plan.spec} against {plan.base_label}"]
    if not plan.base_exists:
        out.append(f"(the spec does not exist in {plan.base_label}: everything is new)")
    out.append(f"runs needed: {_runs(plan)}")
    if plan.regenerate_only:
        out.append(f"regenerate: {', '.join(plan.regenerate_only)} (target settings changed)")
    out.append("")
    if not plan.changes:
        out.append("no changes to the spec's meaning")
    else:
        out.append(f"{len(plan.changes)} change{'s' if len(plan.changes) != 1 else ''}:")
        for c in plan.changes:
            out.append(f"  {c.where()}: {c.path}: {_value(c)}")
            out.append(f"      {c.consequence.area}: {c.consequence.summary} ({c.consequence.reason})")
    out.append("")
    if plan.cost is not None:
        out += cost.text_lines(plan.cost)
    out += _text_targets(plan)
    return "\n".join(out).rstrip("\n") + "\n"


def _text_targets(plan: Plan) -> list[str]:
    if not plan.targets:
        return ["generated files: no targets are registered"]
    out = ["generated files:"]
    for td in plan.targets:
        if td.errors:
            out += [f"  {td.target}: {e}" for e in td.errors]
        if not td.files:
            if not td.errors:
                out.append(f"  {td.target}: unchanged")
            continue
        out.append(f"  {td.target}: {len(td.files)} file{'s' if len(td.files) != 1 else ''} change")
        out += [f"    {path} ({_file_state(td, path)})" for path in td.files]
        for path in td.files:
            if td.diffs.get(path):
                out += ["      " + line if line else "" for line in td.diffs[path].splitlines()]
    return out


def _cell(text_: str) -> str:
    return text_.replace("|", "\\|").replace("\n", " ")


def _code(text_: str) -> str:
    return "`" + _cell(text_).replace("`", "'") + "`"


def markdown(plan: Plan) -> str:
    out = [MARKER, f"### mlopsc plan for `{plan.spec}`", "",
           f"Compared with **{plan.base_label}**."
           + ("" if plan.base_exists else " The spec does not exist there: everything is new."), ""]
    if plan.stages:
        out.append("**Runs needed:** " + " → ".join(plan.stages))
    else:
        out.append("**No pipeline run needed.**")
    if plan.regenerate_only:
        out.append("")
        out.append("**Regenerate:** " + ", ".join(f"`{t}`" for t in plan.regenerate_only)
                   + " (target settings changed)")
    out.append("")
    if not plan.changes:
        out += ["No changes to the spec's meaning.", ""]
    else:
        out += ["| where | change | consequence |", "|---|---|---|"]
        for c in plan.changes:
            where = f"{c.raw.file}:{c.raw.line}"
            out.append(f"| {_code(where)} | {_code(c.path)}: {_cell(_value_md(c))} | "
                       f"**{_cell(c.consequence.summary)}**<br>{_cell(c.consequence.area)}: "
                       f"{_cell(c.consequence.reason)} |")
        out.append("")
    if plan.cost is not None:
        out += cost.markdown_lines(plan.cost)
    out += _markdown_targets(plan)
    return "\n".join(out).rstrip("\n") + "\n"


def _value_md(c: Change) -> str:
    raw = c.raw
    if raw.op == "added":
        return f"added {_code(compact(raw.new))}"
    if raw.op == "removed":
        return f"removed (was {_code(compact(raw.old))})"
    return f"{_code(compact(raw.old))} → {_code(compact(raw.new))}"


def _markdown_targets(plan: Plan) -> list[str]:
    if not plan.targets:
        return ["_Generated files: no targets are registered._", ""]
    out = ["#### Generated files", ""]
    budget = MAX_MARKDOWN_DIFF_LINES
    for td in plan.targets:
        if not td.files:
            out.append(f"- **{td.target}**: " + ("; ".join(_cell(e) for e in td.errors) if td.errors else "unchanged"))
            continue
        count = len(td.files)
        out += [f"<details><summary><b>{td.target}</b>: {count} file{'s' if count != 1 else ''} change</summary>", ""]
        out += [f"- {_cell(e)}" for e in td.errors]
        out += [f"- `{path}` ({_file_state(td, path)})" for path in td.files]
        for path in td.files:
            diff_text = td.diffs.get(path, "")
            if not diff_text:
                continue
            lines = diff_text.splitlines()
            if budget <= 0:
                out += ["", f"_Diff of `{path}` omitted (comment size); run `mlopsc plan` locally._"]
                continue
            shown = lines[:budget]
            budget -= len(shown)
            out += ["", "```diff", *shown, "```"]
            if len(shown) < len(lines):
                out.append(f"_{len(lines) - len(shown)} more lines omitted._")
        out += ["", "</details>", ""]
    return out
