"""Our graph checker passes on every compiled pipeline and catches each class of broken IR."""

import copy

import pytest
from kfp_cases import compiled_cases
from mlopsc.targets.kfp_ir.check import check


@pytest.mark.parametrize("spec,pipeline", compiled_cases())
def test_checker_passes_on_compiled_output(compiled, spec, pipeline):
    c = compiled[(spec, pipeline)]
    assert check(c.spec, c.platform) == []


def _body(s):
    return s["components"]["comp-exit-handler-1"]["dag"]["tasks"]


def _set(path_fn, value):
    def mutate(s, p):
        parent, key = path_fn(s, p)
        parent[key] = value
    return mutate


MUTATIONS = {
    "missing executor": (lambda s, p: s["deploymentSpec"]["executors"].pop("exec-train"),
                         "executor 'exec-train' not found"),
    "dependentTasks not a sibling": (_set(lambda s, p: (_body(s)["train"], "dependentTasks"), ["build-featurez"]),
                                     "dependentTasks names 'build-featurez'"),
    "producerTask missing": (_set(lambda s, p: (_body(s)["evaluate"]["inputs"]["artifacts"]["model"]
                                                ["taskOutputArtifact"], "producerTask"), "trian"),
                             "producerTask 'trian'"),
    "output key missing": (_set(lambda s, p: (_body(s)["evaluate"]["inputs"]["artifacts"]["model"]
                                              ["taskOutputArtifact"], "outputArtifactKey"), "modle"),
                           "has no output artifact 'modle'"),
    "componentRef missing": (_set(lambda s, p: (_body(s)["train"]["componentRef"], "name"), "comp-nope"),
                             "componentRef 'comp-nope' not found"),
    "parameter type mismatch": (_set(lambda s, p: (s["components"]["comp-condition-2"]["inputDefinitions"]
                                                   ["parameters"]["pipelinechannel--evaluate-passed"],
                                                   "parameterType"), "STRING"),
                                "type mismatch: input is STRING, source is BOOLEAN"),
    "artifact type mismatch": (_set(lambda s, p: (s["components"]["comp-evaluate"]["inputDefinitions"]["artifacts"]
                                                  ["model"]["artifactType"], "schemaTitle"), "system.Dataset"),
                               "type mismatch: input is system.Dataset, source is system.Model"),
    "cycle": (_set(lambda s, p: (_body(s)["validate-data"], "dependentTasks"), ["evaluate"]),
              "dependency cycle"),
    "bad placeholder": (lambda s, p: s["deploymentSpec"]["executors"]["exec-train"]["container"]["args"]
                        .append("{{$.inputs.parameters['nope']}}"),
                        "names no declared input parameter 'nope'"),
    "bad placeholder attribute": (lambda s, p: s["deploymentSpec"]["executors"]["exec-train"]["container"]["args"]
                                  .append("{{$.outputs.artifacts['model'].metadata}}"),
                                  ".metadata is not valid on outputs artifacts"),
    "condition reads a missing input": (_set(lambda s, p: (_body(s)["condition-2"]["triggerPolicy"], "condition"),
                                             "inputs.parameter_values['pipelinechannel--evaluate-pass'] == true"),
                                        "condition reads 'pipelinechannel--evaluate-pass'"),
    "required input unbound": (lambda s, p: _body(s)["evaluate"]["inputs"]["artifacts"].pop("data"),
                               "required input artifact 'data' is not bound"),
    "parent input missing": (_set(lambda s, p: (_body(s)["train"]["inputs"]["parameters"]["git_commit"],
                                                "componentInputParameter"), "pipelinechannel--git_commitx"),
                             "parent input parameter 'pipelinechannel--git_commitx' is not declared"),
    "undeclared task input": (_set(lambda s, p: (_body(s)["train"]["inputs"]["parameters"], "gitcommit"),
                                   {"runtimeValue": {"constant": "x"}}),
                              "input 'gitcommit' is not declared"),
    "image input unbound": (lambda s, p: _body(s)["train"]["inputs"]["parameters"].pop("pipelinechannel--image"),
                            "the image reads input 'pipelinechannel--image'"),
    "empty image": (_set(lambda s, p: (s["deploymentSpec"]["executors"]["exec-train"]["container"], "image"), " "),
                    "container has no image"),
    "platform config for unknown executor": (
        _set(lambda s, p: (p["platforms"]["kubernetes"]["deploymentSpec"]["executors"], "exec-ghost"), {}),
        "platform config for an executor that does not exist"),
    "no pipeline name": (lambda s, p: s["pipelineInfo"].pop("name"), "pipelineInfo.name"),
    "bad schemaVersion": (_set(lambda s, p: (s, "schemaVersion"), "9.9.9"), "'9.9.9' is not one of"),
    "no root": (lambda s, p: s.pop("root"), "root: missing"),
}


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_checker_catches_broken_ir(compiled, case):
    good = compiled[("churn", "train")]
    spec, platform = copy.deepcopy(good.spec), copy.deepcopy(good.platform)
    mutate, expected = MUTATIONS[case]
    mutate(spec, platform)
    problems = check(spec, platform)
    assert any(expected in p for p in problems), problems
