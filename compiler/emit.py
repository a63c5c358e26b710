"""The one YAML emitter and the one JSON emitter: same input, same bytes, LF, sorted keys.

YAML goes through libyaml's C emitter when PyYAML was built with it (`yaml.CSafeDumper`), and
through PyYAML's pure-Python emitter otherwise (`PythonDumper`); both write the same bytes
(tests/language/test_emit.py compiles every example spec with each and compares). The nodes
handed to either emitter are built by `_FastNodes.represent`, a direct walk over the plain dicts,
lists and scalars that targets emit, instead of PyYAML's generic per-object dispatch (which was
most of a `--target all` compile); any other type takes PyYAML's own path.
"""

from __future__ import annotations

import json

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

_STR, _INT, _BOOL, _NULL = ("tag:yaml.org,2002:" + t for t in ("str", "int", "bool", "null"))
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


def _str_style(value: str) -> str | None:
    # Multi-line strings (scripts, messages) read best as literal blocks in a PR diff.
    return "|" if "\n" in value and not value.startswith((" ", "\n")) else None


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar(_STR, value, style=_str_style(value))


class _FastNodes:
    """`represent` for block-style documents, giving the node tree SafeRepresenter gives."""

    def represent(self, data: Any) -> None:
        if self.default_flow_style is not False or self.default_style is not None:
            return super().represent(data)  # not the settings this walk reproduces
        self._seen: dict[int, Any] = {}
        self._keep: list[Any] = []
        try:
            self.serialize(self._node(data))
        finally:
            self._seen, self._keep = {}, []
            self.represented_objects, self.object_keeper, self.alias_key = {}, [], None

    _resolved: dict[tuple[str, tuple[bool, bool]], str] = {}

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        """The emitter asks twice per scalar; the answer depends on the text alone (no path resolvers)."""
        if kind is not ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = self._resolved.get(key)
        if tag is None:
            if len(self._resolved) > 50_000:
                self._resolved.clear()
            tag = self._resolved[key] = super().resolve(kind, value, implicit)
        return tag

    def _node(self, data: Any) -> yaml.Node:
        kind = type(data)
        if kind is str:
            return ScalarNode(_STR, data, style=_str_style(data))
        if kind is dict or kind is list:
            return self._collection(data)
        if kind is bool:
            return ScalarNode(_BOOL, "true" if data else "false")
        if kind is int:
            return ScalarNode(_INT, str(data))
        if data is None:
            return ScalarNode(_NULL, "null")
        self.alias_key = None
        return self.represent_data(data)  # floats, and whatever PyYAML rejects

    def _collection(self, data: dict | list) -> yaml.Node:
        key = id(data)
        if key in self._seen:  # the same object twice: an alias, as SafeRepresenter makes
            if self._seen[key] is None:
                raise yaml.representer.RepresenterError("recursive objects are not allowed", data)
            return self._seen[key]
        self._seen[key] = None
        self._keep.append(data)
        if type(data) is list:
            node = SequenceNode(_SEQ, [self._node(v) for v in data], flow_style=False)
        else:
            items = list(data.items())
            if self.sort_keys:
                try:
                    items = sorted(items)
                except TypeError:
                    pass
            node = MappingNode(_MAP, [(self._node(k), self._node(v)) for k, v in items], flow_style=False)
        self._seen[key] = node
        return node


class PythonDumper(yaml.SafeDumper):
    """PyYAML's pure-Python emitter (and representer): the fallback, and the reference in tests."""


PythonDumper.add_representer(str, _str_presenter)


class _Dumper(_FastNodes, getattr(yaml, "CSafeDumper", PythonDumper)):  # type: ignore[misc]
    pass


_Dumper.add_representer(str, _str_presenter)
DUMPER: type = _Dumper  # what yaml_text/yaml_documents use (tests swap in PythonDumper)


def yaml_text(data: Any, *, sort_keys: bool = True) -> str:
    return yaml.dump(data, Dumper=DUMPER, sort_keys=sort_keys, default_flow_style=False,
                     allow_unicode=True, width=100, line_break="\n")


def yaml_documents(docs: list[Any], *, header: str = "") -> str:
    """Several documents, `---` between them, as kfp writes IR plus its platform spec."""
    body = yaml.dump_all(docs, Dumper=DUMPER, sort_keys=True, default_flow_style=False,
                         allow_unicode=True, width=100, line_break="\n")
    return header + body


def json_text(data: Any) -> str:
    """`json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)` plus a newline, byte for byte.

    Why not that call: with `indent`, Python 3.11's json takes its pure-Python generator encoder,
    a tenth of a `--target all` compile. This walk writes the same text in fewer steps, with the C
    string encoder; any value it does not know (or keys sort cannot order) takes json.dumps."""
    parts: list[str] = []
    try:
        _json_value(data, "\n", parts)
    except _NotPlain:
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    parts.append("\n")
    return "".join(parts)


class _NotPlain(Exception):
    pass


_encode_str = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring
_FLOAT_SPECIAL = {float("inf"): "Infinity", float("-inf"): "-Infinity"}


def _json_value(value: Any, newline: str, parts: list[str]) -> None:
    kind = type(value)
    if kind is str:
        parts.append(_encode_str(value))
    elif kind is dict:
        _json_dict(value, newline, parts)
    elif kind is list or kind is tuple:
        _json_list(value, newline, parts)
    elif value is None or value is True or value is False:
        parts.append("null" if value is None else "true" if value else "false")
    elif kind is int:
        parts.append(int.__repr__(value))
    elif kind is float:
        parts.append("NaN" if value != value else _FLOAT_SPECIAL.get(value) or float.__repr__(value))
    else:
        raise _NotPlain


def _json_dict(value: dict, newline: str, parts: list[str]) -> None:
    if not value:
        parts.append("{}")
        return
    if any(type(k) is not str for k in value):
        raise _NotPlain  # json's key conversions and mixed-type sorting: leave them to json
    inner = newline + "  "
    parts.append("{")
    first = True
    for key in sorted(value):
        parts.append(inner if first else "," + inner)
        first = False
        parts.append(_encode_str(key))
        parts.append(": ")
        _json_value(value[key], inner, parts)
    parts.append(newline + "}")


def _json_list(value: list | tuple, newline: str, parts: list[str]) -> None:
    if not value:
        parts.append("[]")
        return
    inner = newline + "  "
    parts.append("[")
    first = True
    for item in value:
        parts.append(inner if first else "," + inner)
        first = False
        _json_value(item, inner, parts)
    parts.append(newline + "]")
