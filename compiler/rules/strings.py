"""E624-E626 over the document: strings that would break the files they land in.

Every string value and mapping key is checked for control characters (a newline in
`image.base` used to add a `RUN` line to the compiled Dockerfile) and for invisible
characters (zero-width, bidirectional controls); values with a grammar of their own, like the
image reference that becomes a Dockerfile `FROM`, are checked against it. Non-ASCII characters
that break a name's pattern are named by `unusual_character`, which schema.py uses for E205.
"""

from __future__ import annotations

import re
import unicodedata

from ..loader import Document, Path
from .document import Found, dotted, value_at

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

# Line breaks and tabs are text in a description; everywhere else they would end a line or a
# field in some generated file.
FREE_TEXT_KEYS = ("description",)
_INVISIBLE = set("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u3164\ufeff\uffa0") | {
    chr(c) for r in ((0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xFE00, 0xFE0F))
    for c in range(r[0], r[1] + 1)}
# Letters from other scripts that look like ASCII ones (the common part of Unicode's confusables).
LOOKALIKES = dict(zip(
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455\u04bb\u0501\u0391\u0392\u0395\u0396\u0397\u0399"
    "\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7\u03bf\u03bd\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420"
    "\u0421\u0422\u0425\u2010\u2011\u2012\u2013\u2212\uff0d\u0131\u2024\uff0e\u02d0\uff1a",
    "aeopcyxijshdABEZHIKMNOPTYXovABEKMHOPCTX------i..::"))
# A Docker image reference: [registry[:port]/]path[:tag][@digest] (distribution's grammar).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(rf"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
                    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$")


def check(doc: Document) -> list:
    found = Found(doc)
    _walk(found, doc.data, ())
    base = value_at(doc.data, ("image", "base"))
    if isinstance(base, str) and not _bad_character(base, False) and not _IMAGE.match(base):
        found.error(("image", "base"), "E626", "image.base: not an image reference (it becomes the Dockerfile's "
                    "`FROM`)", "write e.g. `python:3.11-slim` or `registry.example.com/team/base:1.2@sha256:...`")
    return found.items


def _walk(found: Found, node: Any, path: Path) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _string(found, path + (key,), key, True)
            _walk(found, value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk(found, value, path + (i,))
    elif isinstance(node, str):
        _string(found, path, node, False)


def _string(found: Found, path: Path, text: str, is_key: bool) -> None:
    free_text = not is_key and bool(path) and path[-1] in FREE_TEXT_KEYS
    bad = _bad_character(text, free_text)
    if bad is None:
        return
    _, char = bad
    where = f"key {dotted(path)}" if is_key else dotted(path)
    offset = _offset(found.doc, path, is_key, char)
    if unicodedata.category(char) == "Cc":
        found.error(path, "E624", f"{where}: {_name(char)} at column {_column(found, path, is_key, offset)}; "
                    "it would break the generated files this value reaches",
                    "remove it; only `description` may span lines", key=is_key, col_offset=offset)
    else:
        found.error(path, "E625", f"{where}: invisible character {_name(char)} at column "
                    f"{_column(found, path, is_key, offset)}", "delete it (it is easy to paste by accident)",
                    key=is_key, col_offset=offset)


def _bad_character(text: str, free_text: bool) -> tuple[int, str] | None:
    if text.isascii() and text.isprintable():  # most values: no control character, nothing invisible
        return None
    for i, char in enumerate(text):
        if char in _INVISIBLE:
            return i, char
        if unicodedata.category(char) == "Cc" and not (free_text and char in "\n\t"):
            return i, char
    return None


def unusual_character(text: str) -> str | None:
    """The first non-ASCII character in `text`, named, with its ASCII look-alike if it has one."""
    for char in text:
        if ord(char) > 127 or unicodedata.category(char) == "Cc":
            alike = LOOKALIKES.get(char)
            return _name(char) + (f", which looks like `{alike}`" if alike else "")
    return None


def first_unusual_index(text: str) -> int | None:
    return next((i for i, c in enumerate(text) if ord(c) > 127 or unicodedata.category(c) == "Cc"), None)


def printable(text: str) -> str:
    """`text` with control and invisible characters escaped, so a message shows what is there
    (a right-to-left override would otherwise reorder the message itself)."""
    if all(c not in _INVISIBLE and unicodedata.category(c) != "Cc" for c in text):
        return text
    return "".join(f"\\u{ord(c):04x}" if c in _INVISIBLE or unicodedata.category(c) == "Cc" else c for c in text)


def column_of(doc: Document, line: int, col: int, char: str) -> int:
    """The column of `char` on `line`, searching from the value's column `col` (which, for a
    quoted or escaped value, is not simply col + index)."""
    lines = doc.raw.decode("utf-8", "replace").splitlines() or [""]
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    index = text.find(char, col - 1)
    return index + 1 if index >= 0 else col


_CONTROL_NAMES = {"\n": "LINE FEED (a line break)", "\r": "CARRIAGE RETURN (a line break)", "\t": "TAB",
                  "\x1b": "ESCAPE", "\x00": "NUL"}


def _name(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, '') or _CONTROL_NAMES.get(char, 'CONTROL CHARACTER')}"


def _offset(doc: Document, path: Path, is_key: bool, char: str) -> int:
    """How far the character sits from the start of the value on its line (0 when not on it)."""
    line, col = doc.source_map.locate(path, key=is_key)
    return column_of(doc, line, col, char) - col


def _column(found: Found, path: Path, is_key: bool, offset: int) -> int:
    return found.doc.source_map.locate(path, key=is_key)[1] + offset
