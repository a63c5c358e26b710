"""The compiled ServiceAccount/Role/RoleBinding the rollout step runs under, checked strictly
against the Kubernetes API's own models (the `kubernetes` client's, generated from the API's
OpenAPI: unknown fields and missing required ones are refused), and the custom runtime's
InferenceService against the KServe CRD."""

from __future__ import annotations

import dataclasses
import re

import jsonschema
import kubernetes.client as k8s
import pytest
import yaml
from mlopsc.targets.kubeflow import rbac
from mlopsc.targets.kubeflow.kserve import inference_service
from mlopsc.targets.kubeflow.schedule import recurring_run
from mlopsc.targets.kubeflow.target import KubeflowTarget

NATIVE = {"str", "int", "bool", "float", "object", "datetime", "date"}


def strict(data, type_name: str, where: str = ""):
    """Build the client model `type_name` from `data`, refusing what the API's schema does not know."""
    if type_name.startswith("list["):
        assert isinstance(data, list), where
        return [strict(item, type_name[5:-1], f"{where}[{i}]") for i, item in enumerate(data)]
    if type_name.startswith("dict("):
        value_type = re.match(r"dict\(str, (.*)\)", type_name).group(1)
        return {k: strict(v, value_type, f"{where}.{k}") for k, v in data.items()}
    if type_name in NATIVE:
        assert type_name == "object" or isinstance(data, {"str": str, "int": int, "bool": bool,
                                                          "float": (int, float)}.get(type_name, str)), where
        return data
    cls = getattr(k8s, type_name)
    by_json = {json_key: attr for attr, json_key in cls.attribute_map.items()}
    unknown = set(data) - set(by_json)
    assert not unknown, f"{where}: {type_name} has no field {sorted(unknown)}"
    kwargs = {by_json[k]: strict(v, cls.openapi_types[by_json[k]], f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)  # required fields missing -> ValueError


def test_the_role_binding_grants_the_rollout_account_what_the_step_calls(projects):
    project = projects["churn"]
    docs = rbac.manifests(project)
    assert [d["kind"] for d in docs] == ["ServiceAccount", "Role", "RoleBinding"]
    account, role, binding = (strict(d, f"V1{d['kind']}") for d in docs)
    assert account.metadata.name == "mlopsc-rollout" and account.metadata.namespace == "ml"
    [rule] = role.rules
    assert rule.api_groups == ["serving.kserve.io"] and rule.resources == ["inferenceservices"]
    # exactly the calls of runtime/platforms/kserve_api.py: GET, POST, PUT, PATCH (+ list/watch for kubectl users)
    assert {"get", "create", "update", "patch"} <= set(rule.verbs) and "delete" not in rule.verbs
    assert binding.role_ref.name == role.metadata.name and binding.role_ref.kind == "Role"
    assert [(s.kind, s.name, s.namespace) for s in binding.subjects] == [("ServiceAccount", "mlopsc-rollout", "ml")]


def test_a_shadow_environment_also_grants_the_mirror(projects):
    docs = rbac.manifests(projects["support-assistant"])
    role = strict(docs[1], "V1Role")
    assert [(r.api_groups, r.resources) for r in role.rules] == [
        (["serving.kserve.io"], ["inferenceservices"]), (["networking.istio.io"], ["virtualservices"])]
    assert "delete" in role.rules[0].verbs


def test_a_wrong_field_is_refused_by_the_strict_check(projects):
    doc = rbac.manifests(projects["churn"])[1]
    doc["rules"][0]["verb"] = doc["rules"][0].pop("verbs")
    with pytest.raises((AssertionError, ValueError)):
        strict(doc, "V1Role")


def test_the_bundle_carries_the_rbac_and_scheduled_deploy_runs_use_the_account(projects, compiled):
    project = projects["churn"]
    files = {f.path: f.content for f in KubeflowTarget().files(project)}
    assert list(yaml.safe_load_all(files["serving/rollout-rbac.yaml"])) == rbac.manifests(project)
    deploy = next(p for p in project.pipelines if p.name == "deploy")
    scheduled = dataclasses.replace(deploy, schedule="0 6 * * *")
    body = recurring_run(project, scheduled, compiled[("churn", "deploy")])
    assert body["service_account"] == rbac.service_account_name(project) == "mlopsc-rollout"
    train = next(p for p in project.pipelines if p.name == "train")
    assert "service_account" not in recurring_run(project, train, compiled[("churn", "train")])


def test_the_custom_runtime_runs_the_kserve_server_of_the_image(projects, isvc_schema):
    project = projects["churn"]
    serving = dataclasses.replace(project.deployment.serving, runtime="custom")
    custom = dataclasses.replace(project, deployment=dataclasses.replace(project.deployment, serving=serving))
    env = custom.deployment.environments[0]
    manifest = inference_service(custom, env)
    jsonschema.Draft7Validator(isvc_schema).validate(manifest)
    [container] = manifest["spec"]["predictor"]["containers"]
    assert container["command"] == ["python", "-m", "mlopsc.runtime.kserve_serve", "--model-name",
                                    manifest["metadata"]["name"]]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
