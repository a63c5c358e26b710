"""Content-hash cache keys for the local runner's steps.

A step's key is a sha256 over everything that decides its result:
- mlopsc's version, the step's action, name, `--arg`s and output names;
- the spec sections the action reads (IR values without source positions, so editing another
  part of the spec, or moving lines, does not invalidate it);
- each input: a parameter's value, or the contents of an artifact (file or directory);
- the user's code the action runs (the entrypoint and transform files and the `.py` files
  beside them);
- the data files the action reads straight from the spec (datasets' `uri`s).

Hashing a data file again is skipped when its size and modification time are unchanged
(a small index in `.mlopsc/cache/files.json`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from mlopsc import __version__, ir

# Which top-level IR sections each action reads.
SECTIONS: dict[str, tuple[str, ...]] = {
    "validate": ("data",),
    "features": ("data", "features"),
    "train": ("data", "features", "training", "tracking", "registry"),
    "fine_tune": ("data", "llm"),
    "evaluate": ("data", "features", "evals", "registry"),
    "register": ("registry", "evals"),
    "fail": ("evals",),
    "approve": ("registry", "deployment"),
    "deploy": ("registry", "deployment", "data", "evals"),
    "rollout": ("registry", "deployment", "data", "evals"),
    "smoke_test": ("deployment", "data", "evals"),
    "load_test": ("deployment", "data", "evals"),
}
# Actions a run always executes: resolve_data asks the store which data version is there now,
# and the keys of the steps after it hang on that answer.
NEVER_CACHED = {"resolve_data"}
READS_CODE = {"features", "train", "evaluate"}
READS_DATA = {"validate", "deploy", "rollout", "smoke_test", "load_test"}


def plain(value: Any) -> Any:
    """IR values as JSON-able data without spans."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value) if not f.name.endswith("span")}
    if isinstance(value, ir.FrozenDict):
        return {k: plain(v) for k, v in value}
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value


def code_files(project: ir.Project, spec_dir: Path) -> list[Path]:
    refs = []
    if project.training:
        refs.append(project.training.entrypoint)
    if project.features:
        refs += [v.transform for v in project.features.views if v.transform]
    files: set[Path] = set()
    for ref in refs:
        target = ref.partition(":")[0]
        if not target.endswith(".py"):
            continue
        path = (spec_dir / target).resolve()
        if path.parent.is_dir():
            files.update(p for p in path.parent.glob("*.py") if p.is_file())
    return sorted(files)


def data_files(project: ir.Project, spec_dir: Path) -> list[Path]:
    out = []
    for ds in project.data.datasets if project.data else ():
        if "://" in ds.uri and not ds.uri.startswith("file://"):
            continue
        p = Path(ds.uri.removeprefix("file://"))
        out.append(p if p.is_absolute() else spec_dir / p)
    return out


class Hasher:
    """File and directory content hashes, memoized by (size, mtime) in an index file."""

    def __init__(self, index_path: Path | None = None):
        self.index_path = index_path
        self.index: dict[str, list] = {}
        if index_path and index_path.exists():
            try:
                self.index = json.loads(index_path.read_text(encoding="utf-8"))
            except ValueError:
                self.index = {}
        self.dirty = False

    def file(self, path: Path) -> str:
        try:
            st = path.stat()
        except FileNotFoundError:
            return "missing"
        key = str(path.resolve())
        stamp = [st.st_size, st.st_mtime_ns]
        hit = self.index.get(key)
        if hit and hit[:2] == stamp:
            return hit[2]
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        self.index[key] = [*stamp, digest]
        self.dirty = True
        return digest

    def path(self, path: Path) -> str:
        if path.is_dir():
            h = hashlib.sha256()
            for f in sorted(x for x in path.rglob("*") if x.is_file()):
                h.update(f.relative_to(path).as_posix().encode() + b"\0" + self.file(f).encode() + b"\0")
            return "dir:" + h.hexdigest()
        return self.file(path)

    def save(self) -> None:
        if self.index_path and self.dirty:
            self.index_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.index_path.with_name(self.index_path.name + ".tmp")
            tmp.write_text(json.dumps(self.index, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.index_path)
            self.dirty = False


def step_key(project: ir.Project, spec_dir: Path, step: ir.Step, inputs: dict[str, tuple[str, str]],
             hasher: Hasher, extra: dict[str, Any] | None = None) -> str:
    """`inputs`: name -> ("param", value) or ("artifact", path)."""
    parts: dict[str, Any] = {
        "mlopsc": __version__,
        "action": step.action,
        "step": step.name,
        "args": list(step.args),
        "message": step.message,
        "outputs": [o.name for o in step.outputs],
        "sections": {s: plain(getattr(project, s)) for s in SECTIONS.get(step.action, ())},
        "inputs": {k: (kind, v if kind == "param" else hasher.path(Path(v))) for k, (kind, v) in sorted(inputs.items())},
        "extra": extra or {},
    }
    if step.action in READS_CODE:
        parts["code"] = {p.name: hasher.file(p) for p in code_files(project, spec_dir)}
    if step.action in READS_DATA:
        parts["data"] = [hasher.file(p) for p in data_files(project, spec_dir)]
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
