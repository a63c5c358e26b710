"""The evaluation gate's CEL conditions, evaluated with cel-python as the backend (cel-go) would."""

import celpy
import pytest
from mlopsc.targets.kfp_ir.check import CONDITION_REF


def _condition_tasks(spec):
    found = {}
    for comp in [spec["root"], *spec["components"].values()]:
        for name, task in comp.get("dag", {}).get("tasks", {}).items():
            cond = task.get("triggerPolicy", {}).get("condition")
            if cond:
                found[name] = (cond, spec["components"][task["componentRef"]["name"]])
    return found


def _runs(condition, values):
    env = celpy.Environment()
    program = env.program(env.compile(condition))
    ctx = {"inputs": celpy.json_to_cel({"parameter_values": values})}
    return bool(program.evaluate(ctx))


@pytest.mark.parametrize("spec", ["churn", "support-assistant"])
@pytest.mark.parametrize("passed", [True, False])
def test_gate_runs_register_or_fail(compiled, spec, passed):
    tasks = _condition_tasks(compiled[(spec, "train")].spec)
    ran = set()
    for cond, comp in tasks.values():
        refs = CONDITION_REF.findall(cond)
        assert refs == ["pipelinechannel--evaluate-passed"]
        if _runs(cond, {refs[0]: passed}):
            ran |= set(comp["dag"]["tasks"])
    assert ran == ({"register"} if passed else {"gate-failed"})
