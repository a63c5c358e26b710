"""`LocalTarget`: the plan `mlopsc run` executes, plus compose and a Dockerfile for Docker users."""

from __future__ import annotations

from mlopsc import ir
from mlopsc.diagnostics import Diagnostic
from mlopsc.emit import json_text, yaml_text
from mlopsc.targets.base import OutputFile, Target

from .compose import compose
from .dockerfile import dockerfile
from .plan import local_plan
from .settings import Settings, parse, settings
from .unsupported import unsupported


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
        "monitoring": "`mlopsc monitor` on the traffic the servers captured (.mlopsc/captures) or `--data`; compose service on the cron schedule",
        "schedules": "`mlopsc monitor --schedule` in the compose monitor service",
        "llm serving + gateway": "LoRA fine-tune on CPU, OpenAI-compatible server behind the router, the LiteLLM proxy (Redis cache) started by `mlopsc run`; QLoRA needs a GPU (noted)",
    }

    runtime_platform = "mlopsc.runtime.platforms.local:Platform"
    steps_in_image = False  # `mlopsc run` runs the steps in the user's checkout
    submitter = "mlopsc.targets.local.submit:submit"

    def settings(self, project: ir.Project) -> tuple[Settings | None, list[Diagnostic]]:
        return parse(project)

    def unsupported(self, project: ir.Project) -> list[Diagnostic]:
        return unsupported(project)

    def files(self, project: ir.Project) -> list[OutputFile]:
        port = settings(project).port
        docker = dockerfile(project)
        return [
            OutputFile("plan.json", json_text(local_plan(project))),
            OutputFile("docker-compose.yaml", yaml_text(compose(project, port, docker))),
            OutputFile("Dockerfile", docker),
        ]
