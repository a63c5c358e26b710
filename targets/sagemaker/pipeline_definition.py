"""IR pipeline -> SageMaker pipeline definition (`Version: 2020-12-01`), as a plain dict.

Step kinds map to native step types: processing (and deploy, approval, notify) -> `Processing`,
training -> `Training`, tuning -> `Tuning`, register -> `RegisterModel`, fail -> `Fail`; steps
with a `when` condition go into the If/Else branches of one `Condition` step per condition source.
Step `Arguments` are the body of the matching Create* request without the job name.

Container paths (the values of `--input/--output k=REF` in the `mlopsc step` contract):

| port | Processing job | Training / tuning job |
|---|---|---|
| artifact input `k` | `/opt/ml/processing/input/k` | `/opt/ml/input/data/k` (channel `k`) |
| model output | `/opt/ml/processing/output/model` | `/opt/ml/model` |
| metrics output `k` | `/opt/ml/processing/output/k/k.json` (a file; the dir is uploaded) | `/opt/ml/output/data/k.json` |
| other artifact output `k` | `/opt/ml/processing/output/k` | `/opt/ml/output/data/k` |
| parameter output `p` | `<first metrics output file>#p`, else `/opt/ml/processing/output/outputs/outputs.json#p`: the runtime writes key `p` into that JSON file | not supported |

Parameter inputs are the value itself, resolved at run time: `{"Std:Join": ["k=", {"Get": ...}]}`
inside the container's argv (a pipeline parameter, or `Std:JsonGet` of the producer's property
file for a step's parameter output). Tuning jobs cannot take an entrypoint, so there the argv is
`MLOPSC_STEP_ARGV` (JSON) in the environment, parameter inputs are `env:MLOPSC_PARAM_<NAME>` and
SageMaker runs the image's `train` program, which must exec that argv.
"""

from __future__ import annotations

import json

from mlopsc import ir
from mlopsc.contract import step_argv
from mlopsc.pipelines import RESOLVE
from mlopsc.targets.base import spec_ref

from . import expressions as ex
from . import instance_types
from .argv import Argv
from .settings import Settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

PROCESSING_IN = "/opt/ml/processing/input"
PROCESSING_OUT = "/opt/ml/processing/output"
TRAINING_IN = "/opt/ml/input/data"
CHECKPOINTS = "/opt/ml/checkpoints"
CACHE = {"Enabled": True, "ExpireAfter": "P30D"}
PARAM_TYPES = {"string": "String", "integer": "Integer", "number": "Float", "boolean": "Boolean"}
STRATEGIES = {"grid": "Grid", "random": "Random", "bayesian": "Bayesian"}
class PipelineCompiler:
    def __init__(self, project: ir.Project, pipeline: ir.Pipeline, settings: Settings):
        self.project = project
        self.pipeline = pipeline
        self.s = settings
        self.name = ex.pipeline_name(project.name, pipeline.name)

    # ---------------------------------------------------------------- locations and references

    def run_prefix(self, *parts: str) -> Any:
        """`s3://bucket/<project>/<pipeline>/<execution id>/<parts>`, joined at run time."""
        return ex.join([self.s.s3(self.project.name, self.pipeline.name), ex.execution_id(), *parts], on="/")

    def producer(self, name: str) -> ir.Step:
        step = self.pipeline.step(name)
        assert step is not None, name
        return step

    def report_output(self, step: ir.Step) -> str:
        """The output whose JSON file carries the step's parameter outputs."""
        return next((o.name for o in step.outputs if o.kind == "metrics"), "outputs")

    @staticmethod
    def property_file(output: str) -> str:
        base = ex.logical_id(output)
        return base if base.endswith("Report") else base + "Report"

    def artifact_uri(self, source: ir.FromStep) -> Any:
        step = self.producer(source.step)
        if step.kind in ("training", "tuning"):
            if source.output != "model":
                raise ValueError(f"{step.name}.{source.output}: only the model of a training job is consumed")
            if step.kind == "training":
                return ex.get(f"Steps.{step.name}.ModelArtifacts.S3ModelArtifacts")
            # the best training job of the tuning job (summaries are sorted by the objective)
            return ex.join([self.s.s3(self.project.name, self.pipeline.name), ex.execution_id(), step.name,
                            ex.get(f"Steps.{step.name}.TrainingJobSummaries[0].TrainingJobName"),
                            "output/model.tar.gz"], on="/")
        return ex.get(f"Steps.{step.name}.ProcessingOutputConfig.Outputs['{source.output}'].S3Output.S3Uri")

    def value_of(self, source: ir.FromStep | ir.FromParam | ir.Constant) -> Any:
        if isinstance(source, ir.FromParam):
            return ex.param(source.param)
        if isinstance(source, ir.Constant):
            return source.value if isinstance(source.value, str) else json.dumps(source.value)
        step = self.producer(source.step)
        report = self.report_output(step)
        return ex.json_get(step.name, self.property_file(report), source.output)

    # ---------------------------------------------------------------- definition

    def definition(self) -> dict[str, Any]:
        steps: list[dict[str, Any]] = []
        branches: dict[tuple[str, str], dict[bool, list[dict[str, Any]]]] = {}
        for step in self.pipeline.steps:
            compiled = self.step(step)
            if step.when is None:
                steps.append(compiled)
                continue
            key = (step.when.step, step.when.output)
            if key not in branches:
                branches[key] = {True: [], False: []}
                steps.append(self.condition(step.when, branches[key]))
            taken = bool(step.when.value) if step.when.op == "==" else not step.when.value
            branches[key][taken].append(compiled)
        definition: dict[str, Any] = {
            "Version": "2020-12-01",
            "Metadata": {},
            "Parameters": [
                {"Name": p.name, "Type": PARAM_TYPES[p.kind], "DefaultValue": p.default}
                for p in self.pipeline.params
            ],
            "Steps": steps,
        }
        return definition

    def condition(self, when: ir.Condition, branch: dict[bool, list[dict[str, Any]]]) -> dict[str, Any]:
        step = self.producer(when.step)
        left = ex.json_get(step.name, self.property_file(self.report_output(step)), when.output)
        return {
            "Name": f"{step.name}-{when.output}".replace("_", "-"),
            "Type": "Condition",
            "Description": f"continue only when {when.output} of {step.name} is known",
            "Arguments": {
                "Conditions": [{"Type": "Equals", "LeftValue": left, "RightValue": True}],
                "IfSteps": branch[True],
                "ElseSteps": branch[False],
            },
        }

    def step(self, step: ir.Step) -> dict[str, Any]:
        build = {"training": self.training, "tuning": self.tuning, "register": self.register,
                 "fail": self.fail}.get(step.kind, self.processing)
        out = build(step)
        if step.after:
            out["DependsOn"] = list(step.after)
        return out

    def instance(self, step: ir.Step, use: str) -> str:
        chosen = instance_types.choose(step.resources or ir.Resources(1.0, 2**30), use, self.s.instance_types)
        if chosen is None:  # unsupported() reports these before files() runs
            raise ValueError(f"no instance type for {step.name}")
        return chosen

    # ---------------------------------------------------------------- Processing

    def processing(self, step: ir.Step) -> dict[str, Any]:
        argv = Argv()
        inputs: list[dict[str, Any]] = []
        outputs: dict[str, dict[str, Any]] = {}
        property_files: dict[str, dict[str, str]] = {}

        def input_ref(i: ir.Input) -> str:
            if isinstance(i.source, ir.FromStep) and i.kind in ir.ARTIFACT_KINDS:
                local = f"{PROCESSING_IN}/{i.name}"
                inputs.append({"InputName": i.name, "AppManaged": False, "S3Input": {
                    "S3Uri": self.artifact_uri(i.source), "LocalPath": local, "S3DataType": "S3Prefix",
                    "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}})
                return local
            return argv.token(self.value_of(i.source))

        def add_output(name: str) -> str:
            local = f"{PROCESSING_OUT}/{name}"
            outputs[name] = {"OutputName": name, "AppManaged": False, "S3Output": {
                "S3Uri": self.run_prefix(step.name, name), "LocalPath": local, "S3UploadMode": "EndOfJob"}}
            return local

        def output_ref(o: ir.Port) -> str:
            if o.kind == "metrics":
                property_files[o.name] = {"PropertyFileName": self.property_file(o.name), "OutputName": o.name,
                                          "FilePath": f"{o.name}.json"}
                return f"{add_output(o.name)}/{o.name}.json"
            if o.is_artifact:
                return add_output(o.name)
            report = self.report_output(step)
            if report not in outputs:
                add_output(report)
                property_files[report] = {"PropertyFileName": self.property_file(report), "OutputName": report,
                                          "FilePath": f"{report}.json"}
            return f"{PROCESSING_OUT}/{report}/{report}.json#{o.name}"

        command = step_argv(step, spec=spec_ref(self.project), target="sagemaker", pipeline=self.pipeline.name,
                            input_ref=input_ref, output_ref=output_ref)
        args: dict[str, Any] = {
            "ProcessingResources": {"ClusterConfig": {
                "InstanceCount": 1, "InstanceType": self.instance(step, "processing"), "VolumeSizeInGB": 30}},
            "AppSpecification": {"ImageUri": ex.param("image"), "ContainerEntrypoint": argv.resolve(command)},
            "RoleArn": self.s.role,
            "Environment": self.environment(step),
            "StoppingCondition": {"MaxRuntimeInSeconds": step.max_runtime_seconds or 86400},
        }
        if inputs:
            args["ProcessingInputs"] = inputs
        if outputs:
            args["ProcessingOutputConfig"] = {"Outputs": [outputs[k] for k in sorted(outputs)]}
        out: dict[str, Any] = {"Name": step.name, "Type": "Processing", "Arguments": args}
        if property_files:
            out["PropertyFiles"] = [property_files[k] for k in sorted(property_files)]
        self.common(step, out)
        return out

    def environment(self, step: ir.Step) -> dict[str, Any]:
        # the target and pipeline travel in the step's argv (the step contract), not the environment
        env: dict[str, Any] = {"MLOPSC_GIT_COMMIT": ex.param("git_commit")}
        if step.kind == "deploy":
            environment = dict(step.args).get("environment", "")
            env["MLOPSC_SAGEMAKER_TEMPLATE"] = f"cloudformation/deploy-{environment}.json"
            env["MLOPSC_SAGEMAKER_STACK"] = ex.resource_name(self.project.name, environment)
        return env

    def common(self, step: ir.Step, out: dict[str, Any]) -> None:
        if step.cache:
            out["CacheConfig"] = dict(CACHE)
        if step.retries and step.kind not in ("training", "tuning"):
            out["RetryPolicies"] = [{"ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR"],
                                     "MaxAttempts": step.retries, "IntervalSeconds": 60, "BackoffRate": 2.0}]

    # ---------------------------------------------------------------- Training and Tuning

    def _training_parts(self, step: ir.Step, argv: Argv, param_ref) -> tuple[list[str], dict[str, Any]]:
        channels: list[dict[str, Any]] = []

        def input_ref(i: ir.Input) -> str:
            if isinstance(i.source, ir.FromStep) and i.kind in ir.ARTIFACT_KINDS:
                channels.append({"ChannelName": i.name, "InputMode": "File", "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": self.artifact_uri(i.source),
                    "S3DataDistributionType": "FullyReplicated"}}})
                return f"{TRAINING_IN}/{i.name}"
            return param_ref(i)

        def output_ref(o: ir.Port) -> str:
            if o.kind == "model":
                return "/opt/ml/model"
            if o.kind == "metrics":
                return f"/opt/ml/output/data/{o.name}.json"
            if o.is_artifact:
                return f"/opt/ml/output/data/{o.name}"
            raise ValueError(f"{step.name}: training jobs have no parameter outputs ({o.name})")

        command = step_argv(step, spec=spec_ref(self.project), target="sagemaker", pipeline=self.pipeline.name,
                            input_ref=input_ref, output_ref=output_ref)
        spot = step.spot if step.spot and step.spot.enabled else None
        runtime = step.max_runtime_seconds or 86400
        stopping: dict[str, Any] = {"MaxRuntimeInSeconds": runtime}
        args: dict[str, Any] = {
            "RoleArn": self.s.role,
            "OutputDataConfig": {"S3OutputPath": self.run_prefix(step.name)},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": self.instance(step, "training"),
                               "VolumeSizeInGB": 50},
            "StoppingCondition": stopping,
        }
        if channels:
            args["InputDataConfig"] = channels
        if spot:
            stopping["MaxWaitTimeInSeconds"] = spot.max_wait_seconds
            args["EnableManagedSpotTraining"] = True
            checkpoints = self.project.training.checkpoints if self.project.training else None
            args["CheckpointConfig"] = {
                "S3Uri": checkpoints or self.s.s3(self.project.name, "checkpoints", step.name) + "/",
                "LocalPath": CHECKPOINTS}
        if step.retries:
            args["RetryStrategy"] = {"MaximumRetryAttempts": min(step.retries, 30)}
        return command, args

    def hyperparameters(self) -> dict[str, str]:
        if self.project.training:
            return {k: json.dumps(ir.thaw(v)) for k, v in self.project.training.hyperparameters}
        ft = self.project.llm.fine_tune if self.project.llm else None
        if ft is None:
            return {}
        hp = {"method": ft.method, "epochs": str(ft.epochs), "base_model": self.project.llm.base_model}
        hp.update({f"lora_{k}": json.dumps(ir.thaw(v)) for k, v in ft.lora})
        return hp

    def training(self, step: ir.Step) -> dict[str, Any]:
        argv = Argv()
        command, args = self._training_parts(step, argv, lambda i: argv.token(self.value_of(i.source)))
        args["AlgorithmSpecification"] = {"TrainingImage": ex.param("image"), "TrainingInputMode": "File",
                                          "ContainerEntrypoint": argv.resolve(command)}
        args["Environment"] = self.environment(step)
        hp = self.hyperparameters()
        if hp:
            args["HyperParameters"] = hp
        out = {"Name": step.name, "Type": "Training", "Arguments": args}
        self.common(step, out)
        return out

    def tuning(self, step: ir.Step) -> dict[str, Any]:
        sweep = self.project.training.sweep
        env: dict[str, Any] = {}

        def param_ref(i: ir.Input) -> str:
            var = "MLOPSC_PARAM_" + i.name.upper()
            env[var] = self.value_of(i.source)
            return f"env:{var}"

        command, definition = self._training_parts(step, Argv(), param_ref)
        env.update(self.environment(step))
        env["MLOPSC_STEP_ARGV"] = json.dumps(command)
        definition["AlgorithmSpecification"] = {
            "TrainingImage": ex.param("image"), "TrainingInputMode": "File",
            # the runtime prints `<metric>=<value>` per epoch; SageMaker reads the objective from the log
            "MetricDefinitions": [{"Name": sweep.metric, "Regex": f"{sweep.metric}=([-+0-9.eE]+)"}],
        }
        definition["Environment"] = env
        swept = {p.name for p in sweep.parameters}
        static = {k: v for k, v in self.hyperparameters().items() if k not in swept}
        if static:
            definition["StaticHyperParameters"] = static
        ranges: dict[str, list[dict[str, Any]]] = {}
        for p in sweep.parameters:
            if p.distribution == "choice":
                ranges.setdefault("CategoricalParameterRanges", []).append(
                    {"Name": p.name, "Values": [v if isinstance(v, str) else json.dumps(ir.thaw(v)) for v in p.values]})
            elif p.distribution == "int_uniform":
                ranges.setdefault("IntegerParameterRanges", []).append(
                    {"Name": p.name, "MinValue": str(p.values[0]), "MaxValue": str(p.values[1]),
                     "ScalingType": "Linear"})
            else:
                ranges.setdefault("ContinuousParameterRanges", []).append(
                    {"Name": p.name, "MinValue": repr(float(p.values[0])), "MaxValue": repr(float(p.values[1])),
                     "ScalingType": "Logarithmic" if p.distribution == "log_uniform" else "Linear"})
        limits: dict[str, Any] = {"MaxParallelTrainingJobs": sweep.parallel_trials}
        if sweep.strategy != "grid":  # Grid tries every combination; a job limit is rejected
            limits["MaxNumberOfTrainingJobs"] = sweep.max_trials
        config = {
            "Strategy": STRATEGIES[sweep.strategy],
            "HyperParameterTuningJobObjective": {"Type": sweep.goal.capitalize(), "MetricName": sweep.metric},
            "ResourceLimits": limits,
            "ParameterRanges": ranges,
            "TrainingJobEarlyStoppingType": "Off",
        }
        out = {"Name": step.name, "Type": "Tuning",
               "Arguments": {"HyperParameterTuningJobConfig": config, "TrainingJobDefinition": definition}}
        self.common(step, out)
        return out

    # ---------------------------------------------------------------- RegisterModel and Fail

    def register(self, step: ir.Step) -> dict[str, Any]:
        p = self.project
        model = next(i for i in step.inputs if i.name == "model")
        evaluation = next((i for i in step.inputs if i.kind == "metrics"), None)
        serving = p.llm.serving.resources if p.llm and p.llm.serving else (
            p.deployment.serving.resources if p.deployment else ir.Resources(1.0, 2**30))
        serving_type = instance_types.choose(serving, "serving", self.s.instance_types)
        container: dict[str, Any] = {"Image": ex.param("image"), "ModelDataUrl": self.artifact_uri(model.source),
                                     "Environment": {"MLOPSC_SPEC": spec_ref(p)}}
        spec: dict[str, Any] = {"Containers": [container], "SupportedContentTypes": ["application/json"],
                                "SupportedResponseMIMETypes": ["application/json"]}
        if serving_type:
            spec["SupportedRealtimeInferenceInstanceTypes"] = [serving_type]
        metadata: dict[str, Any] = {"mlopsc_spec": p.spec_path, "mlopsc_spec_sha256": p.spec_hash,
                                    "git_commit": ex.param("git_commit"),
                                    "pipeline_execution": ex.execution_id()}
        resolve = self.pipeline.step(RESOLVE)
        for port in resolve.outputs if resolve else ():  # the versions read, not the ones requested
            metadata["data_" + port.name] = self.value_of(ir.FromStep(RESOLVE, port.name))
        args: dict[str, Any] = {
            "ModelPackageGroupName": ex.resource_name(dict(step.args).get("model", p.registry.model)),
            "ModelPackageDescription": f"{p.registry.model} from {p.name} ({p.spec_path})",
            "ModelApprovalStatus": "PendingManualApproval" if dict(step.args).get("approval") == "pending"
            else "Approved",
            "InferenceSpecification": spec,
            "MetadataProperties": {"CommitId": ex.param("git_commit"), "GeneratedBy": "mlopsc"},
            "CustomerMetadataProperties": metadata,
        }
        if evaluation is not None and isinstance(evaluation.source, ir.FromStep):
            args["ModelMetrics"] = {"ModelQuality": {"Statistics": {
                "ContentType": "application/json",
                "S3Uri": ex.join([self.artifact_uri(evaluation.source), f"{evaluation.source.output}.json"], on="/")}}}
        return {"Name": step.name, "Type": "RegisterModel", "Arguments": args}

    def fail(self, step: ir.Step) -> dict[str, Any]:
        message: Any = step.message or f"{step.name} failed"
        report = next((i for i in step.inputs if i.kind == "metrics" and isinstance(i.source, ir.FromStep)), None)
        if report is not None:
            message = ex.join([message + "; report: ", self.artifact_uri(report.source),
                               f"/{report.source.output}.json"])
        return {"Name": step.name, "Type": "Fail", "Arguments": {"ErrorMessage": message}}


def definition(project: ir.Project, pipeline: ir.Pipeline, settings: Settings) -> dict[str, Any]:
    return PipelineCompiler(project, pipeline, settings).definition()
