"""`KubeflowTarget`: train/deploy/monitor as two-document KFP v2 IR, KServe, recurring runs."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.emit import json_text, yaml_text
from mlopsc.targets.base import OutputFile, Target
from mlopsc.targets.kfp_ir import Dialect, build, render

from . import kserve, schedule, unsupported


class KubeflowTarget(Target):
    name = "kubeflow"
    summary = "Kubeflow Pipelines v2 (KFP IR + kfp-kubernetes) with KServe serving"
    capabilities = {  # noqa: RUF012 (the base class declares it so)
        "train pipeline": "KFP v2 IR YAML + kfp-kubernetes platform spec",
        "evaluation gate": "condition sub-DAG on the evaluate step's `passed` output (CEL)",
        "failure notification": "exit handler with the task's final status",
        "resources": "container requests/limits, GPU node selector and toleration",
        "secrets": "Kubernetes Secrets as env (kfp-kubernetes secretAsEnv)",
        "approval": "registry alias change, awaited by an approval step",
        "rollout + rollback": "KServe InferenceService canaryTrafficPercent, walked by the rollout step",
        "autoscaling": "KServe min/max replicas (0 = scale to zero), concurrency target",
        "monitoring": "monitor pipeline as a KFP recurring run (cron)",
    }
    dialect = Dialect()

    def unsupported(self, project: ir.Project) -> list[Diagnostic]:
        return unsupported.diagnostics(project)

    def files(self, project: ir.Project) -> list[OutputFile]:
        out: list[OutputFile] = []
        for pipeline in project.pipelines:
            compiled = build(pipeline, project, self.dialect)
            out.append(OutputFile(f"pipelines/{pipeline.name}.yaml",
                                  render(compiled, two_documents=self.dialect.two_documents)))
            if pipeline.schedule:
                out.append(OutputFile(f"schedules/{pipeline.name}.recurring-run.json",
                                      json_text(schedule.recurring_run(project, pipeline, compiled))))
        if project.deployment:
            for env in project.deployment.environments:
                manifest = kserve.inference_service(project, env)
                out.append(OutputFile(f"serving/{env.name}.inferenceservice.yaml", yaml_text(manifest)))
        return out
