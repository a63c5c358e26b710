"""The published JSON Schema, and its errors turned into located diagnostics."""

from __future__ import annotations

import json
import os
from functools import lru_cache

from .diagnostics import Diagnostic
from .loader import Document

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

SCHEMA_URL = "https://mlopsc.dev/schemas/mlops.schema.json"


def schema_text() -> str:
    # What pkgutil.get_data does (the package's own loader, so a zipped install works too),
    # without importing importlib.resources, which costs ~10 ms of every `mlopsc validate`.
    from mlopsc import schemas

    path = os.path.join(os.path.dirname(schemas.__file__), "mlops.schema.json")
    return schemas.__spec__.loader.get_data(path).decode("utf-8")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(schema_text())


@lru_cache(maxsize=1)
def _validator():
    from .validator import Validator

    # The shipped schema uses only keywords our validator implements (tests/language/test_validator.py
    # holds it to that), so validate skips make_validator's walk over it (~1 ms of every run).
    return Validator(schema())


def raw_errors(data: Any) -> list:
    """The validator's own errors (with paths), for compiler/partial.py."""
    return list(_validator().iter_errors(data))


def check(doc: Document) -> list[Diagnostic]:
    """Every schema violation in `doc`, located; one diagnostic per problem."""
    found: dict[tuple, Diagnostic] = {}
    for error in _validator().iter_errors(doc.data):
        for diag in _diagnose(error, doc):
            found.setdefault((diag.line, diag.col, diag.code, diag.message), diag)
    return sorted(found.values())


def _diagnose(error, doc: Document) -> list[Diagnostic]:
    path = tuple(error.absolute_path)
    where = _dotted(path)
    validator = error.validator
    if validator in ("anyOf", "oneOf") and error.context:
        # Report the alternative that got furthest (deepest path), not "is not valid under any".
        best = max(error.context, key=lambda e: (len(e.absolute_path), -_rank(e)))
        if len(best.absolute_path) > len(path) or validator == "oneOf":
            return _diagnose(best, doc)
        if all(e.validator == "type" and len(e.absolute_path) == len(path) for e in error.context):
            return [_no_alternative_type(error, doc, where)]
    if validator == "additionalProperties":
        return _unknown_keys(error, path, doc)
    line, col = doc.source_map.locate(path)
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [_diag(doc, line, col, "E202", f"missing required key `{missing}`" + (f" in `{where}`" if where else " at the top level"),
                      _required_hint(error, missing))]
    if validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return [_diag(doc, line, col, "E203",
                      f"{where}: expected {_article(expected)}, got {_kind(error.instance)} {_show(error.instance)}")]
    if validator in ("enum", "const"):
        allowed = error.validator_value if validator == "enum" else [error.validator_value]
        close = _close_matches(str(error.instance), [str(a) for a in allowed], n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        return [_diag(doc, line, col, "E204", f"{where}: {_show(error.instance)} is not allowed",
                      hint + "allowed: " + ", ".join(f"`{a}`" for a in allowed))]
    if validator == "pattern" and isinstance(_value_at(doc.data, path), dict):
        # propertyNames reports a bad key at its mapping's path.
        line, col = doc.source_map.locate(path + (error.instance,), key=True)
        return [_diag(doc, line, col, "E205", f"{where}: key {_show(error.instance)} is not a valid name"
                      + _unusual(error.instance, doc, line, col), _pattern_hint(error))]
    if validator == "pattern":
        return [_diag(doc, line, col, "E205", f"{where}: {_show(error.instance)} has the wrong form"
                      + _unusual(error.instance, doc, line, col), _pattern_hint(error))]
    if validator == "not" and error.validator_value == {}:
        key = path[-1] if path else ""
        line, col = doc.source_map.locate(path, key=True)
        return [_diag(doc, line, col, "E208", f"`{key}` does not apply here" + (f" (`{_dotted(path[:-1])}`)"
                      if len(path) > 1 else ""), _not_hint(path, doc))]
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        relation = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[validator]
        return [_diag(doc, line, col, "E206",
                      f"{where}: {_show(error.instance)} is out of range; it must be {relation} {error.validator_value}")]
    if validator in ("minItems", "maxItems", "minProperties", "maxProperties", "uniqueItems", "minLength",
                     "maxLength"):
        return [_diag(doc, line, col, "E207", f"{where}: {_size_message(error)}", _size_hint(error))]
    return [_diag(doc, line, col, "E200", f"{where or 'the spec'}: {error.message}")]


def _unusual(value: Any, doc: Document, line: int, col: int) -> str:
    """Names a look-alike or invisible character, the usual reason a name that reads right fails."""
    if not isinstance(value, str):
        return ""
    from .rules.strings import column_of, first_unusual_index, unusual_character

    index = first_unusual_index(value)
    if index is None:
        return ""
    return f": it contains {unusual_character(value)} at column {column_of(doc, line, col, value[index])}"


def _no_alternative_type(error, doc: Document, where: str) -> Diagnostic:
    """E203 for a value whose type none of the alternatives takes (rather than "is not valid under
    any of the given schemas")."""
    expected: list[str] = []
    for e in error.context:
        for t in e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]:
            if t not in expected:
                expected.append(t)
    line, col = doc.source_map.locate(tuple(error.absolute_path))
    return _diag(doc, line, col, "E203", f"{where}: expected {_article(' or '.join(expected))}, "
                 f"got {_kind(error.instance)} {_show(error.instance)}".rstrip())


def _close_matches(word: str, choices: list[str], n: int, cutoff: float = 0.6) -> list[str]:
    import difflib  # only when there is something to suggest: a valid spec never needs it

    return difflib.get_close_matches(word, choices, n=n, cutoff=cutoff)


def _value_at(data: Any, path) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _not_hint(path, doc: Document) -> str | None:
    parent = _value_at(doc.data, path[:-1])
    kind = parent.get("type", "direct") if isinstance(parent, dict) else None
    if kind is not None and path and path[-2:-1] == ("strategy",):
        uses = {"steps": "canary", "sample": "shadow", "split": "ab_test", "duration": "shadow or ab_test"}
        return f"`{path[-1]}` is for {uses.get(path[-1], 'another type')}, not `{kind}`; remove it or change `type`"
    return None


def _rank(error) -> int:
    # Prefer errors that say what is wrong with a key over generic type mismatches.
    return {"type": 2, "required": 1}.get(error.validator, 0)


def _unknown_keys(error, path, doc: Document) -> list[Diagnostic]:
    allowed = sorted(error.schema.get("properties", {}))
    declared = error.schema.get("properties", {})
    extras = [k for k in error.instance if k not in declared]
    if error.schema.get("patternProperties"):
        import re

        extras = [k for k in extras if not any(re.search(p, k) for p in error.schema["patternProperties"])]
    diags = []
    for key in sorted(extras):
        line, col = doc.source_map.locate(path + (key,), key=True)
        close = _close_matches(key, allowed, n=1, cutoff=0.6)
        if close:
            hint = f"did you mean `{close[0]}`?"
        elif allowed:
            hint = "allowed keys here: " + ", ".join(f"`{a}`" for a in allowed)
        else:
            hint = None
        where = _dotted(path)
        from .rules.strings import printable

        diags.append(_diag(doc, line, col, "E201", f"unknown key `{printable(key)}`" + (f" in `{where}`" if where else ""),
                           hint))
    return diags


def _required_hint(error, missing: str) -> str | None:
    prop = error.schema.get("properties", {}).get(missing, {})
    desc = prop.get("description")
    return desc.split(". ")[0].rstrip(".") if desc else None


def _pattern_hint(error) -> str | None:
    schema = error.schema
    for key in ("x-hint", "description"):
        if schema.get(key):
            return schema[key].split(". ")[0].rstrip(".")
    return f"it must match {schema.get('pattern')}" if schema.get("pattern") else None


def _size_message(error) -> str:
    v, inst = error.validator, error.instance
    if v == "minItems":
        return f"needs at least {error.validator_value} item(s)"
    if v == "maxItems":
        return f"allows at most {error.validator_value} item(s)"
    if v == "minProperties":
        return f"needs at least {error.validator_value} key(s)"
    if v == "maxProperties":
        return f"allows at most {error.validator_value} key(s), found {', '.join(f'`{k}`' for k in inst)}"
    if v == "uniqueItems":
        return "items must be unique"
    if v == "minLength":
        return "must not be empty"
    return error.message


def _size_hint(error) -> str | None:
    props = error.schema.get("properties")
    if error.validator in ("minProperties", "maxProperties") and props:
        return "one of: " + ", ".join(f"`{p}`" for p in props)
    return None


def _diag(doc: Document, line: int, col: int, code: str, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(doc.file, line, col, code, message, hint)


def _dotted(path) -> str:
    from .rules.document import dotted

    return dotted(path) if path else ""


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _article(expected: str) -> str:
    names = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
             "number": "a number", "boolean": "a boolean (true or false)", "null": "null"}
    return " or ".join(names.get(e, e) for e in expected.split(" or "))


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return ""
    if isinstance(value, str):
        from .rules.secrets import looks_like_credential

        if looks_like_credential(value):
            return "(a value that looks like a credential, not shown)"
    if isinstance(value, str):
        from .rules.strings import printable

        text = printable(value)
    else:
        text = json.dumps(value)
    return f"`{text if len(text) <= 40 else text[:37] + '...'}`"
