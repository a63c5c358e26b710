"""Price tables: dated JSON files shipped in this package, read on first use only.

Each table names its source and the date it was transcribed (`as_of`). A user's own table
(`mlopsc cost --prices FILE` or the spec's `cost.prices`) is merged over the shipped one, key by
key, so negotiated rates replace only what they name; a `kubernetes.nodes` table replaces the
shipped node table whole (a cluster has exactly its own node types).
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import field

from ..ir_node import Record, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

TABLES = ("sagemaker", "vertex", "kubernetes", "tokens")
STALE_AFTER_DAYS = 180  # list prices move a few times a year; older tables get a warning
_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "prices")


class PricesError(Exception):
    """A price file that cannot be read or has the wrong shape."""


@record  # a mutable dataclass without generated code (see ir_node)
class PriceBook(Record):
    """The tables in use, loaded lazily; `overrides` come from a user's file."""

    overrides: dict[str, Any] = field(default_factory=dict)
    override_source: str | None = None
    _loaded: dict[str, dict] = field(default_factory=dict)
    rates: dict[tuple, Any] = field(default_factory=dict)  # compute.rate's memo

    def table(self, name: str) -> dict:
        if name not in self._loaded:
            base, own = shipped(name), self.overrides.get(name) or {}
            if name == "kubernetes" and "nodes" in own:
                base = {**base, "nodes": {}}  # a cluster's node table replaces the shipped one whole
            self._loaded[name] = merged(base, own)
        return self._loaded[name]

    def used(self) -> list[str]:
        return sorted(self._loaded)


def shipped(name: str) -> dict:
    with open(os.path.join(_DIR, f"{name}.json"), encoding="utf-8") as f:
        return json.load(f)


def merged(base: dict, override: dict) -> dict:
    """`override` over `base`; nested mappings merge, everything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def read_overrides(path: str) -> dict[str, Any]:
    """A user's price file (JSON or YAML): `{sagemaker: {instances: {...}}, kubernetes: {nodes: {...}}, ...}`."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise PricesError(f"cannot read price file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if path.endswith(".json") else _yaml(text)
    except ValueError as exc:
        raise PricesError(f"price file {path} is not valid JSON/YAML: {exc}") from None
    if not isinstance(data, dict) or not all(k in TABLES for k in data):
        raise PricesError(f"price file {path} must be a mapping with keys among: {', '.join(TABLES)}")
    for key, value in data.items():
        if not isinstance(value, dict):
            raise PricesError(f"price file {path}: `{key}` must be a mapping")
    return data


def book_for(spec_path: str, spec_prices: str | None, prices_file: str | None = None) -> PriceBook:
    """The shipped tables, under the spec's `cost.prices` file (relative to the spec), under `--prices`."""
    overrides: dict[str, Any] = {}
    if spec_prices:
        overrides = read_overrides(os.path.join(os.path.dirname(spec_path), spec_prices))
    if prices_file:
        overrides = merged(overrides, read_overrides(prices_file))
    return PriceBook(overrides, prices_file or spec_prices)


def _yaml(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc).splitlines()[0]) from None


def age_days(table: dict, today: datetime.date | None = None) -> int:
    as_of = datetime.date.fromisoformat(str(table.get("as_of", "1970-01-01")))
    return ((today or datetime.date.today()) - as_of).days


def stale_notes(book: PriceBook, today: datetime.date | None = None) -> list[str]:
    """One note per table in use older than STALE_AFTER_DAYS."""
    notes = []
    for name in book.used():
        table = book.table(name)
        days = age_days(table, today)
        if days > STALE_AFTER_DAYS:
            notes.append(f"price table `{name}` is {days} days old (as of {table.get('as_of')}, stale after "
                         f"{STALE_AFTER_DAYS}); check {table.get('source', 'its source')} or pass --prices FILE")
    return notes
