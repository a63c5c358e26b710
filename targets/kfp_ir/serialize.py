"""PipelineSpec (+ PlatformSpec) -> YAML text, as kfp's compiler writes it.

kfp (`write_pipeline_spec_to_file`) dumps `[spec, platform]` with sorted keys after a
`# PIPELINE DEFINITION` comment header, and writes the platform document only when it is
non-empty; `two_documents=False` drops it (Vertex rejects multi-document YAML).
"""

from __future__ import annotations

from mlopsc.emit import yaml_documents

from .builder import Compiled

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

_PY_TYPES = {"STRING": "str", "NUMBER_INTEGER": "int", "NUMBER_DOUBLE": "float", "BOOLEAN": "bool",
             "LIST": "list", "STRUCT": "dict"}


def header(spec: dict[str, Any]) -> str:
    info = spec["pipelineInfo"]
    lines = ["# PIPELINE DEFINITION", f"# Name: {info['name']}"]
    if info.get("description"):
        lines.append(f"# Description: {info['description']}")
    params = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    if params:
        lines.append("# Inputs:")
        for name in sorted(params):
            p = params[name]
            default = f" [Default: {p['defaultValue']!r}]" if "defaultValue" in p else ""
            lines.append(f"#    {name}: {_PY_TYPES.get(p['parameterType'], p['parameterType'])}{default}")
    return "\n".join(lines) + "\n"


def render(compiled: Compiled, *, two_documents: bool = True) -> str:
    docs = [compiled.spec]
    if two_documents and compiled.platform:
        docs.append(compiled.platform)
    return yaml_documents(docs, header=header(compiled.spec))
