"""One IR pipeline -> a KFP v2 `PipelineSpec` dict (protobuf JSON names) plus its PlatformSpec.

The graph has the shape kfp's DSL compiler gives the same pipeline, so both backends see what
they see every day:

- one component `comp-<step>` and executor `exec-<step>` per step (no sharing: kfp-kubernetes
  config is per executor, and stable names keep diffs small, kubeflow/pipelines#6134);
- steps with the same `when` go into a `condition-N` sub-DAG whose task carries
  `triggerPolicy.condition` (CEL) on a `pipelinechannel--<step>-<output>` input, as `dsl.If` does;
- with `pipeline.on_failure`, the steps go into an `exit-handler-1` sub-DAG and the notify step
  runs after it in the root DAG with `ALL_UPSTREAM_TASKS_COMPLETED` and a `taskFinalStatus`
  input, as `dsl.ExitHandler` does;
- values crossing into a sub-DAG are threaded through `pipelinechannel--...` inputs.
"""

from __future__ import annotations

from dataclasses import field

from mlopsc import ir
from mlopsc.ir_node import Record, record

from . import placeholders as ph
from .dialect import STATUS_INPUT, Dialect
from .types import cel_literal, parameter_spec, port_spec

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

EXIT_HANDLER = "exit-handler-1"


@record  # a mutable dataclass without generated code (see ir_node)
class Compiled(Record):
    """One pipeline as KFP IR: the PipelineSpec and its platform config."""

    name: str  # pipelineInfo.name
    spec: dict[str, Any]  # PipelineSpec
    platform: dict[str, Any]  # PlatformSpec; {} when no executor needs platform config


def pipeline_name(project: ir.Project, pipeline: ir.Pipeline) -> str:
    return f"{project.name}-{pipeline.name}"


def channel(*parts: str) -> str:
    return "pipelinechannel--" + "-".join(parts)


@record  # a mutable dataclass without generated code (see ir_node)
class _Scope(Record):
    """One DAG: the root, the exit-handler body or a condition branch."""

    name: str | None  # None for the root DAG
    parent: _Scope | None
    steps: list[ir.Step]  # every step inside, directly or in a child
    direct: list[str] = field(default_factory=list)  # steps that are tasks of this DAG
    children: list[_Scope] = field(default_factory=list)
    when: ir.Condition | None = None
    tasks: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, dict[str, Any]] = field(default_factory=lambda: {"parameters": {}, "artifacts": {}})
    bindings: dict[str, dict[str, Any]] = field(default_factory=lambda: {"parameters": {}, "artifacts": {}})

    covered: set[str] = field(default_factory=set, repr=False)  # names in `steps` (a set: asked per edge)

    def covers(self, step: str) -> bool:
        if len(self.covered) != len(self.steps):  # `steps` only grows while the scope is built
            self.covered = {s.name for s in self.steps}
        return step in self.covered

    def task_for(self, step: str) -> str:
        """The task of this DAG that runs `step`: the step itself or the child holding it."""
        if step in self.direct:
            return step
        return next(c.name for c in self.children if c.covers(step))


class _Builder:
    def __init__(self, pipeline: ir.Pipeline, project: ir.Project, dialect: Dialect):
        self.pipeline, self.project, self.dialect = pipeline, project, dialect
        self.params = {p.name: p for p in pipeline.params}
        self.steps = {s.name: s for s in pipeline.steps}
        self.components: dict[str, Any] = {}
        self.executors: dict[str, Any] = {}
        self.platform: dict[str, Any] = {}
        self.counter = 1 if pipeline.on_failure else 0

    # ------------------------------------------------------------ values across scopes

    def bind_param(self, scope: _Scope, name: str) -> dict[str, Any]:
        if scope.parent is None:
            return {"componentInputParameter": name}
        ch = channel(name)
        if ch not in scope.inputs["parameters"]:
            scope.inputs["parameters"][ch] = parameter_spec(self.params[name].kind)
            scope.bindings["parameters"][ch] = self.bind_param(scope.parent, name)
        return {"componentInputParameter": ch}

    def bind_output(self, scope: _Scope, step: str, output: str) -> dict[str, Any]:
        port = self.steps[step].output(output)
        if port is None:
            raise ValueError(f"step {step!r} has no output {output!r}")
        group = "artifacts" if port.is_artifact else "parameters"
        if step in scope.direct:
            if port.is_artifact:
                return {"taskOutputArtifact": {"outputArtifactKey": output, "producerTask": step}}
            return {"taskOutputParameter": {"outputParameterKey": output, "producerTask": step}}
        if scope.parent is None:
            raise ValueError(f"step {step!r} is not reachable from the DAG that needs it")
        ch = channel(step, output)
        if ch not in scope.inputs[group]:
            scope.inputs[group][ch] = port_spec(port.kind)
            scope.bindings[group][ch] = self.bind_output(scope.parent, step, output)
        return {"componentInputArtifact" if port.is_artifact else "componentInputParameter": ch}

    def bind_input(self, scope: _Scope, i: ir.Input) -> dict[str, Any]:
        if isinstance(i.source, ir.FromParam):
            return self.bind_param(scope, i.source.param)
        if isinstance(i.source, ir.FromStep):
            return self.bind_output(scope, i.source.step, i.source.output)
        return {"runtimeValue": {"constant": i.source.value}}

    # ------------------------------------------------------------ scopes and tasks

    def body(self, parent: _Scope | None, name: str | None) -> _Scope:
        scope = _Scope(name, parent, list(self.pipeline.steps))
        groups: dict[ir.Condition, _Scope] = {}
        for step in self.pipeline.steps:
            if step.when is None:
                scope.direct.append(step.name)
                continue
            if step.when not in groups:
                self.counter += 1
                groups[step.when] = _Scope(f"condition-{self.counter}", scope, [], when=step.when)
                scope.children.append(groups[step.when])
            child = groups[step.when]
            child.steps.append(step)
            child.direct.append(step.name)
        return scope

    def dependent_tasks(self, scope: _Scope, covered: list[ir.Step]) -> list[str]:
        names = {s.name for s in covered}
        deps = {scope.task_for(u) for s in covered for u in s.upstream() if u not in names and scope.covers(u)}
        return sorted(deps)

    def image_inputs(self, scope: _Scope) -> dict[str, Any]:
        if not self.dialect.image_param:
            return {}
        ch = channel(self.dialect.image_param)
        return {"base_image": {"runtimeValue": {"constant": ph.input_parameter(ch)}},
                ch: self.bind_param(scope, self.dialect.image_param)}

    def step_task(self, scope: _Scope, step: ir.Step, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {}
        artifacts: dict[str, Any] = {}
        for i in step.inputs:
            (artifacts if i.kind in ir.ARTIFACT_KINDS else params)[i.name] = self.bind_input(scope, i)
        params.update(extra or {})
        params.update(self.image_inputs(scope))
        task: dict[str, Any] = {
            "cachingOptions": {"enableCache": True} if step.cache else {},
            "componentRef": {"name": f"comp-{step.name}"},
            "taskInfo": {"name": step.name},
        }
        inputs = {k: v for k, v in (("artifacts", artifacts), ("parameters", params)) if v}
        if inputs:
            task["inputs"] = inputs
        deps = self.dependent_tasks(scope, [step]) if scope.covers(step.name) else []
        if deps:
            task["dependentTasks"] = deps
        if step.retries:
            task["retryPolicy"] = self.dialect.retry_policy(step.retries)
        self.add_step_component(step)
        return task

    def sub_dag_task(self, scope: _Scope, child: _Scope) -> dict[str, Any]:
        inputs = {k: dict(sorted(v.items())) for k, v in child.bindings.items() if v}
        task: dict[str, Any] = {"componentRef": {"name": f"comp-{child.name}"}, "taskInfo": {"name": child.name}}
        if inputs:
            task["inputs"] = inputs
        deps = self.dependent_tasks(scope, child.steps)
        if deps:
            task["dependentTasks"] = deps
        return task

    def fill(self, scope: _Scope) -> None:
        """Build the tasks of `scope` (children first, so their threaded inputs are known)."""
        for child in scope.children:
            operand = self.bind_output(child, child.when.step, child.when.output)
            condition = (f"inputs.parameter_values['{operand['componentInputParameter']}'] "
                         f"{child.when.op} {cel_literal(child.when.value)}")
            self.fill(child)
            scope.tasks[child.name] = self.sub_dag_task(scope, child)
            scope.tasks[child.name]["triggerPolicy"] = {"condition": condition}
        for name in scope.direct:
            scope.tasks[name] = self.step_task(scope, self.steps[name])
        if scope.name is not None:
            self.components[f"comp-{scope.name}"] = self.dag_component(scope)

    def dag_component(self, scope: _Scope) -> dict[str, Any]:
        comp: dict[str, Any] = {"dag": {"tasks": scope.tasks}}
        defs = {k: v for k, v in scope.inputs.items() if v}
        if defs:
            comp["inputDefinitions"] = defs
        return comp

    # ------------------------------------------------------------ components and executors

    def add_step_component(self, step: ir.Step) -> None:
        inputs: dict[str, dict[str, Any]] = {"artifacts": {}, "parameters": {}}
        for i in step.inputs:
            inputs["artifacts" if i.kind in ir.ARTIFACT_KINDS else "parameters"][i.name] = port_spec(i.kind)
        if step.kind == "notify":
            inputs["parameters"][STATUS_INPUT] = {"isOptional": True, "parameterType": "TASK_FINAL_STATUS"}
        outputs: dict[str, dict[str, Any]] = {"artifacts": {}, "parameters": {}}
        for o in step.outputs:
            outputs["artifacts" if o.is_artifact else "parameters"][o.name] = port_spec(o.kind)
        label = f"exec-{step.name}"
        comp: dict[str, Any] = {"executorLabel": label}
        if any(inputs.values()):
            comp["inputDefinitions"] = {k: v for k, v in inputs.items() if v}
        if any(outputs.values()):
            comp["outputDefinitions"] = {k: v for k, v in outputs.items() if v}
        self.components[f"comp-{step.name}"] = comp
        image = (ph.input_parameter(channel(self.dialect.image_param)) if self.dialect.image_param
                 else self.dialect.default_image(self.project))
        self.executors[label] = self.dialect.executor(step, self.project, image, self.pipeline.name)
        config = self.dialect.platform_config(step, self.project)
        if config:
            self.platform[label] = config

    # ------------------------------------------------------------ the whole spec

    def root_inputs(self) -> dict[str, Any]:
        params = {}
        for p in self.pipeline.params:
            spec = parameter_spec(p.kind)
            spec.update({"defaultValue": p.default, "description": p.description, "isOptional": True})
            params[p.name] = spec
        return {"parameters": params} if params else {}

    def build(self) -> Compiled:
        root = _Scope(None, None, list(self.pipeline.steps))
        notify = self.pipeline.on_failure
        if notify is None:
            root = self.body(None, None)
            self.fill(root)
        else:
            body = self.body(root, EXIT_HANDLER)
            root.children.append(body)
            self.fill(body)
            root.tasks[EXIT_HANDLER] = self.sub_dag_task(root, body)
            status = {STATUS_INPUT: {"taskFinalStatus": {"producerTask": EXIT_HANDLER}}}
            task = self.step_task(root, notify, extra=status)
            task["dependentTasks"] = [EXIT_HANDLER]
            task["triggerPolicy"] = {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}
            root.tasks[notify.name] = task
        name = pipeline_name(self.project, self.pipeline)
        root_component: dict[str, Any] = {"dag": {"tasks": root.tasks}}
        if self.root_inputs():
            root_component["inputDefinitions"] = self.root_inputs()
        spec = {
            "components": self.components,
            "deploymentSpec": {"executors": self.executors},
            "pipelineInfo": {"description": self.pipeline.description, "name": name},
            "root": root_component,
            "schemaVersion": self.dialect.schema_version,
            "sdkVersion": self.dialect.sdk_version,
        }
        platform = {}
        if self.platform:
            platform = {"platforms": {"kubernetes": {"deploymentSpec": {"executors": self.platform}}}}
        return Compiled(name, spec, platform)


def build(pipeline: ir.Pipeline, project: ir.Project, dialect: Dialect | None = None) -> Compiled:
    return _Builder(pipeline, project, dialect or Dialect()).build()
