"""`LocalTarget`: the plan `mlopsc run` executes, plus compose and a Dockerfile for Docker users."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.emit import json_text, yaml_text
from mlopsc.targets.base import OutputFile, Target, note

from .compose import compose
from .dockerfile import dockerfile
from .plan import local_plan


class LocalTarget(Target):
    name = "local"
    summary = "one machine: `mlopsc run` as local processes, or docker-compose"
    capabilities = {
        "train pipeline": "local runner plan (plan.json) run by `mlopsc run`; docker-compose service",
        "evaluation gate": "runner skips register and stops with the failed metric",
        "failure notification": "printed, and posted to webhook channels",
        "resources / spot": "ignored, with a note (runs on this machine's CPU)",
        "secrets": "environment variables",
        "approval": "prompt, or `mlopsc run --approve`",
        "rollout + rollback": "local model servers behind a weighted router with automatic rollback",
        "autoscaling": "ignored, with a note (one server per environment)",
        "monitoring": "`mlopsc monitor` report; compose service on the cron schedule",
        "schedules": "`mlopsc monitor --schedule` in the compose monitor service",
        "llm serving + gateway": "not run locally without a GPU: the fine-tune step stops with a located message",
    }

    def unsupported(self, project: ir.Project) -> list[Diagnostic]:
        found = []
        if project.training and (project.training.resources.gpu_count or project.training.spot):
            found.append(note(self.name, project.training.resources.span,
                              "GPU and spot settings are ignored; training runs on this machine's CPU"))
        if project.llm and project.llm.fine_tune:
            found.append(note(self.name, project.llm.fine_tune.span,
                              "LLM fine-tuning runs only with the GPU resources it asks for; "
                              "the local runner stops at this step on a machine without them"))
        if project.deployment and project.deployment.serving.autoscaling.max_replicas > 1:
            found.append(note(self.name, project.deployment.serving.autoscaling.span,
                              "autoscaling is ignored; one server runs per environment"))
        return found

    def files(self, project: ir.Project) -> list[OutputFile]:
        port = int(project.target_settings("local").get("port", 8080))
        docker = dockerfile(project)
        return [
            OutputFile("plan.json", json_text(local_plan(project))),
            OutputFile("docker-compose.yaml", yaml_text(compose(project, port, docker))),
            OutputFile("Dockerfile", docker),
        ]
