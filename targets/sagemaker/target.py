"""`SageMakerTarget`: pipeline definitions, CloudFormation for guarded endpoints, Model Monitor and
EventBridge schedules. Never imports boto3 or sagemaker: compiling is pure; `submit.py` talks to AWS."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.emit import json_text

from .. import tags
from ..base import OutputFile, Target
from . import cloudformation, monitor, pipeline_definition
from .settings import Settings, parse, settings
from .unsupported import unsupported


class SageMakerTarget(Target):
    name = "sagemaker"
    summary = "Amazon SageMaker Pipelines, endpoints with deployment guardrails, Model Monitor"
    capabilities = {  # noqa: RUF012 (the base class declares it so)
        "train pipeline": "pipeline definition JSON: Processing, Training/Tuning, Condition on Std:JsonGet, "
                          "RegisterModel, Fail",
        "evaluation gate": "Condition step on Std:JsonGet of the evaluation PropertyFile; Fail step",
        "failure notification": "not a step (no exit handler): route the pipeline's EventBridge failure event",
        "resources / spot": "instance types; managed spot training with checkpoints",
        "secrets": "not compiled in: the step runtime reads `${secret:NAME}` from the environment variable NAME",
        "approval": "model package PendingManualApproval, awaited by the approval step (ModelApprovalStatus)",
        "rollout + rollback": "CloudFormation endpoint DeploymentConfig (blue/green CANARY/LINEAR) with "
                              "AutoRollbackConfiguration alarms",
        "autoscaling": "Application Auto Scaling target tracking; serverless inference for scale to zero on CPU",
        "monitoring": "Model Monitor schedule on DataCapture; its container publishes the drift metrics the compiled CloudWatch alarms watch",
        "schedules": "EventBridge Scheduler schedules that start the pipelines",
        "llm serving + gateway": "LLM endpoint on GPU instances; the gateway is not deployed (warning)",
    }
    runtime_platform = "mlopsc.runtime.platforms.sagemaker:Platform"
    needs_shared_tracking = True
    submitter = "mlopsc.targets.sagemaker.submit:submit"

    def settings(self, project: ir.Project) -> tuple[Settings | None, list[Diagnostic]]:
        return parse(project)

    def unsupported(self, project: ir.Project) -> list[Diagnostic]:
        return unsupported(project)

    def files(self, project: ir.Project) -> list[OutputFile]:
        s = settings(project)
        out = [OutputFile(f"pipelines/{p.name}.json", json_text(_tagged_pipeline(project, p, s)))
               for p in project.pipelines]
        if project.deployment:
            for env in project.deployment.environments:
                out.append(OutputFile(f"cloudformation/deploy-{env.name}.json",
                                      _template_text(project, cloudformation.deploy_template(project, env, s))))
        template = monitor.monitor_template(project, s)
        if template is not None:
            out.append(OutputFile("cloudformation/monitor.json", _template_text(project, template)))
        template = monitor.schedules_template(project, s)
        if template is not None:
            out.append(OutputFile("cloudformation/schedules.json", _template_text(project, template)))
        return out


def _tagged_pipeline(project: ir.Project, pipeline: ir.Pipeline, s: Settings) -> dict:
    """The definition with the spec's name and labels as Tags on every job and model package."""
    definition = pipeline_definition.definition(project, pipeline, s)
    tags.tag_steps(definition["Steps"], tags.aws_tags(project))
    return definition


def _template_text(project: ir.Project, template: dict) -> str:
    return json_text(tags.tag_resources(template, tags.aws_tags(project), tags.AWS_TAGGABLE))
