"""Our own graph checker for KFP v2 IR: what neither `ParseDict` nor kfp's loader checks.

`check(spec, platform)` returns a list of problems (empty when the graph is sound): top-level
keys; executors and images; `{{$...}}` placeholders against the component's inputs and outputs
(an input artifact's `.metadata` may be indexed by one quoted key, `.metadata['resourceName']`,
as every Google Cloud Pipeline Components launcher reads it);
and, in every DAG, component refs, sibling `dependentTasks` and `producerTask`s, output keys,
parameter and artifact types, parent inputs, required inputs bound, condition inputs, cycles;
platform configs for existing executors. Rules from the notes' validator (§2.4) and the
backend's run-time errors (§2.3).
"""

from __future__ import annotations

import re
from typing import Any

SCHEMA_VERSIONS = ("2.1.0", "2.0.0")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
PLACEHOLDER = re.compile(r"\{\{\$(.*?)\}\}")
_JOB = ("pipeline_job_name", "pipeline_job_resource_name", "pipeline_job_uuid", "pipeline_task_name",
        "pipeline_task_uuid", "pipeline_root", "pipeline_job_create_time_utc",
        "pipeline_job_schedule_time_utc", "workspace_path", "pipeline_google_cloud_project_id",
        "pipeline_google_cloud_location")
_IO = re.compile(r"^\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\](?:\.(\w+))?(?:\['([^']+)'\])?$")
_ATTRS = {("inputs", "parameters"): {None}, ("inputs", "artifacts"): {"uri", "path", "metadata"},
          ("outputs", "parameters"): {"output_file"}, ("outputs", "artifacts"): {"uri", "path"}}
CONDITION_REF = re.compile(r"inputs\.parameter_values\['([^']+)'\]")
# Inputs the kfp SDK adds to a task without declaring them on the component.
_INJECTED = re.compile(r"^(pipelinechannel--.+|base_image)$")


def _defs(comp: dict[str, Any], side: str, group: str) -> dict[str, Any]:
    return comp.get(side, {}).get(group, {})


def _ptype(spec: dict[str, Any]) -> str | None:
    return spec.get("parameterType")


def _atype(spec: dict[str, Any]) -> str | None:
    return spec.get("artifactType", {}).get("schemaTitle")


def _artifact_types_match(want: str | None, got: str | None) -> bool:
    return want == got or "system.Artifact" in (want, got)


class _Checker:
    def __init__(self, spec: dict[str, Any], platform: dict[str, Any] | None):
        self.spec, self.platform = spec, platform or {}
        self.components = spec.get("components", {})
        self.executors = spec.get("deploymentSpec", {}).get("executors", {})
        self.problems: list[str] = []
        self.image_channels: dict[str, set[str]] = {}  # component -> task inputs its image reads

    def bad(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def run(self) -> list[str]:
        self.top_level()
        for name, comp in self.components.items():  # images first: DAG checks read them
            image = str(self.executors.get(comp.get("executorLabel"), {}).get("container", {}).get("image", ""))
            self.image_channels[name] = {m.group(3) for e in PLACEHOLDER.findall(image)
                                         if (m := _IO.match(e)) and m.group(1) == "inputs"}
        for name in sorted(self.components):
            self.component(name, self.components[name])
        if isinstance(self.spec.get("root"), dict):
            self.dag("root", self.spec["root"])
        for label in sorted(self.platform.get("platforms", {}).get("kubernetes", {})
                            .get("deploymentSpec", {}).get("executors", {})):
            if label not in self.executors:
                self.bad(f"platforms.kubernetes.{label}", "platform config for an executor that does not exist")
        return self.problems

    def top_level(self) -> None:
        name = self.spec.get("pipelineInfo", {}).get("name", "")
        if not NAME.match(name or ""):
            self.bad("pipelineInfo.name", f"missing or not a DNS-1123 name: {name!r}")
        if not self.spec.get("root"):
            self.bad("root", "missing")
        if self.spec.get("schemaVersion") not in SCHEMA_VERSIONS:
            self.bad("schemaVersion", f"{self.spec.get('schemaVersion')!r} is not one of {SCHEMA_VERSIONS}")

    # ------------------------------------------------------------ leaf components

    def component(self, name: str, comp: dict[str, Any]) -> None:
        where = f"components.{name}"
        if ("executorLabel" in comp) == ("dag" in comp):
            self.bad(where, "needs exactly one of executorLabel and dag")
        if "dag" in comp:
            self.dag(where, comp)
            return
        label = comp.get("executorLabel")
        executor = self.executors.get(label)
        if executor is None:
            self.bad(where, f"executor {label!r} not found in deploymentSpec")
            return
        container = executor.get("container")
        if container is None:
            return  # importer / resolver executors carry no placeholders we check
        if not str(container.get("image", "")).strip():
            self.bad(f"deploymentSpec.executors.{label}", "container has no image")
        for text in [*container.get("command", []), *container.get("args", [])]:
            for expr in PLACEHOLDER.findall(str(text)):
                self.placeholder(f"deploymentSpec.executors.{label}", comp, expr)

    def placeholder(self, where: str, comp: dict[str, Any], expr: str) -> None:
        if expr == "" or expr == ".outputs.output_file" or expr.lstrip(".") in _JOB:
            return
        m = _IO.match(expr)
        if not m:
            self.bad(where, f"unknown placeholder {{{{${expr}}}}}")
            return
        side, group, key, attr, item = m.groups()
        if key not in _defs(comp, f"{side[:-1]}Definitions" if side == "inputs" else "outputDefinitions", group):
            self.bad(where, f"placeholder {{{{${expr}}}}} names no declared {side[:-1]} {group[:-1]} {key!r}")
        elif attr not in _ATTRS[(side, group)]:
            self.bad(where, f"placeholder {{{{${expr}}}}}: .{attr} is not valid on {side} {group}")
        elif item is not None and attr != "metadata":
            self.bad(where, f"placeholder {{{{${expr}}}}}: only .metadata takes a ['key']")

    # ------------------------------------------------------------ DAGs

    def dag(self, where: str, comp: dict[str, Any]) -> None:
        tasks = comp.get("dag", {}).get("tasks", {})
        edges: dict[str, set[str]] = {t: set() for t in tasks}
        for tname in sorted(tasks):
            task = tasks[tname]
            at = f"{where}.dag.tasks.{tname}"
            ref = task.get("componentRef", {}).get("name")
            callee = self.components.get(ref)
            if callee is None:
                self.bad(at, f"componentRef {ref!r} not found")
            for dep in task.get("dependentTasks", []):
                if dep not in tasks:
                    self.bad(at, f"dependentTasks names {dep!r}, not a task of this DAG")
                else:
                    edges[tname].add(dep)
            bound = self.inputs(at, task, tasks, comp, callee, edges[tname])
            if callee is not None:
                self.required(at, callee, bound)
                for ch in sorted(self.image_channels.get(ref, set()) - bound):
                    self.bad(at, f"the image reads input {ch!r}, which this task does not bind")
            condition = task.get("triggerPolicy", {}).get("condition")
            if condition:
                for ref_name in CONDITION_REF.findall(condition):
                    if ref_name not in task.get("inputs", {}).get("parameters", {}):
                        self.bad(at, f"condition reads {ref_name!r}, not an input parameter of this task")
        self.cycles(where, edges)

    def inputs(self, at: str, task: dict[str, Any], siblings: dict[str, Any], parent: dict[str, Any],
               callee: dict[str, Any] | None, edges: set[str]) -> set[str]:
        bound: set[str] = set()
        for group in ("parameters", "artifacts"):
            for key, binding in sorted(task.get("inputs", {}).get(group, {}).items()):
                bound.add(key)
                declared = _defs(callee, "inputDefinitions", group).get(key) if callee else None
                if callee is not None and declared is None and not _INJECTED.match(key):
                    self.bad(at, f"input {key!r} is not declared by {task['componentRef']['name']}")
                self.binding(f"{at}.inputs.{group}.{key}", group, binding, declared, siblings, parent, edges)
        return bound

    def binding(self, at: str, group: str, b: dict[str, Any], declared: dict[str, Any] | None,
                siblings: dict[str, Any], parent: dict[str, Any], edges: set[str]) -> None:
        out_key = "taskOutputParameter" if group == "parameters" else "taskOutputArtifact"
        in_key = "componentInputParameter" if group == "parameters" else "componentInputArtifact"
        if out_key in b:
            producer = b[out_key].get("producerTask")
            key = b[out_key].get("outputParameterKey" if group == "parameters" else "outputArtifactKey")
            if producer not in siblings:
                self.bad(at, f"producerTask {producer!r} is not a task of this DAG")
                return
            edges.add(producer)
            produced = self.components.get(siblings[producer].get("componentRef", {}).get("name"), {})
            have = _defs(produced, "outputDefinitions", group).get(key)
            if have is None:
                self.bad(at, f"task {producer!r} has no output {group[:-1]} {key!r}")
            elif declared is not None:
                self.types(at, group, declared, have)
        elif in_key in b:
            name = b[in_key]
            have = _defs(parent, "inputDefinitions", group).get(name)
            if have is None:
                self.bad(at, f"parent input {group[:-1]} {name!r} is not declared")
            elif declared is not None:
                self.types(at, group, declared, have)
        elif "taskFinalStatus" in b:
            producer = b["taskFinalStatus"].get("producerTask")
            if producer not in siblings:
                self.bad(at, f"taskFinalStatus producer {producer!r} is not a task of this DAG")
            else:
                edges.add(producer)
            if declared is not None and _ptype(declared) != "TASK_FINAL_STATUS":
                self.bad(at, "taskFinalStatus bound to an input that is not TASK_FINAL_STATUS")
        elif "runtimeValue" not in b:
            self.bad(at, "binding has no source")

    def types(self, at: str, group: str, want: dict[str, Any], have: dict[str, Any]) -> None:
        if group == "parameters" and _ptype(want) != _ptype(have):
            self.bad(at, f"type mismatch: input is {_ptype(want)}, source is {_ptype(have)}")
        if group == "artifacts" and not _artifact_types_match(_atype(want), _atype(have)):
            self.bad(at, f"type mismatch: input is {_atype(want)}, source is {_atype(have)}")

    def required(self, at: str, callee: dict[str, Any], bound: set[str]) -> None:
        for group in ("parameters", "artifacts"):
            for key, spec in sorted(_defs(callee, "inputDefinitions", group).items()):
                if key not in bound and not spec.get("isOptional") and "defaultValue" not in spec:
                    self.bad(at, f"required input {group[:-1]} {key!r} is not bound")

    def cycles(self, where: str, edges: dict[str, set[str]]) -> None:
        indegree = {t: len(d & edges.keys()) for t, d in edges.items()}
        ready = [t for t, n in indegree.items() if n == 0]
        seen = 0
        while ready:
            t = ready.pop()
            seen += 1
            for other, deps in edges.items():
                if t in deps:
                    indegree[other] -= 1
                    if indegree[other] == 0:
                        ready.append(other)
        if seen < len(edges):
            stuck = sorted(t for t, n in indegree.items() if n > 0)
            self.bad(f"{where}.dag", f"dependency cycle among {stuck}")


def check(spec: dict[str, Any], platform: dict[str, Any] | None = None) -> list[str]:
    """Problems in a PipelineSpec dict (and its PlatformSpec); empty when the graph is sound."""
    return _Checker(spec, platform).run()
