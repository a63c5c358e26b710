"""KFP runtime placeholders (`{{$...}}`) for the step contract's input and output references."""

from __future__ import annotations

from mlopsc import ir

EXECUTOR_INPUT = "{{$}}"
OUTPUT_FILE = "{{$.outputs.output_file}}"


def input_parameter(name: str) -> str:
    return f"{{{{$.inputs.parameters['{name}']}}}}"


def input_artifact_path(name: str) -> str:
    return f"{{{{$.inputs.artifacts['{name}'].path}}}}"


def output_parameter_file(name: str) -> str:
    return f"{{{{$.outputs.parameters['{name}'].output_file}}}}"


def output_artifact_path(name: str) -> str:
    return f"{{{{$.outputs.artifacts['{name}'].path}}}}"


def input_ref(i: ir.Input) -> str:
    return input_artifact_path(i.name) if i.kind in ir.ARTIFACT_KINDS else input_parameter(i.name)


def output_ref(o: ir.Port) -> str:
    return output_artifact_path(o.name) if o.is_artifact else output_parameter_file(o.name)
