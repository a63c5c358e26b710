"""IR port kinds -> KFP parameter types and artifact types."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any


PARAMETER_TYPES = {
    "string": "STRING",
    "integer": "NUMBER_INTEGER",
    "number": "NUMBER_DOUBLE",
    "boolean": "BOOLEAN",
}

ARTIFACT_TYPES = {
    "dataset": "system.Dataset",
    "model": "system.Model",
    "metrics": "system.Metrics",
    "artifact": "system.Artifact",
}


def is_artifact(kind: str) -> bool:
    return kind in ARTIFACT_TYPES


def parameter_spec(kind: str) -> dict[str, Any]:
    return {"parameterType": PARAMETER_TYPES[kind]}


def artifact_spec(kind: str) -> dict[str, Any]:
    return {"artifactType": {"schemaTitle": ARTIFACT_TYPES[kind], "schemaVersion": "0.0.1"}}


def port_spec(kind: str) -> dict[str, Any]:
    return artifact_spec(kind) if is_artifact(kind) else parameter_spec(kind)


def cel_literal(value: Any) -> str:
    """A Python value as a CEL literal (the KFP backend evaluates conditions with cel-go)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value)) if isinstance(value, float) else str(value)
    escaped = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"
