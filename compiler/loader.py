"""Strict YAML loading with a source map from every JSON path to line:col.

PyYAML composes the node graph (aliases stay shared nodes, so composing a billion-laughs file
is cheap); we then construct plain Python values ourselves, which lets us:
- reject duplicate keys, naming both lines;
- resolve plain scalars by the YAML 1.2 core schema, so `yes/no/on/off` and dates stay strings;
- bound alias expansion by counting constructed nodes, so a bomb fails in milliseconds;
- record where every value (and every mapping key) sits in the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import field

import yaml

from .diagnostics import Diagnostic, SpecError
from .ir_node import Record, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

MAX_BYTES = 5 * 1024 * 1024  # a spec is a few KB; 5 MB is generous and keeps parsing fast
MAX_NODES = 20_000  # constructed values after alias expansion; a large spec has about 1,000
MAX_DEPTH = 64

Path = tuple[str | int, ...]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# YAML 1.2 core schema, plain scalars only.
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_INT_OCT = re.compile(r"^0o[0-7]+$")
_INT_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")


def reads_as_non_string(value: str) -> bool:
    """Whether a plain (unquoted) scalar reads as null, a boolean or a number rather than text."""
    return bool(_NULL.match(value) or value in _BOOL or _INT.match(value) or _FLOAT.match(value))
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")

_STANDARD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    # PyYAML's implicit resolver tags plain dates and `=`; we read both as strings.
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:value",
    "tag:yaml.org,2002:merge",
}


@record  # a mutable dataclass without generated code (see ir_node)
class SourceMap(Record):
    """JSON path (tuple of keys and indexes) -> 1-based (line, col)."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Where `path` is; for a missing path, the nearest existing parent."""
        table = self.keys if key else self.values
        path = tuple(path)
        while path:
            if path in table:
                return table[path]
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))


@record  # a mutable dataclass without generated code (see ir_node)
class Document(Record):
    """One loaded spec: its data, where each value sits, its raw bytes and the problems found loading it."""

    file: str
    data: dict[str, Any]
    source_map: SourceMap
    raw: bytes
    problems: list[Diagnostic] = field(default_factory=list)  # found while reading, not fatal
    origin: str | None = None  # the absolute path read, for checks relative to the spec's directory


def _error(file: str, line: int, col: int, code: str, message: str, hint: str | None = None) -> SpecError:
    return SpecError([Diagnostic(file, line, col, code, message, hint)])


def read_bytes(path: str, display: str | None = None) -> bytes:
    display = display or path
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise _error(display, 1, 1, "E901", "file not found", "check the path") from None
    except OSError as exc:
        raise _error(display, 1, 1, "E901", f"cannot read file: {exc.strerror}") from None
    if os.path.isdir(path):
        raise _error(display, 1, 1, "E901", "is a directory, not a spec file")
    if size > MAX_BYTES:
        raise _error(
            display, 1, 1, "E104",
            f"file is {size:,} bytes; specs are limited to {MAX_BYTES:,} bytes",
            "a spec describes the lifecycle; keep data and large lists in separate files",
        )
    with open(path, "rb") as fh:
        return fh.read(MAX_BYTES + 1)


def load_file(path: str, display: str | None = None) -> Document:
    doc = load_bytes(read_bytes(path, display), display or path)
    doc.origin = os.path.abspath(path)
    return doc


def load_bytes(raw: bytes, file: str) -> Document:
    if len(raw) > MAX_BYTES:
        raise _error(file, 1, 1, "E104", f"file is larger than {MAX_BYTES:,} bytes")
    text = _decode(raw, file)
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        raise _error(file, 1, 1, "E105", "the spec is empty", "start with `apiVersion: mlopsc/v1` and `name:`")
    node = _compose(text, file)
    source_map = SourceMap(file)
    builder = _Builder(file, source_map)
    data = builder.build(node, ())
    if not isinstance(data, dict):
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        raise _error(file, line, col, "E106", f"the spec must be a mapping, not a {_kind(data)}",
                     "write `key: value` pairs at the top level")
    return Document(file, data, source_map, raw, builder.problems)


def _decode(raw: bytes, file: str) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise _error(file, line, col, "E103", f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                     "save the spec as UTF-8") from None
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        raise _error(file, line, 1, "E103", "the file contains a NUL byte; it is not a text file")
    return text


def _compose(text: str, file: str) -> yaml.Node:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        if "undefined alias" in problem:
            lines = text.splitlines()
            source = lines[line - 1][col - 1:] if 0 < line <= len(lines) else ""
            alias = re.match(r"\*([^\s,\]}]+)", source)
            name = alias.group(1) if alias else "?"
            raise _error(file, line, col, "E101", f"alias `*{name}` refers to no anchor `&{name}` defined before it",
                         f"write `&{name}` on the value to repeat, above this line, or remove the `*`") from None
        if "expected a single document" in str(exc):
            raise _error(file, line, col, "E101", "the file holds more than one YAML document",
                         "a spec is one document; remove the `---` separator") from None
        raise _error(file, line, col, "E101", f"invalid YAML: {problem}",
                     "check indentation and quoting around this position") from None
    except yaml.YAMLError as exc:
        raise _error(file, 1, 1, "E101", f"invalid YAML: {exc}") from None
    except RecursionError:
        raise _error(file, 1, 1, "E107", f"the YAML nests too deeply (over {MAX_DEPTH} levels)") from None
    finally:
        loader.dispose()
    if node is None:
        raise _error(file, 1, 1, "E105", "the spec is empty")
    return node


def _kind(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


class _Builder:
    def __init__(self, file: str, source_map: SourceMap):
        self.file = file
        self.map = source_map
        self.count = 0
        self.problems: list[Diagnostic] = []

    def build(self, node: yaml.Node, path: Path, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _error(self.file, node.start_mark.line + 1, node.start_mark.column + 1, "E102",
                         f"aliases expand to more than {MAX_NODES:,} values (a YAML bomb?)",
                         "use fewer nested anchors and aliases")
        if depth > MAX_DEPTH:
            raise _error(self.file, node.start_mark.line + 1, node.start_mark.column + 1, "E107",
                         f"the YAML nests deeper than {MAX_DEPTH} levels")
        self.map.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if node.tag not in _STANDARD_TAGS:
            raise _error(self.file, node.start_mark.line + 1, node.start_mark.column + 1, "E108",
                         f"unsupported YAML tag {node.tag!r}", "remove the tag; specs use plain values")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _error(self.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1,
                             "E108", "merge keys (`<<`) are not supported",
                             "repeat the keys, or use an alias for the whole value")
            line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _error(self.file, line, col, "E101", "mapping keys must be plain strings")
            key = key_node.value  # keys are names: `on:` or `200:` stay the text written
            if key in first_seen:
                # Not fatal: keep the first value and go on, so every other problem is reported too.
                from .rules.strings import printable  # a key may hold a line break or an escape

                self.problems.append(Diagnostic(
                    self.file, line, col, "E109",
                    f"duplicate key `{printable(key)}` (first defined on line {first_seen[key]})",
                    f"remove one of the two `{printable(key)}` entries (lines {first_seen[key]} and {line})"))
                continue
            first_seen[key] = line
            self.map.keys[path + (key,)] = (line, col)
            result[key] = self.build(value_node, path + (key,), depth + 1)
        return result

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        value = node.value
        if node.style:  # quoted or block scalars are always strings (plain: None or "")
            return value
        if _NULL.match(value):
            return None
        if value in _BOOL:
            return _BOOL[value]
        if _INT.match(value):
            return int(value)
        if _INT_OCT.match(value):
            return int(value[2:], 8)
        if _INT_HEX.match(value):
            return int(value[2:], 16)
        if _FLOAT.match(value):
            return float(value)
        if _INF.match(value):
            return float("-inf") if value.startswith("-") else float("inf")
        if _NAN.match(value):
            return float("nan")
        return value
