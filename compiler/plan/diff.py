"""A semantic diff of two spec data trees: added, removed and changed values by JSON path.

Mappings are compared key by key; a list of mappings that all carry a `name` is compared by
name (gateway routes); any other list is one value. A key added or removed as a whole is one
change, not one per leaf. Each change is located: added and changed values in the new file,
removed keys in the base file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..loader import SourceMap

Path = tuple[Any, ...]
_MISSING = object()


@dataclass(frozen=True)
class RawChange:
    path: Path
    op: str  # "added" | "removed" | "changed"
    old: Any
    new: Any
    file: str
    line: int
    col: int
    side: str  # "new" (located in the working spec) | "base"


def diff(base: dict[str, Any] | None, new: dict[str, Any], base_map: SourceMap | None,
         new_map: SourceMap) -> list[RawChange]:
    """Every difference between `base` and `new`, in the order the new file is written
    (removed keys follow their surviving neighbours, by base position)."""
    found: list[RawChange] = []
    _walk(base if base is not None else {}, new, (), base_map, new_map, found)
    return found


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b) and not (_number(a) and _number(b)):
        return False
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _named_list(value: Any) -> bool:
    return (isinstance(value, list) and bool(value)
            and all(isinstance(v, dict) and isinstance(v.get("name"), str) for v in value)
            and len({v["name"] for v in value}) == len(value))


def _walk(old: Any, new: Any, path: Path, base_map: SourceMap | None, new_map: SourceMap,
          found: list[RawChange]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in new:
            if key not in old:
                found.append(_added(path + (key,), new[key], new_map))
            else:
                _walk(old[key], new[key], path + (key,), base_map, new_map, found)
        for key in old:
            if key not in new:
                found.append(_removed(path + (key,), old[key], base_map, new_map))
        return
    if _named_list(old) and _named_list(new):
        old_by, new_by = {v["name"]: (i, v) for i, v in enumerate(old)}, {v["name"]: (i, v) for i, v in enumerate(new)}
        order_changed = [v["name"] for v in old if v["name"] in new_by] != [v["name"] for v in new if v["name"] in old_by]
        for name, (i, item) in new_by.items():
            if name not in old_by:
                found.append(_added(path + (i,), item, new_map))
            else:
                _walk(old_by[name][1], item, path + (i,), base_map, new_map, found)
        for name, (i, item) in old_by.items():
            if name not in new_by:
                found.append(_removed(path + (i,), item, base_map, new_map))
        if order_changed:
            line, col = new_map.locate(path)
            found.append(RawChange(path, "changed", [v["name"] for v in old], [v["name"] for v in new],
                                   new_map.file, line, col, "new"))
        return
    if not _same(old, new):
        line, col = new_map.locate(path)
        found.append(RawChange(path, "changed", old, new, new_map.file, line, col, "new"))


def _added(path: Path, value: Any, new_map: SourceMap) -> RawChange:
    line, col = new_map.locate(path, key=True)
    return RawChange(path, "added", None, value, new_map.file, line, col, "new")


def _removed(path: Path, value: Any, base_map: SourceMap | None, new_map: SourceMap) -> RawChange:
    if base_map is not None:
        line, col = base_map.locate(path, key=True)
        return RawChange(path, "removed", value, None, base_map.file, line, col, "base")
    line, col = new_map.locate(path, key=True)
    return RawChange(path, "removed", value, None, new_map.file, line, col, "new")


def dotted(path: Path) -> str:
    """`training.hyperparameters.lr`, `llm.gateway.routes[1]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(the whole spec)"


def compact(value: Any, limit: int = 60) -> str:
    """A value in YAML flow style on one line, cut at `limit` characters."""
    text = _flow(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _flow(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        plain = value and not any(c in value for c in ":#{}[],&*!|>'\"%@`") and value.strip() == value
        return value if plain and not _looks_typed(value) else '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return str(value)


def _looks_typed(value: str) -> bool:
    from ..loader import reads_as_non_string

    return reads_as_non_string(value)
