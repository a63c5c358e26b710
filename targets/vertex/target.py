"""`VertexTarget`: what differs from Kubeflow, on top of the shared KFP IR builder.

Files: `pipelines/<name>.yaml` (single-document KFP v2 IR, as Vertex requires), the deploy
pipeline whose rollout step uploads, deploys and walks the traffic split on endpoints with ids
chosen by mlopsc (`deploy`),
`jobs/<name>.runtime-config.json` per pipeline and `schedules/<name>.schedule.json` for scheduled
pipelines (`jobs`), and for `llm.gateway` LiteLLM's `gateway/config.yaml` with the Cloud Run
service `gateway/cloudrun-service.yaml` (`gateway`).
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.emit import json_text
from mlopsc.targets.base import OutputFile, Target
from mlopsc.targets.kfp_ir import Compiled, build, render

from . import deploy, gateway, jobs, tuning
from .dialect import VertexDialect
from .settings import Settings, parse, settings
from .unsupported import unsupported


class VertexTarget(Target):
    name = "vertex"
    summary = "Vertex AI Pipelines (single-document KFP IR); a rollout step walking the endpoint's traffic split"
    capabilities = {  # noqa: RUF012 (the base class declares it so)
        "train pipeline": "single-document KFP v2 IR + PipelineJob runtime config",
        "evaluation gate": "condition sub-DAG on the evaluate step's `passed` output (CEL)",
        "failure notification": "exit handler with the task's final status",
        "resources / spot": "custom-job CPU/memory limits, Vertex accelerator enums, machine table; no spot",
        "secrets": "Secret Manager version names in step env, read by the step runtime",
        "approval": "registry alias `approved-<env>` set by a person; the approval step waits for it (or a rejection) up to `registry.approval.timeout`",
        "rollout + rollback": "the rollout step uploads the Model and deploys it, walks the endpoint's traffic "
                              "split per canary step, reads error rate and p99 from Cloud Monitoring (PromQL) "
                              "and restores the previous split when a rule trips; no shadow walk",
        "autoscaling": "dedicated resources min/max replicas (at least 1)",
        "monitoring": "monitor pipeline on a Vertex Schedule: drift and performance on request-response logs exported as JSON (mlopsc does not enable the logging or run the export), infrastructure from Cloud Monitoring (PromQL)",
        "schedules": "Vertex Schedules of the PipelineJobs, created or updated by `mlopsc submit --pipeline`",
        "llm serving + gateway": "vLLM model on a Vertex endpoint (id chosen by mlopsc); LiteLLM proxy "
                                 "as a Cloud Run service",
    }
    runtime_platform = "mlopsc.runtime.platforms.vertex:Platform"
    needs_shared_tracking = True
    submitter = "mlopsc.targets.vertex.submit:submit"
    dialect = VertexDialect()

    def settings(self, project: ir.Project) -> tuple[Settings | None, list[Diagnostic]]:
        return parse(project)

    def unsupported(self, project: ir.Project) -> list[Diagnostic]:
        return unsupported(project)

    def compiled(self, project: ir.Project) -> list[tuple[ir.Pipeline, Compiled]]:
        """Every Vertex pipeline built by the shared builder, GCPC steps given their specs."""
        region = settings(project).region
        found = []
        for pipeline in project.pipelines:
            if pipeline.name == "deploy":
                pipeline = deploy.vertex_deploy_pipeline(project, pipeline, region)
            found.append((pipeline, deploy.retype(build(pipeline, project, self.dialect), pipeline)))
        return found

    def files(self, project: ir.Project) -> list[OutputFile]:
        out: list[OutputFile] = []
        for pipeline, compiled in self.compiled(project):
            out.append(OutputFile(f"pipelines/{pipeline.name}.yaml",
                                  render(compiled, two_documents=self.dialect.two_documents)))
            out.append(OutputFile(f"jobs/{pipeline.name}.runtime-config.json",
                                  json_text(jobs.runtime_config(project, pipeline, compiled))))
            if pipeline.schedule:
                out.append(OutputFile(f"schedules/{pipeline.name}.schedule.json",
                                      json_text(jobs.schedule_body(project, pipeline, compiled))))
        if project.training and project.training.sweep:
            out.append(OutputFile("jobs/train.hyperparameter-tuning-job.json",
                                  json_text(tuning.tuning_job(project))))
        if project.llm and project.llm.gateway:
            out += [OutputFile(path, text) for path, text in gateway.files(project)]
        return out
