"""The one YAML emitter and the one JSON emitter: same input, same bytes, LF, sorted keys."""

from __future__ import annotations

import json
from typing import Any

import yaml


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    pass


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # Multi-line strings (scripts, messages) read best as literal blocks in a PR diff.
    style = "|" if "\n" in value and not value.startswith((" ", "\n")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)


def yaml_text(data: Any, *, sort_keys: bool = True) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=sort_keys, default_flow_style=False,
                     allow_unicode=True, width=100, line_break="\n")


def yaml_documents(docs: list[Any], *, header: str = "") -> str:
    """Several documents, `---` between them, as kfp writes IR plus its platform spec."""
    body = yaml.dump_all(docs, Dumper=_Dumper, sort_keys=True, default_flow_style=False,
                         allow_unicode=True, width=100, line_break="\n")
    return header + body


def json_text(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
