"""The deploy pipeline on Vertex: GCPC model upload and model deploy with a traffic split per step.

The portable `deploy-<env>` step becomes, in the same place of the graph:

1. once, before the first environment: `resolve-model` (`mlopsc step export_model`) turns the
   registry version into a `google.UnmanagedContainerModel` (artifact URI + serving container),
   and `upload-model` (GCPC ModelUploadOp) uploads it to the Vertex Model Registry;
2. per environment: `endpoint-<env>` (`mlopsc step rollout --arg phase=plan`) finds the
   environment's endpoint (display name `<model>-<env>`, created once by the `endpoints` pipeline
   with GCPC EndpointCreateOp), reads its current `trafficSplit` (output `previous_split`) and
   computes the first split (`traffic_split`): the new model, `"0"` in GCPC's convention, gets
   the first canary percent (blue/green and shadow: 0, A/B: the challenger share, direct: 100)
   and the models already deployed keep the rest in proportion;
3. `deploy-model-<env>` (GCPC ModelDeployOp) deploys the uploaded model with that split on the
   serving machine from `machines`;
4. `deploy-<env>` (`mlopsc step rollout --arg phase=walk`) walks the remaining canary percents
   every `interval`, checks the rollback rules (carried as args) between steps, and when a rule
   trips restores `previous_split` and undeploys the new model. For shadow it replays the
   endpoint's logged request sample to the 0 % challenger for `duration` (see `unsupported`).

Everything is built by the shared KFP IR builder from ordinary IR steps; `retype` then gives the
Vertex-only steps their GCPC component specs and `google.*` artifact types.
"""

from __future__ import annotations

from typing import Any

from mlopsc import ir
from mlopsc.pipelines import LIGHT
from mlopsc.targets.kfp_ir import Compiled

from . import gcpc, machines

STRUCT = {"parameterType": "STRUCT"}
# the shared builder threads the step image into every task; GCPC tasks run GCPC's image
_IMAGE_INPUTS = ("base_image", "pipelinechannel--image")


def endpoint_name(project: ir.Project, env: ir.Environment) -> str:
    return f"{project.registry.model}-{env.name}"


def first_percent(strategy: ir.Strategy) -> int:
    """The new model's share of traffic right after it is deployed."""
    if strategy.type == "canary":
        return strategy.steps[0]
    if strategy.type in ("blue_green", "shadow"):
        return 0
    if strategy.type == "ab_test" and strategy.split is not None:
        return round(strategy.split * 100)
    return 100


def labels(project: ir.Project, env: ir.Environment | None = None) -> dict[str, str]:
    from .jobs import gcp_labels

    extra = {"mlopsc-model": project.registry.model}
    if env is not None:
        extra["mlopsc-environment"] = env.name
    return gcp_labels(project, extra)


def request_logging(project: ir.Project, env: ir.Environment) -> dict[str, Any] | None:
    """Endpoint `predictRequestResponseLoggingConfig` for a shadow rollout (None otherwise).

    With only a project in the BigQuery URI, Vertex creates the dataset and table itself.
    """
    if env.strategy.type != "shadow":
        return None
    gcp_project = project.target_settings("vertex").get("project") or project.name
    return {"bigqueryDestination": {"outputUri": f"bq://{gcp_project}"}, "enabled": True,
            "samplingRate": env.strategy.sample if env.strategy.sample is not None else 1.0}


def _serving(project: ir.Project) -> tuple[ir.Resources, ir.Autoscaling]:
    llm = project.llm.serving if project.llm else None
    if llm is not None:
        return llm.resources, llm.autoscaling
    return project.deployment.serving.resources, project.deployment.serving.autoscaling


def _const(name: str, value: Any, kind: str = "string") -> ir.Input:
    """A literal input; dicts are frozen so steps stay hashable (`retype` thaws them)."""
    return ir.Input(name, kind, ir.Constant(ir.freeze(value)))


def _upload_steps(project: ir.Project, region: str) -> list[ir.Step]:
    runtime = project.llm.serving.engine if project.llm and project.llm.serving else project.deployment.serving.runtime
    resolve = ir.Step(
        name="resolve-model", action="export_model", kind="processing",
        inputs=(ir.Input("model_version", "string", ir.FromParam("model_version")),
                ir.Input("image", "string", ir.FromParam("image"))),
        outputs=(ir.Port("model", "artifact"),),
        args=(("model", project.registry.model), ("runtime", runtime), ("platform", "vertex")),
        resources=LIGHT, cache=False, span=project.deployment.span)
    upload = ir.Step(
        name="upload-model", action="gcpc.model_upload", kind="deploy",
        inputs=(_const("display_name", project.registry.model), _const("labels", labels(project)),
                _const("location", region),
                ir.Input("unmanaged_container_model", "artifact", ir.FromStep("resolve-model", "model"))),
        outputs=(ir.Port("model", "artifact"), ir.Port("gcp_resources", "string")),
        cache=False, span=project.deployment.span)
    return [resolve, upload]


def _env_steps(project: ir.Project, env: ir.Environment, step: ir.Step) -> list[ir.Step]:
    res, scaling = _serving(project)
    machine = machines.machine_for(res)
    endpoint = f"endpoint-{env.name}"
    plan_args = [("environment", env.name), ("model", project.registry.model), ("phase", "plan"),
                 ("platform", "vertex"), ("endpoint_display_name", endpoint_name(project, env)),
                 ("traffic_percent", str(first_percent(env.strategy)))]
    logging = request_logging(project, env)
    if logging:
        plan_args += [("request_logging_sampling_rate", repr(logging["samplingRate"])),
                      ("request_logging_bigquery", logging["bigqueryDestination"]["outputUri"])]
    plan = ir.Step(
        name=endpoint, action="rollout", kind="deploy",
        inputs=(ir.Input("model_version", "string", ir.FromParam("model_version")),),
        outputs=(ir.Port("endpoint", "artifact"), ir.Port("traffic_split", "string"),
                 ir.Port("previous_split", "string")),
        args=tuple(plan_args), after=("upload-model", *step.after), resources=LIGHT, cache=False, span=env.span)
    deploy_inputs = [
        ir.Input("model", "artifact", ir.FromStep("upload-model", "model")),
        ir.Input("endpoint", "artifact", ir.FromStep(endpoint, "endpoint")),
        ir.Input("traffic_split", "string", ir.FromStep(endpoint, "traffic_split")),
        _const("deployed_model_display_name", f"{project.registry.model}-{env.name}"),
        _const("dedicated_resources_min_replica_count", max(1, scaling.min_replicas), "integer"),
        _const("dedicated_resources_max_replica_count", max(1, scaling.max_replicas), "integer"),
        _const("enable_access_logging", True, "boolean"),
    ]
    if machine is not None:
        deploy_inputs.append(_const("dedicated_resources_machine_type", machine.name))
    acc = machines.accelerator(res)
    if acc:
        deploy_inputs += [_const("dedicated_resources_accelerator_type", acc),
                          _const("dedicated_resources_accelerator_count", res.gpu_count, "integer")]
    deploy_model = ir.Step(
        name=f"deploy-model-{env.name}", action="gcpc.model_deploy", kind="deploy",
        inputs=tuple(deploy_inputs), outputs=(ir.Port("gcp_resources", "string"),), cache=False, span=env.span)
    walk = ir.Step(
        name=step.name, action=step.action, kind=step.kind,
        inputs=(*step.inputs, ir.Input("endpoint_resource", "artifact", ir.FromStep(endpoint, "endpoint")),
                ir.Input("previous_split", "string", ir.FromStep(endpoint, "previous_split"))),
        outputs=step.outputs, args=(*step.args, ("phase", "walk"), ("platform", "vertex")),
        after=(deploy_model.name,), resources=step.resources, cache=False, span=step.span)
    return [plan, deploy_model, walk]


def vertex_deploy_pipeline(project: ir.Project, pipeline: ir.Pipeline, region: str) -> ir.Pipeline:
    steps: list[ir.Step] = []
    envs = {f"deploy-{e.name}": e for e in project.deployment.environments}
    uploaded = False
    for step in pipeline.steps:
        env = envs.get(step.name)
        if env is None:
            steps.append(step)
            continue
        if not uploaded:
            steps += _upload_steps(project, region)
            uploaded = True
        steps += _env_steps(project, env, step)
    return ir.Pipeline(name=pipeline.name, description=pipeline.description, params=pipeline.params,
                       steps=tuple(steps), schedule=pipeline.schedule, on_failure=pipeline.on_failure)


def endpoints_pipeline(project: ir.Project, region: str) -> ir.Pipeline:
    """Run once: one endpoint per environment (GCPC EndpointCreateOp), found by the deploy pipeline."""
    steps = tuple(ir.Step(
        name=f"create-endpoint-{env.name}", action="gcpc.endpoint_create", kind="deploy",
        inputs=(_const("display_name", endpoint_name(project, env)), _const("labels", labels(project, env)),
                _const("location", region),
                _const("description", f"{project.registry.model} in {env.name} (mlopsc)")),
        outputs=(ir.Port("endpoint", "artifact"), ir.Port("gcp_resources", "string")),
        cache=False, span=env.span) for env in project.deployment.environments)
    return ir.Pipeline(name="endpoints", description=f"Create the Vertex endpoints of {project.registry.model} "
                       "(run once before the first deploy)", params=(), steps=steps)


# step output/input -> the type GCPC and the rollout step exchange
_RETYPE = {
    ("resolve-model", "outputDefinitions", "artifacts", "model"): gcpc.artifact_type(gcpc.UNMANAGED_CONTAINER_MODEL),
}


def _retypes(pipeline: ir.Pipeline) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    found = dict(_RETYPE)
    for step in pipeline.steps:
        if step.action == "rollout" and step.output("traffic_split"):
            found[(step.name, "outputDefinitions", "artifacts", "endpoint")] = gcpc.artifact_type(gcpc.VERTEX_ENDPOINT)
            found[(step.name, "outputDefinitions", "parameters", "traffic_split")] = dict(STRUCT)
            found[(step.name, "outputDefinitions", "parameters", "previous_split")] = dict(STRUCT)
        if any(i.name == "previous_split" for i in step.inputs):
            found[(step.name, "inputDefinitions", "artifacts", "endpoint_resource")] = \
                gcpc.artifact_type(gcpc.VERTEX_ENDPOINT)
            found[(step.name, "inputDefinitions", "parameters", "previous_split")] = dict(STRUCT)
    return found


def _tasks(spec: dict[str, Any]) -> list[dict[str, Any]]:
    dags = [spec["root"], *spec["components"].values()]
    return [t for c in dags for t in c.get("dag", {}).get("tasks", {}).values()]


def retype(compiled: Compiled, pipeline: ir.Pipeline) -> Compiled:
    """Give GCPC steps GCPC's component specs and image, and `google.*` types where they connect."""
    spec = compiled.spec
    comps, executors = spec["components"], spec["deploymentSpec"]["executors"]
    for (step, side, group, key), new in _retypes(pipeline).items():
        if f"comp-{step}" in comps:
            comps[f"comp-{step}"][side][group][key] = new
    gcpc_steps = {f"comp-{s.name}": s for s in pipeline.steps if s.action in gcpc.COMPONENTS}
    for ref, step in gcpc_steps.items():
        defs, executor = gcpc.COMPONENTS[step.action]()
        comps[ref] = {"executorLabel": f"exec-{step.name}", **defs}
        executors[f"exec-{step.name}"] = executor
    for task in _tasks(spec):
        if task["componentRef"]["name"] in gcpc_steps:
            params = task.get("inputs", {}).get("parameters", {})
            for key in _IMAGE_INPUTS:
                params.pop(key, None)
            for binding in params.values():
                if "runtimeValue" in binding:
                    binding["runtimeValue"]["constant"] = ir.thaw(binding["runtimeValue"]["constant"])
    return compiled
