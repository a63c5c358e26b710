"""A small JSON Schema (2020-12) validator for the keywords mlops.schema.json uses.

Why not jsonschema directly: importing it (referencing, rpds, attrs, the bundled
metaschemas) costs about 100 ms, half the budget of a whole `mlopsc validate` run. This
validator covers exactly the keywords the published schema uses and yields errors shaped like
jsonschema's (path, validator, validator_value, instance, schema, context).
tests/language/test_validator.py checks that the shipped schema uses no other keyword (so
`mlopsc validate` uses this validator without walking the schema first) and that both report
the same errors on mutated specs; for any other schema, `make_validator` falls back to
jsonschema itself when it uses a keyword this one lacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import field
from functools import cache

from .ir_node import Node, node

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

ANNOTATIONS = {"description", "default", "examples", "$comment", "title", "$schema", "$id", "$defs", "format",
               "deprecated", "readOnly", "writeOnly"}
ASSERTIONS = {"$ref", "type", "properties", "additionalProperties", "required", "enum", "const", "pattern",
              "propertyNames", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "items", "minItems",
              "maxItems", "uniqueItems", "minLength", "maxLength", "minProperties", "maxProperties", "anyOf",
              "oneOf", "allOf", "not", "if", "then", "else"}


@node  # a frozen dataclass without generated code (see ir_node): validate imports this every run
class SchemaError(Node):
    """One violation, shaped like jsonschema's ValidationError (the fields schema.py reads)."""

    message: str
    validator: str
    validator_value: Any
    instance: Any
    schema: dict
    absolute_path: tuple = ()
    context: list[SchemaError] = field(default_factory=list)


def unsupported_keywords(schema: Any) -> set[str]:
    found: set[str] = set()
    _collect_keywords(schema, found)
    return found - ANNOTATIONS - ASSERTIONS


def _collect_keywords(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            found.add(key)
            if key in ("properties", "$defs"):
                for sub in value.values():
                    _collect_keywords(sub, found)
            elif key in ("enum", "const", "default", "examples", "required"):
                continue
            else:
                _collect_keywords(value, found)
    elif isinstance(node, list):
        for item in node:
            _collect_keywords(item, found)


def make_validator(schema: dict):
    """Our validator when it understands every keyword, else jsonschema's Draft 2020-12."""
    if unsupported_keywords(schema):
        from jsonschema import Draft202012Validator

        return Draft202012Validator(schema)
    return Validator(schema)


class Validator:
    def __init__(self, root: dict):
        self.root = root

    def iter_errors(self, instance: Any) -> Iterator[SchemaError]:
        return self._errors(instance, self.root, ())

    def is_valid(self, instance: Any, schema: dict) -> bool:
        return next(self._errors(instance, schema, ()), None) is None

    # ------------------------------------------------------------------

    def _resolve(self, ref: str) -> dict:
        if not ref.startswith("#"):
            raise ValueError(f"only local $ref is supported: {ref}")
        node: Any = self.root
        for part in ref[1:].split("/")[1:]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _errors(self, inst: Any, schema: Any, path: tuple) -> Iterator[SchemaError]:
        if schema is True:
            return
        if schema is False:
            yield SchemaError("False schema does not allow", "false", False, inst, {}, path)
            return
        for key, value in schema.items():
            check = _CHECKS.get(key)
            if check is not None:
                yield from check(self, inst, value, schema, path)

    def _err(self, message, key, value, inst, schema, path, context=None) -> SchemaError:
        return SchemaError(message, key, value, inst, schema, path, context or [])


def _ref(v: Validator, inst, value, schema, path):
    yield from v._errors(inst, v._resolve(value), path)


def _type(v: Validator, inst, value, schema, path):
    types = value if isinstance(value, list) else [value]
    if not any(_is_type(inst, t) for t in types):
        yield v._err(f"{inst!r} is not of type {', '.join(repr(t) for t in types)}", "type", value, inst, schema, path)


def _is_type(inst: Any, name: str) -> bool:
    if name == "object":
        return isinstance(inst, dict)
    if name == "array":
        return isinstance(inst, list)
    if name == "string":
        return isinstance(inst, str)
    if name == "boolean":
        return isinstance(inst, bool)
    if name == "null":
        return inst is None
    if isinstance(inst, bool):
        return False
    if name == "number":
        return isinstance(inst, (int, float))
    if name == "integer":
        return isinstance(inst, int) or (isinstance(inst, float) and inst.is_integer())
    return False


def _properties(v: Validator, inst, value, schema, path):
    if isinstance(inst, dict):
        for key, sub in value.items():
            if key in inst:
                yield from v._errors(inst[key], sub, path + (key,))


def _additional(v: Validator, inst, value, schema, path):
    if not isinstance(inst, dict):
        return
    declared = schema.get("properties", {})
    extras = [k for k in inst if k not in declared]
    if value is False:
        if extras:
            yield v._err("Additional properties are not allowed", "additionalProperties", value, inst, schema, path)
        return
    for key in extras:
        yield from v._errors(inst[key], value, path + (key,))


def _required(v: Validator, inst, value, schema, path):
    if isinstance(inst, dict):
        for key in value:
            if key not in inst:
                yield v._err(f"'{key}' is a required property", "required", value, inst, schema, path)


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _enum(v: Validator, inst, value, schema, path):
    if not any(_json_equal(inst, option) for option in value):
        yield v._err(f"{inst!r} is not one of {value!r}", "enum", value, inst, schema, path)


def _const(v: Validator, inst, value, schema, path):
    if not _json_equal(inst, value):
        yield v._err(f"{value!r} was expected", "const", value, inst, schema, path)


@cache
def _regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _pattern(v: Validator, inst, value, schema, path):
    if isinstance(inst, str) and not _regex(value).search(inst):
        yield v._err(f"{inst!r} does not match {value!r}", "pattern", value, inst, schema, path)


def _property_names(v: Validator, inst, value, schema, path):
    # Like jsonschema: the key's own errors (e.g. `pattern`), at the mapping's path.
    if isinstance(inst, dict):
        for key in inst:
            yield from v._errors(key, value, path)


def _numeric(keyword: str, fails):
    # Like jsonschema, an error when the failing comparison holds: NaN compares false either way
    # and passes here (compiler/rules/numbers.py reports it as E620).
    def check(v: Validator, inst, value, schema, path):
        if isinstance(inst, (int, float)) and not isinstance(inst, bool) and fails(inst, value):
            yield v._err(f"{inst!r} violates {keyword} {value!r}", keyword, value, inst, schema, path)
    return check


def _items(v: Validator, inst, value, schema, path):
    if isinstance(inst, list):
        for i, item in enumerate(inst):
            yield from v._errors(item, value, path + (i,))


def _count(keyword: str, kind: type, ok):
    def check(v: Validator, inst, value, schema, path):
        if isinstance(inst, kind) and not ok(len(inst), value):
            yield v._err(f"{inst!r} violates {keyword} {value!r}", keyword, value, inst, schema, path)
    return check


def _unique(v: Validator, inst, value, schema, path):
    if value and isinstance(inst, list):
        for i in range(len(inst)):
            if any(_json_equal(inst[i], inst[j]) for j in range(i)):
                yield v._err(f"{inst!r} has non-unique elements", "uniqueItems", value, inst, schema, path)
                return


def _any_of(v: Validator, inst, value, schema, path):
    context = []
    for sub in value:
        errors = list(v._errors(inst, sub, path))
        if not errors:
            return
        context += errors
    yield v._err(f"{inst!r} is not valid under any of the given schemas", "anyOf", value, inst, schema, path, context)


def _one_of(v: Validator, inst, value, schema, path):
    context, matches = [], 0
    for sub in value:
        errors = list(v._errors(inst, sub, path))
        matches += not errors
        context += errors
    if matches == 0:
        yield v._err(f"{inst!r} is not valid under any of the given schemas", "oneOf", value, inst, schema, path,
                     context)
    elif matches > 1:
        yield v._err(f"{inst!r} is valid under each of several schemas", "oneOf", value, inst, schema, path)


def _all_of(v: Validator, inst, value, schema, path):
    for sub in value:
        yield from v._errors(inst, sub, path)


def _not(v: Validator, inst, value, schema, path):
    if v.is_valid(inst, value):
        yield v._err(f"{inst!r} should not be valid under {value!r}", "not", value, inst, schema, path)


def _if(v: Validator, inst, value, schema, path):
    if v.is_valid(inst, value):
        if "then" in schema:
            yield from v._errors(inst, schema["then"], path)
    elif "else" in schema:
        yield from v._errors(inst, schema["else"], path)


_CHECKS = {
    "$ref": _ref,
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "propertyNames": _property_names,
    "minimum": _numeric("minimum", lambda x, v: x < v),
    "maximum": _numeric("maximum", lambda x, v: x > v),
    "exclusiveMinimum": _numeric("exclusiveMinimum", lambda x, v: x <= v),
    "exclusiveMaximum": _numeric("exclusiveMaximum", lambda x, v: x >= v),
    "items": _items,
    "minItems": _count("minItems", list, lambda n, v: n >= v),
    "maxItems": _count("maxItems", list, lambda n, v: n <= v),
    "uniqueItems": _unique,
    "minLength": _count("minLength", str, lambda n, v: n >= v),
    "maxLength": _count("maxLength", str, lambda n, v: n <= v),
    "minProperties": _count("minProperties", dict, lambda n, v: n >= v),
    "maxProperties": _count("maxProperties", dict, lambda n, v: n <= v),
    "anyOf": _any_of,
    "oneOf": _one_of,
    "allOf": _all_of,
    "not": _not,
    "if": _if,
}
