"""What the deploy pipeline's rollout step may do in the cluster: a ServiceAccount, a Role and a
RoleBinding (`serving/rollout-rbac.yaml`).

The rollout step runs in a pod of the deploy pipeline's run and talks to the Kubernetes API with
the pod's service account token (`runtime/platforms/kserve_api.py`): it reads, creates, replaces
and merge-patches the environments' InferenceServices, and for a shadow environment also the
challenger InferenceService and the Istio VirtualService. KFP runs every pod of a run under the
run's service account (a run or recurring run field, not a per-task one in KFP v2), so the
deploy pipeline is submitted with `service_account_name(project)`: the recurring run of a
scheduled deploy pipeline carries it.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.targets.tags import k8s_labels

from .settings import settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

RBAC_API = "rbac.authorization.k8s.io/v1"
DEFAULT_ACCOUNT = "mlopsc-rollout"
ISVC_VERBS = ["create", "get", "list", "patch", "update", "watch"]
MIRROR_VERBS = ["create", "delete", "get", "patch", "update"]


def service_account_name(project: ir.Project) -> str:
    """The deploy pipeline runs' service account: the target's `service_account`, else ours."""
    return settings(project).service_account or DEFAULT_ACCOUNT


def role_name(project: ir.Project) -> str:
    return f"{project.registry.model}-rollout"


def _metadata(project: ir.Project, name: str) -> dict[str, Any]:
    labels = {**k8s_labels(project), "app.kubernetes.io/managed-by": "mlopsc",
              "app.kubernetes.io/name": project.registry.model, "app.kubernetes.io/component": "rollout"}
    return {"labels": labels, "name": name, "namespace": settings(project).namespace}


def _rules(project: ir.Project) -> list[dict[str, Any]]:
    envs = project.deployment.environments if project.deployment else ()
    shadow = any(e.strategy.type == "shadow" for e in envs)
    rules = [{"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"],
              "verbs": ISVC_VERBS + (["delete"] if shadow else [])}]
    if shadow:
        rules.append({"apiGroups": ["networking.istio.io"], "resources": ["virtualservices"],
                      "verbs": list(MIRROR_VERBS)})
    return rules


def manifests(project: ir.Project) -> list[dict[str, Any]]:
    """ServiceAccount, Role, RoleBinding, in the order `kubectl apply` needs them."""
    account, role = service_account_name(project), role_name(project)
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(project, account)},
        {"apiVersion": RBAC_API, "kind": "Role", "metadata": _metadata(project, role), "rules": _rules(project)},
        {"apiVersion": RBAC_API, "kind": "RoleBinding", "metadata": _metadata(project, role),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
         "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": settings(project).namespace}]},
    ]
