"""The step contract is one thing: every `mlopsc step` that any target emits, for every example
and for generated variants of them, names an action the runtime implements, with ports the
action has, kinds that match, and the target it was compiled for."""

from __future__ import annotations

import copy
import itertools
import json
import os

import pytest
import yaml
from mlopsc import api, contract, targets
from mlopsc.diagnostics import SpecError
from mlopsc.runtime.steps import action_function

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(f for f in os.listdir(os.path.join(ROOT, "specs")) if f.endswith(".yaml"))
SECTIONS = ["features", "evals", "deployment", "monitoring", "triggers", "llm", "registry"]


def _variants(example: str) -> list[tuple[str, dict]]:
    """The example, and the example without each optional section and each pair of them."""
    with open(os.path.join(ROOT, "specs", example), encoding="utf-8") as f:
        tree = yaml.safe_load(f)
    present = [s for s in SECTIONS if s in tree]
    out = [(example, tree)]
    for size in (1, 2):
        for removed in itertools.combinations(present, size):
            variant = copy.deepcopy(tree)
            for section in removed:
                variant.pop(section)
            out.append((f"{example}-{'-'.join(removed)}", variant))
    return out


def _walk(node, found: list[list[str]]) -> None:
    if isinstance(node, dict):
        command, args = node.get("command"), node.get("args")
        if isinstance(command, list) and command[:2] == ["mlopsc", "step"] and isinstance(args, list):
            found.append([_text(x) for x in command + args])  # KFP splits the argv in two
            node = {k: v for k, v in node.items() if k not in ("command", "args")}
        for value in node.values():
            _walk(value, found)
    elif isinstance(node, list):
        if node[:2] == ["mlopsc", "step"]:
            found.append([_text(x) for x in node])
        else:
            for value in node:
                _walk(value, found)
    elif isinstance(node, str) and node.startswith('["mlopsc", "step"'):
        found.append([_text(x) for x in json.loads(node)])  # SageMaker tuning: MLOPSC_STEP_ARGV


def _text(element) -> str:
    """SageMaker argv elements may be pipeline expressions: `Std:Join` keeps its literal parts
    (`git_commit=` + a parameter), anything else is a value known at run time."""
    if isinstance(element, str):
        return element
    if isinstance(element, dict) and "Std:Join" in element:
        join = element["Std:Join"]
        return join["On"].join(_text(v) for v in join["Values"])
    return "<expression>"


def emitted_argvs(files) -> list[list[str]]:
    found: list[list[str]] = []
    for f in files:
        if f.path.endswith(".json"):
            _walk(json.loads(f.content), found)
        elif f.path.endswith((".yaml", ".yml")):
            for doc in yaml.safe_load_all(f.content):
                _walk(doc, found)
    return found


def _compiled(tmp_path, name: str, tree: dict):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    try:
        return api.load_project(str(path))
    except SpecError:
        return None  # a variant the language rejects (e.g. production without its eval gate)


def _check_ir_ports(project) -> list[str]:
    problems = []
    for pipeline in project.pipelines:
        for step in (*pipeline.steps, *([pipeline.on_failure] if pipeline.on_failure else [])):
            act = contract.ACTIONS.get(step.action)
            if act is None:
                problems.append(f"{pipeline.name}/{step.name}: unknown action {step.action}")
                continue
            if step.kind not in act.kinds:
                problems.append(f"{pipeline.name}/{step.name}: {step.action} cannot run as {step.kind}")
            for side, ports, lookup in (("input", step.inputs, act.input), ("output", step.outputs, act.output)):
                for port in ports:
                    spec = lookup(port.name)
                    if spec is None or spec.kind != port.kind:
                        problems.append(f"{pipeline.name}/{step.name}: {side} {port.name}:{port.kind} "
                                        f"is not a port of {step.action} ({spec})")
    return problems


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_emitted_action_resolves_in_the_runtime_with_matching_ports(tmp_path, example):
    checked = 0
    for name, tree in _variants(example):
        project = _compiled(tmp_path, name, tree)
        if project is None:
            continue
        assert _check_ir_ports(project) == [], name
        for target in targets.names():
            files, _ = targets.get(target).compile(project)
            for argv in emitted_argvs(files):
                call = contract.parse_argv(argv)
                assert contract.check_call(call) == [], (name, target, argv)
                assert call.target == target and call.pipeline and call.step, (name, target, argv)
                assert callable(action_function(call.action))
                checked += 1
    assert checked > 50  # the walk found the steps (guards against a vacuous pass)


def test_the_walk_finds_every_step_of_every_target():
    project = api.load_project(os.path.join(ROOT, "specs", "churn.yaml"))
    for target in targets.names():
        files, _ = targets.get(target).compile(project)
        actions = {contract.parse_argv(a).action for a in emitted_argvs(files)}
        assert {"resolve_data", "validate", "features", "train", "evaluate", "drift", "approve"} <= actions, \
            (target, actions)
        if target != "sagemaker":  # SageMaker registers with its native RegisterModel step
            assert "register" in actions, (target, actions)


def test_validate_data_takes_the_versions_resolve_data_found_on_every_target():
    """The data version read enters validate-data's cache key everywhere: its `version_<ds>`
    inputs are resolve-data's outputs (a KFP task output, a SageMaker property file value, a
    local step output), never the constant run parameter."""
    project = api.load_project(os.path.join(ROOT, "specs", "churn.yaml"))
    for target in targets.names():
        files, _ = targets.get(target).compile(project)
        calls = {c.step: c for c in map(contract.parse_argv, emitted_argvs(files)) if c.pipeline == "train"}
        resolve, validate = calls["resolve-data"], calls["validate-data"]
        assert [k for k, _ in resolve.outputs] == ["version_customers", "version_holdout"], target
        versions = [(k, ref) for k, ref in validate.inputs if not k.startswith(contract.ENV_INPUT_PREFIX)]
        assert [k for k, _ in versions] == ["version_customers", "version_holdout"], target
        for _, ref in versions:
            assert "data_version" not in ref and "params." not in ref, (target, ref)
        if target in ("kubeflow", "vertex"):
            spec = next(yaml.safe_load_all(next(f.content for f in files if f.path == "pipelines/train.yaml")))
            dag = spec["components"]["comp-exit-handler-1"]["dag"]["tasks"]
            assert dag["resolve-data"]["cachingOptions"] == {}  # KFP: caching off
            assert dag["validate-data"]["cachingOptions"] == {"enableCache": True}
            assert dag["validate-data"]["inputs"]["parameters"]["version_customers"] == {
                "taskOutputParameter": {"outputParameterKey": "version_customers", "producerTask": "resolve-data"}}
    local = targets.get("local").compile(project)[0]
    plan = json.loads(next(f.content for f in local if f.path == "plan.json"))
    command = next(s["command"] for s in plan["pipelines"]["train"]["steps"] if s["name"] == "validate-data")
    assert "version_customers={{steps.resolve-data.outputs.version_customers}}" in command
    sagemaker = targets.get("sagemaker").compile(project)[0]
    definition = json.loads(next(f.content for f in sagemaker if f.path == "pipelines/train.json"))
    steps = {s["Name"]: s for s in definition["Steps"]}
    assert "CacheConfig" not in steps["resolve-data"] and "CacheConfig" in steps["validate-data"]
    entry = steps["validate-data"]["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
    joined = [e["Std:Join"]["Values"] for e in entry if isinstance(e, dict)]
    assert joined[0] == ["version_customers=", {"Std:JsonGet": {
        "Path": "version_customers", "PropertyFile": {"Get": "Steps.resolve-data.PropertyFiles.OutputsReport"}}}]
    assert steps["resolve-data"]["PropertyFiles"] == [
        {"FilePath": "outputs.json", "OutputName": "outputs", "PropertyFileName": "OutputsReport"}]


def test_every_registered_action_has_a_runtime_function():
    for name in contract.ACTIONS:
        assert callable(action_function(name)), name


def test_argv_round_trips_through_the_parser():
    call = contract.StepCall(action="evaluate", spec="specs/x.yaml", target="vertex", pipeline="train",
                             step="evaluate", args=(("message", "a=b"),), inputs=(("model", "/in/model"),),
                             outputs=(("passed", "/out/p#passed"),), executor_output="/eo.json")
    assert contract.parse_argv(call.argv()) == call
    with pytest.raises(contract.ContractError, match="expected KEY=VALUE"):
        contract.parse_argv(["mlopsc", "step", "train", "--spec", "s.yaml", "--arg", "novalue"])
    with pytest.raises(contract.ContractError, match="unknown option --bogus"):
        contract.parse_argv(["train", "--spec", "s.yaml", "--bogus", "1"])


def test_check_call_names_what_is_wrong():
    bad = contract.StepCall(action="evaluate", spec="s.yaml", target="azure", inputs=(("modle", "x"),),
                            outputs=(("passed", "p"),))
    assert contract.check_call(bad) == [
        "unknown target 'azure'", "action 'evaluate' has no input 'modle'", "action 'evaluate' needs input 'model'",
        "action 'evaluate' needs output 'evaluation'"]
    assert contract.check_call(contract.StepCall(action="export", spec="s")) == ["unknown step action 'export'"]


def test_secret_names_map_to_one_environment_variable_everywhere(monkeypatch):
    from mlopsc.runtime import stepio
    from mlopsc.targets.kfp_ir.secrets import env_var

    assert contract.secret_env_var("team/openai") == env_var("team/openai") == "TEAM_OPENAI"
    assert contract.secret_env_var("openai-api.key") == "OPENAI_API_KEY"
    assert stepio.resolve_value("k=${secret:team/openai}", {"TEAM_OPENAI": "s3cr3t"}) == "k=s3cr3t"
    with pytest.raises(stepio.RefError, match="TEAM_OPENAI"):
        stepio.resolve_value("${secret:team/openai}", {})
