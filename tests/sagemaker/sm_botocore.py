"""Validate step `Arguments` against botocore's service model for the request each step makes.

How pipeline expressions are handled: before validation, every `{"Get": ...}`,
`{"Std:Join": ...}` and `{"Std:JsonGet": ...}` is replaced, walking the arguments and the botocore
input shape together, by a placeholder of the type the shape expects at that spot: a string of the
shape's minimum length for strings, the shape's minimum (or 1) for integers and floats, `True` for
booleans. Expressions where the shape expects a structure, list or map are left in place so the
validator rejects them. The job name (which the pipeline service supplies) is set to a placeholder.
Then botocore's `ParamValidator` checks required and unknown members, types and minimums; on top,
`extra_problems` checks enums and maximum lengths/values, which `ParamValidator` does not.
"""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.validate import ParamValidator

EXPRESSIONS = ("Get", "Std:Join", "Std:JsonGet")

# step Type -> (operation, the name member the pipeline service fills in)
OPERATIONS = {
    "Processing": ("CreateProcessingJob", "ProcessingJobName"),
    "Training": ("CreateTrainingJob", "TrainingJobName"),
    "Tuning": ("CreateHyperParameterTuningJob", "HyperParameterTuningJobName"),
    "RegisterModel": ("CreateModelPackage", None),
    "Model": ("CreateModel", "ModelName"),
    "Transform": ("CreateTransformJob", "TransformJobName"),
}

_MODEL = None


def model():
    global _MODEL
    if _MODEL is None:
        _MODEL = botocore.session.get_session().get_service_model("sagemaker")
    return _MODEL


def is_expression(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in EXPRESSIONS


def placeholder(shape) -> Any:
    t = shape.type_name
    if t == "string":
        enum = shape.metadata.get("enum")
        return enum[0] if enum else "x" * max(1, shape.metadata.get("min", 1))
    if t in ("integer", "long"):
        return max(1, shape.metadata.get("min", 1))
    if t in ("float", "double"):
        return float(max(1, shape.metadata.get("min", 1)))
    if t == "boolean":
        return True
    return None  # structures, lists and maps cannot be an expression


def substitute(value: Any, shape) -> Any:
    if is_expression(value):
        ph = placeholder(shape)
        return value if ph is None else ph
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: substitute(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [substitute(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: substitute(v, shape.value) for k, v in value.items()}
    return value


def extra_problems(value: Any, shape, path: str = "") -> list[str]:
    problems = []
    meta = shape.metadata
    if shape.type_name == "string" and isinstance(value, str):
        if "enum" in meta and value not in meta["enum"]:
            problems.append(f"{path}: {value!r} not in enum")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: longer than {meta['max']}")
    elif shape.type_name in ("integer", "long", "float", "double") and isinstance(value, (int, float)):
        if "max" in meta and value > meta["max"]:
            problems.append(f"{path}: {value} above {meta['max']}")
    elif shape.type_name == "structure" and isinstance(value, dict):
        for k, v in value.items():
            if k in shape.members:
                problems += extra_problems(v, shape.members[k], f"{path}.{k}")
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: more than {meta['max']} items")
        for i, v in enumerate(value):
            problems += extra_problems(v, shape.member, f"{path}[{i}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for k, v in value.items():
            problems += extra_problems(k, shape.key, f"{path}.<key {k}>")
            problems += extra_problems(v, shape.value, f"{path}.{k}")
    return problems


def check_request(operation: str, arguments: dict[str, Any], name_member: str | None = None) -> list[str]:
    shape = model().operation_model(operation).input_shape
    params = substitute(dict(arguments), shape)
    if name_member:
        params[name_member] = "placeholder-name"
    report = ParamValidator().validate(params, shape)
    problems = [report.generate_report()] if report.has_errors() else []
    return problems + extra_problems(params, shape)


def check_step(step: dict[str, Any]) -> list[str]:
    operation, name_member = OPERATIONS[step["Type"]]
    return [f"{step['Name']} ({operation}): {p}" for p in check_request(operation, step["Arguments"], name_member)]
