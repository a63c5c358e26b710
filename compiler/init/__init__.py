"""`mlopsc init`: scaffold a spec, a GitHub Actions workflow and a pre-commit config; the tabular
template also writes train.py (the training contract), requirements.txt and sample data, so
`mlopsc run mlops.yaml --approve` works with no edits.

The workflow and the pre-commit hook compile only the targets the spec names (its `targets:`
section, or `--target`), and check committed output for staleness only once some is committed:
a new repository's first run passes.

Templates are package data under `template-files/` (not an identifier, so setuptools does not take its folders for packages), rendered with jinja2. The rendered spec is
validated by mlopsc itself before anything is written; existing files are never overwritten
without `force`, and nothing is written when any file would be refused.
"""

from __future__ import annotations

import os
import re

from .. import __version__

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
SCHEMA_URL = "https://mlopsc.dev/schemas/mlops.schema.json"
TEMPLATES = ("tabular", "llm")
SPEC = "mlops.yaml"
WORKFLOW = ".github/workflows/mlops.yaml"
PRE_COMMIT = ".pre-commit-config.yaml"

# Actions pinned to full commit SHAs (the tag is kept in a comment for Dependabot/renovate).
ACTIONS = {
    "checkout": {"sha": "11bd71901bbe5b1630ceea73d27597364c9af683", "version": "v4.2.2"},
    "setup_python": {"sha": "0b93645e9fea7318ecaed2b359559ac225c90a2b", "version": "v5.3.0"},
}


class InitError(Exception):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def default_name(directory: str) -> str:
    """A valid project name from a directory name: `My_Project 2` -> `my-project-2`."""
    base = os.path.basename(os.path.abspath(directory)).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", base).strip("-")
    slug = re.sub(r"^[^a-z]+", "", slug)[:63].rstrip("-")
    return slug or "my-model"


def _env():
    import importlib.resources  # here: `compile` reads ACTIONS, and importing resources costs ~4 ms

    import jinja2

    loader = jinja2.FunctionLoader(
        lambda name: importlib.resources.files("mlopsc.init").joinpath("template-files", *name.split("/")).read_text("utf-8"))
    return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              autoescape=False)


def render(name: str, template: str = "tabular", target: str = "all", out_dir: str = "build") -> dict[str, str]:
    """Relative path -> text of every scaffolded file."""
    if template not in TEMPLATES:
        raise InitError(f"unknown template `{template}`", f"choose from: {', '.join(TEMPLATES)}")
    if not NAME_PATTERN.match(name):
        raise InitError(f"`{name}` is not a valid project name",
                        "use lowercase letters, digits and dashes, starting with a letter (at most 63)")
    if not re.match(r"^[a-z][a-z0-9_-]*$", target):
        raise InitError(f"`{target}` is not a target name", "see `mlopsc targets`, or use `all`")
    out_dir = out_dir.strip("/") or "build"
    if not re.match(r"^[A-Za-z0-9._/-]+$", out_dir) or ".." in out_dir.split("/"):
        raise InitError(f"`{out_dir}` is not a plain relative directory")
    env = _env()
    spec = env.get_template(f"{template}/mlops.yaml.j2").render(name=name, owner=f"{name}-owners@example.com",
                                                                 schema_url=SCHEMA_URL)
    values = {
        "name": name,
        "owner": f"{name}-owners@example.com",
        "schema_url": SCHEMA_URL,
        "spec": SPEC,
        "spec_regex": re.escape(SPEC),
        "out_dir": out_dir,
        "out_regex": re.escape(out_dir),
        "targets": spec_targets(spec) if target == "all" else [target],
        "actions": ACTIONS,
        "requirement": f"mlopsc=={__version__}",
        "marker": "<!-- mlopsc-plan -->",
        "hook_language": "system",
    }
    files = {
        SPEC: spec,
        WORKFLOW: env.get_template("common/workflow.yaml.j2").render(values),
        PRE_COMMIT: env.get_template("common/pre-commit-config.yaml.j2").render(values),
    }
    if template == "tabular":
        from .sample_data import files as sample_files

        files["train.py"] = env.get_template("tabular/train.py.j2").render(values)
        files["requirements.txt"] = env.get_template("tabular/requirements.txt.j2").render(values)
        files.update(sample_files())
    return files


def spec_targets(spec_text: str) -> list[str]:
    """The targets a rendered spec's `targets:` section names (the templates always name one)."""
    import yaml

    section = (yaml.safe_load(spec_text) or {}).get("targets") or {}
    return sorted(section) or ["local"]


def check_spec(text: str, file: str = SPEC) -> list:
    """Diagnostics for a rendered spec (empty when it validates)."""
    from .. import schema, semantic
    from ..diagnostics import SpecError
    from ..loader import load_bytes

    try:
        doc = load_bytes(text.encode("utf-8"), file)
    except SpecError as exc:
        return exc.diagnostics
    return schema.check(doc) or semantic.check(doc)


def scaffold(directory: str, name: str | None = None, template: str = "tabular", target: str = "all",
             out_dir: str = "build", force: bool = False) -> list[str]:
    """Write the scaffold into `directory`; returns the paths written."""
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise InitError(f"`{directory}` exists and is not a directory")
    if target != "all":
        from mlopsc import targets

        if target not in targets.names():
            raise InitError(f"unknown target `{target}`",
                            f"choose from: all{''.join(', ' + n for n in targets.names())}")
    files = render(name or default_name(directory), template, target, out_dir)
    problems = [d for d in check_spec(files[SPEC]) if d.severity == "error"]
    if problems:  # a template that does not validate is a bug in mlopsc, not a user error
        details = "\n".join(d.text() for d in problems)
        raise RuntimeError(f"the `{template}` template does not validate:\n{details}")
    existing = [rel for rel in files if os.path.lexists(os.path.join(directory, rel))]
    if existing and not force:
        raise InitError("refusing to overwrite: " + ", ".join(existing), "pass --force to overwrite them")
    written = []
    for rel, text in files.items():
        path = os.path.join(directory, *rel.split("/"))
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        written.append(path)
    return written
