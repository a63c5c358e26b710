"""Where a local run keeps step outputs: one folder per step under the run's work directory.

Shared by the compiled plan (targets/local) and the runner (mlopsc run), so both agree.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.contract import WORKDIR, output_path

__all__ = ["WORKDIR", "input_ref", "output_path"]


def input_ref(pipeline: str, source: ir.FromStep | ir.FromParam | ir.Constant) -> str:
    """Plan reference for an input: a producer's output path, or a parameter resolved at run time."""
    if isinstance(source, ir.FromStep):
        return "{{steps.%s.outputs.%s}}" % (source.step, source.output)
    if isinstance(source, ir.FromParam):
        return "{{params.%s}}" % source.param
    return str(source.value)
