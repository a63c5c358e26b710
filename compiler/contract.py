"""The step contract, owned here and nowhere else: which actions exist, their ports, the argv
that every target writes and the runtime parses, the secret and env reference grammar, and
where a local run keeps step outputs.

    mlopsc step ACTION --spec SPEC --target T --pipeline P --step S
                [--arg k=v]... [--input k=REF]... [--output k=REF]... [--executor-output PATH]

Targets only decide what each REF is (a KFP placeholder, a SageMaker container path, a local
file); the runtime finds the implementing function, the port kinds and the platform from the
parsed call. Light on purpose: the compile path imports it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import field

from .ir_node import Node, node

PARAMETER_KINDS = ("string", "integer", "number", "boolean")
TARGETS = ("local", "kubeflow", "sagemaker", "vertex")  # the runtime platforms a step can run on


@node  # a frozen dataclass without generated code (see ir_node)
class PortSpec(Node):
    """One input or output of an action. A name with one `*` is a family (`version_*`, `*_violated`)."""

    name: str
    kind: str  # a parameter kind (PARAMETER_KINDS) or an artifact kind (dataset, model, metrics, artifact)
    optional: bool = False

    def matches(self, name: str) -> bool:
        if "*" not in self.name:
            return name == self.name
        head, _, tail = self.name.partition("*")
        return len(name) > len(head) + len(tail) and name.startswith(head) and name.endswith(tail)

    @property
    def is_parameter(self) -> bool:
        return self.kind in PARAMETER_KINDS


# Every action takes `env_NAME` inputs: the run's value of `${env:NAME}`, put into the step's
# environment before it runs (empty: leave the environment as the platform gave it).
ENV_INPUT_PREFIX = "env_"
ENV_INPUT = PortSpec(ENV_INPUT_PREFIX + "*", "string", optional=True)


@node  # a frozen dataclass without generated code (see ir_node)
class Action(Node):
    """A step action: its ports, the native step kinds it runs as, and the runtime function."""

    name: str
    impl: str  # "module:function" under mlopsc.runtime
    kinds: tuple[str, ...]  # IR step kinds (the native mechanism) this action may run as
    inputs: tuple[PortSpec, ...] = ()
    outputs: tuple[PortSpec, ...] = ()
    doc: str = ""

    def input(self, name: str) -> PortSpec | None:
        if ENV_INPUT.matches(name):
            return ENV_INPUT
        return next((p for p in self.inputs if p.matches(name)), None)

    def output(self, name: str) -> PortSpec | None:
        return next((p for p in self.outputs if p.matches(name)), None)


def _ports(text: str) -> tuple[PortSpec, ...]:
    """`name:kind name?:kind` -> ports; `?` marks an optional one."""
    found = []
    for item in text.split():
        name, _, kind = item.partition(":")
        found.append(PortSpec(name.rstrip("?"), kind, optional=name.endswith("?")))
    return tuple(found)


def _action(name: str, impl: str, kinds: str, inputs: str = "", outputs: str = "", doc: str = "") -> Action:
    return Action(name, f"mlopsc.runtime.{impl}", tuple(kinds.split()), _ports(inputs), _ports(outputs), doc)


# Vertex hands the deploy step the exported model, the endpoint prepared before it and the split
# to restore on rollback.
_DEPLOY_IN = "model_version:string model?:artifact endpoint_resource?:artifact previous_split?:string"
_CHECK_OUT = "report:metrics violated?:boolean"  # Model Monitor reads violations from metrics

ACTIONS: dict[str, Action] = {a.name: a for a in (
    _action("resolve_data", "actions_resolve:resolve_data", "processing", "version_*?:string", "version_*:string",
            "the version of each dataset the run reads (never cached: later cache keys hang on it)"),
    _action("validate", "actions_data:validate", "processing", "version_*?:string",
            "data:dataset report:metrics", "read the datasets, check them against their schema"),
    _action("features", "actions_data:features", "processing", "data:dataset", "features:dataset",
            "apply the feature views"),
    _action("train", "actions_train:train", "training tuning", "data?:dataset git_commit?:string",
            "model:model metrics:metrics", "train (or sweep) and log the model"),
    _action("fine_tune", "actions_train:fine_tune", "training", "data?:dataset git_commit?:string",
            "model:model metrics:metrics", "fine-tune the base model"),
    _action("evaluate", "actions_model:evaluate", "processing", "model:model data?:dataset",
            "evaluation:metrics passed:boolean", "evaluate against thresholds and the baseline"),
    _action("register", "actions_model:register", "register",
            "model:model evaluation?:metrics git_commit?:string", "model_version?:string",
            "register the model with lineage"),
    _action("fail", "actions_model:fail", "fail", "evaluation?:metrics", "", "stop the pipeline with a message"),
    _action("resolve_model", "deploy:resolve_model", "processing", "model_version:string", "model_version:string",
            "the registry version every environment of this run deploys (`latest` resolved once)"),
    _action("approve", "deploy:approve", "approval", "model_version:string", "", "wait for or record approval"),
    _action("deploy", "deploy:deploy", "deploy", _DEPLOY_IN, "endpoint:string", "deploy one environment directly"),
    _action("rollout", "deploy:deploy", "deploy", _DEPLOY_IN, "endpoint:string",
            "walk the environment's rollout strategy, rolling back on its rules"),
    _action("prepare_endpoint", "export:prepare_endpoint", "deploy", "model_version:string",
            "endpoint:artifact traffic_split:string previous_split:string",
            "create or read the environment's endpoint and compute the first traffic split"),
    _action("export_model", "export:export_model", "processing", "model_version:string image?:string",
            "model:artifact", "resolve a registry version into a servable model artifact"),
    _action("smoke_test", "deploy:smoke_test", "processing", "endpoint:string", "", "a few requests"),
    _action("load_test", "deploy:load_test", "processing", "endpoint:string", "", "paced requests, p95"),
    _action("monitor_infra", "monitoring:monitor_infra", "processing", "", _CHECK_OUT, "latency and errors"),
    _action("drift", "actions_data:drift", "processing", "current?:dataset captured?:dataset", _CHECK_OUT,
            "data drift against the reference"),
    _action("performance", "monitoring:performance", "processing", "", _CHECK_OUT, "metrics on fresh labels"),
    _action("llm_quality", "monitoring:llm_quality", "processing", "", _CHECK_OUT, "LLM traffic quality"),
    _action("eval_suite", "monitoring:eval_suite", "processing", "", _CHECK_OUT, "the LLM eval suite"),
    _action("feedback", "feedback_monitor:collect", "processing", "", "report:metrics",
            "feedback rates; corrections into the training data"),
    _action("act", "monitoring:act", "processing", "*_violated?:boolean", "", "alert, retrain or roll back"),
    _action("notify", "monitoring:notify", "notify", "status?:string", "", "announce a failed run"),
)}


def action(name: str) -> Action:
    """The registered action; KeyError names the known ones."""
    try:
        return ACTIONS[name]
    except KeyError:
        raise KeyError(f"unknown step action {name!r}; known: {', '.join(sorted(ACTIONS))}") from None


# ---------------------------------------------------------------- references


# `${secret:NAME}` and `${env:NAME}`: the one grammar the validator, the targets and the runtime use.
REF_NAME = r"[A-Za-z_][A-Za-z0-9_./-]*"
REF = re.compile(r"\$\{(secret|env):(" + REF_NAME + r")\}")
WHOLE_REF = re.compile(r"^\$\{(secret|env):(" + REF_NAME + r")\}$")
WHOLE_SECRET = re.compile(r"^\$\{secret:(" + REF_NAME + r")\}$")


def secret_env_var(name: str) -> str:
    """The environment variable a target maps secret NAME to (`team/openai` -> `TEAM_OPENAI`)."""
    return re.sub(r"[^A-Z0-9_]", "_", name.upper())


def env_var_for(kind: str, name: str) -> str:
    """The environment variable behind `${kind:name}`."""
    return secret_env_var(name) if kind == "secret" else name


def secret_name(value: object) -> str | None:
    """NAME of a value that is exactly `${secret:NAME}`; None for anything else."""
    m = WHOLE_SECRET.match(value) if isinstance(value, str) else None
    return m.group(1) if m else None


# ---------------------------------------------------------------- argv


@node  # a frozen dataclass without generated code (see ir_node)
class StepCall(Node):
    """One parsed `mlopsc step` invocation."""

    action: str
    spec: str
    target: str = "local"
    pipeline: str | None = None
    step: str | None = None
    args: tuple[tuple[str, str], ...] = ()
    inputs: tuple[tuple[str, str], ...] = ()
    outputs: tuple[tuple[str, str], ...] = ()
    executor_output: str | None = None
    extra: tuple[str, ...] = field(default=())  # anything else (kept for error messages)

    def argv(self) -> list[str]:
        argv = ["mlopsc", "step", self.action, "--spec", self.spec, "--target", self.target]
        if self.pipeline:
            argv += ["--pipeline", self.pipeline]
        if self.step:
            argv += ["--step", self.step]
        argv += _pairs("--arg", self.args) + _pairs("--input", self.inputs) + _pairs("--output", self.outputs)
        if self.executor_output:
            argv += ["--executor-output", self.executor_output]
        return argv


def _pairs(flag: str, pairs: Iterable[tuple[str, str]]) -> list[str]:
    out: list[str] = []
    for key, value in pairs:
        out += [flag, f"{key}={value}"]
    return out


def step_args(step) -> tuple[tuple[str, str], ...]:
    """A step's `--arg`s: its IR args, plus the message a `fail` step stops with."""
    args = tuple(step.args)
    if step.kind == "fail" and step.message:
        args += (("message", step.message),)
    return args


def step_call(step, *, spec: str, target: str, pipeline: str, input_ref: Callable[[object], str],
              output_ref: Callable[[object], str], extra_inputs: tuple[tuple[str, str], ...] = (),
              executor_output: str | None = None) -> StepCall:
    """The contract for one IR step, with the target's references for inputs and outputs."""
    return StepCall(
        action=step.action, spec=spec, target=target, pipeline=pipeline, step=step.name,
        args=step_args(step),
        inputs=tuple((i.name, input_ref(i)) for i in step.inputs) + extra_inputs,
        outputs=tuple((o.name, output_ref(o)) for o in step.outputs),
        executor_output=executor_output,
    )


def step_argv(step, **kwargs) -> list[str]:
    """`mlopsc step ...` for one IR step (see `step_call` for the keywords)."""
    return step_call(step, **kwargs).argv()


_FLAGS = {"--spec": "spec", "--target": "target", "--pipeline": "pipeline", "--step": "step",
          "--executor-output": "executor_output"}
_MULTI = {"--arg": "args", "--input": "inputs", "--output": "outputs"}


class ContractError(ValueError):
    """An argv that does not follow the step contract."""


def parse_pair(flag: str, item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ContractError(f"{flag} {item!r}: expected KEY=VALUE")
    return key, value


def parse_argv(argv: list[str]) -> StepCall:
    """Parse `[mlopsc step] ACTION --spec ... ` back into a `StepCall` (the runner and tests use it)."""
    rest = list(argv)
    while rest and rest[0] in ("mlopsc", "step"):
        rest = rest[1:]
    if not rest or rest[0].startswith("-"):
        raise ContractError("missing ACTION")
    single: dict[str, str] = {}
    multi: dict[str, list[tuple[str, str]]] = {k: [] for k in _MULTI.values()}
    i = 1
    while i < len(rest):
        flag = rest[i]
        if flag not in _FLAGS and flag not in _MULTI:
            raise ContractError(f"unknown option {flag}")
        if i + 1 >= len(rest):
            raise ContractError(f"{flag} needs a value")
        value = rest[i + 1]
        if flag in _FLAGS:
            single[_FLAGS[flag]] = value
        else:
            multi[_MULTI[flag]].append(parse_pair(flag, value))
        i += 2
    if "spec" not in single:
        raise ContractError("--spec is required")
    return StepCall(action=rest[0], **single, **{k: tuple(v) for k, v in multi.items()})


def check_call(call: StepCall) -> list[str]:
    """Problems with a call against the registry: unknown action, ports it does not have,
    required ports missing, an unknown target. Empty when the call is well-formed."""
    if call.action not in ACTIONS:
        return [f"unknown step action {call.action!r}"]
    act = ACTIONS[call.action]
    problems = []
    if call.target not in TARGETS:
        problems.append(f"unknown target {call.target!r}")
    for side, given, ports in (("input", call.inputs, act.inputs), ("output", call.outputs, act.outputs)):
        names = [k for k, _ in given]
        for name in names:
            if side == "input" and ENV_INPUT.matches(name):
                continue
            if not any(p.matches(name) for p in ports):
                problems.append(f"action {act.name!r} has no {side} {name!r}")
        for p in ports:
            if not p.optional and not any(p.matches(n) for n in names):
                problems.append(f"action {act.name!r} needs {side} {p.name!r}")
    return problems


# ---------------------------------------------------------------- local output layout

WORKDIR = ".mlopsc"


def output_path(pipeline: str, step: str, output: str, workdir: str = WORKDIR) -> str:
    """Where a local run keeps one step output (the plan and the runner agree through this)."""
    return f"{workdir}/runs/{pipeline}/{step}/{output}"


def staging_path(pipeline: str, step: str, workdir: str = WORKDIR) -> str:
    """Where a local step writes before its outputs are moved into place."""
    return f"{workdir}/runs/{pipeline}/.staging/{step}"
