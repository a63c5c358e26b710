"""SageMaker pipeline expressions and names: the only three functions the service evaluates.

`Get` reads a parameter, a step property or an execution variable; `Std:Join` builds a string at
run time; `Std:JsonGet` reads a value from a step's property file (a JSON file it wrote).
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any


def get(path: str) -> dict[str, str]:
    return {"Get": path}


def param(name: str) -> dict[str, str]:
    return get(f"Parameters.{name}")


def join(values: list[Any], on: str = "") -> Any:
    """`Std:Join`, or the plain string when nothing in `values` is resolved at run time."""
    if all(isinstance(v, str) for v in values):
        return on.join(values)
    return {"Std:Join": {"On": on, "Values": values}}


def json_get(step: str, property_file: str, path: str) -> dict[str, Any]:
    return {"Std:JsonGet": {"PropertyFile": get(f"Steps.{step}.PropertyFiles.{property_file}"), "Path": path}}


def execution_id() -> dict[str, str]:
    return get("Execution.PipelineExecutionId")


def is_expression(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Get", "Std:Join", "Std:JsonGet")


def pipeline_name(project: str, pipeline: str) -> str:
    """`[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}`: no underscores, no leading/trailing or doubled dashes
    issues; kept at most 82 characters so execution display names stay valid."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", f"{project}-{pipeline}").strip("-")
    return re.sub(r"-{2,}", "-", name)[:82].rstrip("-")


def resource_name(*parts: str, limit: int = 63) -> str:
    """Endpoint, model and job-definition names (mlopsc.resource_names: every target's names, in
    one place, where validate checks them)."""
    from mlopsc.resource_names import sagemaker_resource

    return sagemaker_resource(*parts, limit=limit)


def logical_id(*parts: str) -> str:
    """CloudFormation logical id: alphanumeric, CamelCase from the parts."""
    words = re.split(r"[^A-Za-z0-9]+", " ".join(parts))
    return "".join(w[:1].upper() + w[1:] for w in words if w)
