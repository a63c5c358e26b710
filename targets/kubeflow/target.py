"""`KubeflowTarget`: train/deploy/monitor as two-document KFP v2 IR, KServe (+ Istio mirror for
shadow), recurring runs, and the LLM gateway as a LiteLLM proxy."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.emit import json_text, yaml_documents, yaml_text
from mlopsc.targets.base import OutputFile, Target
from mlopsc.targets.kfp_ir import Dialect, build, render

from . import collector, gateway, katib, kserve, rbac, schedule, shadow
from .settings import Settings, parse
from .unsupported import unsupported


class KubeflowTarget(Target):
    name = "kubeflow"
    summary = "Kubeflow Pipelines v2 (KFP IR + kfp-kubernetes) with KServe serving"
    capabilities = {  # noqa: RUF012 (the base class declares it so); one entry per base.PARTS row
        "train pipeline": "KFP v2 IR YAML + kfp-kubernetes platform spec",
        "evaluation gate": "condition sub-DAG on the evaluate step's `passed` output (CEL)",
        "failure notification": "exit handler with the task's final status",
        "resources / spot": "container requests/limits, GPU node selector and toleration; spot ignored (noted)",
        "secrets": "Kubernetes Secrets as env (kfp-kubernetes secretAsEnv, secretKeyRef)",
        "approval": "registry alias `approved-<env>` set by a person; the approval step waits for it (or a rejection) up to `registry.approval.timeout`",
        "rollout + rollback": "KServe InferenceService applied by the rollout step (run service account and "
                              "Role in serving/rollout-rbac.yaml), canaryTrafficPercent walked, error rate and p99 "
                              "read from Prometheus, rollback to canary 0; shadow: challenger + Istio mirror "
                              "applied for the window, judged, removed",
        "autoscaling": "KServe min/max replicas (0 = scale to zero), concurrency target",
        "monitoring": "monitor pipeline on captured traffic (InferenceService logger -> the bundle's capture collector -> object storage): drift, performance, LLM quality; infrastructure from Prometheus",
        "schedules": "KFP recurring runs (cron with seconds), created or kept by `mlopsc submit`",
        "llm serving + gateway": "KServe Hugging Face runtime (vLLM); LiteLLM proxy Deployment + Service",
    }
    runtime_platform = "mlopsc.runtime.platforms.kubeflow:Platform"
    needs_shared_tracking = True
    submitter = "mlopsc.targets.kubeflow.submit:submit"
    dialect = Dialect()

    def settings(self, project: ir.Project) -> tuple[Settings | None, list[Diagnostic]]:
        return parse(project)

    def unsupported(self, project: ir.Project) -> list[Diagnostic]:
        return unsupported(project)

    def files(self, project: ir.Project) -> list[OutputFile]:
        out: list[OutputFile] = []
        for pipeline in project.pipelines:
            compiled = build(pipeline, project, self.dialect)
            out.append(OutputFile(f"pipelines/{pipeline.name}.yaml",
                                  render(compiled, two_documents=self.dialect.two_documents)))
            if pipeline.schedule:
                out.append(OutputFile(f"schedules/{pipeline.name}.recurring-run.json",
                                      json_text(schedule.recurring_run(project, pipeline, compiled))))
        if katib.uses_katib(project):
            out.append(OutputFile("tuning/train.experiment.yaml", yaml_text(katib.experiment(project))))
        if project.deployment:
            out.append(OutputFile("serving/rollout-rbac.yaml", yaml_documents(rbac.manifests(project))))
            for env in project.deployment.environments:
                manifest = kserve.inference_service(project, env)
                out.append(OutputFile(f"serving/{env.name}.inferenceservice.yaml", yaml_text(manifest)))
                if env.strategy.type == "shadow":
                    out.append(OutputFile(f"serving/{env.name}-shadow.inferenceservice.yaml",
                                          yaml_text(shadow.challenger_service(project, env))))
                    out.append(OutputFile(f"serving/{env.name}.virtualservice.yaml",
                                          yaml_text(shadow.virtual_service(project, env))))
        capture = collector.manifests(project)
        if capture:
            out.append(OutputFile("serving/capture-collector.yaml", yaml_documents(capture)))
        if project.llm and project.llm.gateway:
            out.append(OutputFile("gateway/litellm.yaml", yaml_documents(gateway.manifests(project))))
        return out
