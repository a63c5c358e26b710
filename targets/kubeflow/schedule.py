"""Scheduled pipelines as KFP recurring runs.

KFP users schedule pipelines as *recurring runs* of the KFP API server (UI "Create recurring
run", `kfp.Client.create_recurring_run`, `kfp recurring-run create`); the server turns each into
a ScheduledWorkflow. A Kubernetes CronJob that calls the API would be an imitation with its own
credentials and failure modes. The file is the request body of
`POST /apis/v2beta1/recurringruns`, exactly what `create_recurring_run(pipeline_package_path=...)`
sends: the pipeline inlined (with its platform spec, as the client nests it) and a cron trigger.
KFP's cron has a leading seconds field (robfig/cron), so `0 6 * * *` becomes `0 0 6 * * *`.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.cron import fields
from mlopsc.targets.kfp_ir import Compiled

from .settings import settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any


def kfp_cron(cron: str) -> str:
    return "0 " + " ".join(fields(cron))


def recurring_run(project: ir.Project, pipeline: ir.Pipeline, compiled: Compiled) -> dict[str, Any]:
    spec: dict[str, Any] = compiled.spec
    if compiled.platform:
        spec = {"pipeline_spec": compiled.spec, "platform_spec": compiled.platform}
    body: dict[str, Any] = {
        "description": f"{pipeline.description}; schedule `{pipeline.schedule}` from {project.spec_path}",
        "display_name": compiled.name,
        "max_concurrency": "1",
        "mode": "ENABLE",
        "no_catchup": True,
        "pipeline_spec": spec,
        "runtime_config": {"parameters": {}},
        "trigger": {"cron_schedule": {"cron": kfp_cron(pipeline.schedule or "")}},
    }
    account = settings(project).service_account
    if pipeline.name == "deploy":  # the rollout step's API calls need the Role of serving/rollout-rbac.yaml
        from .rbac import service_account_name

        account = service_account_name(project)
    if account:
        body["service_account"] = account
    return body
