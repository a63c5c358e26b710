"""What Vertex AI Pipelines does differently from Kubeflow when reading the same KFP v2 IR.

- one YAML document: `aiplatform.PipelineJob` reads the file with `yaml.safe_load` and rejects the
  kfp-kubernetes PlatformSpec document, so there is no platform config at all;
- accelerators are Vertex `AcceleratorType` enum names (`NVIDIA_TESLA_T4`), not `nvidia.com/gpu`;
- `targets.vertex.machine_types` pins the machine of training or processing steps;
- secrets: no Kubernetes Secrets. Each step that needs `${secret:NAME}` gets the environment
  variable `MLOPSC_SECRET_<VAR>` holding the Secret Manager version resource name
  (`projects/<project>/secrets/<name>/versions/latest`); the step runtime reads that version
  into `<VAR>` before the action runs. The IR carries references only, never values.
"""

from __future__ import annotations

from mlopsc import ir
from mlopsc.targets.kfp_ir import Dialect
from mlopsc.targets.kfp_ir.resources import container_resources
from mlopsc.targets.kfp_ir.secrets import env_var, k8s_secret_name, secrets_for_step

from . import machines
from .settings import Settings, settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

SECRET_ENV_PREFIX = "MLOPSC_SECRET_"
# step kind -> `targets.vertex.machine_types` key
MACHINE_TYPE_KEYS = {"training": "training", "tuning": "training", "processing": "processing"}


def gcp_project(project: ir.Project) -> str:
    return settings(project).project


def secret_id(name: str) -> str:
    """Secret Manager secret id of `${secret:NAME}`: the Kubernetes Secret name, with `.` (which
    Secret Manager ids cannot hold: letters, digits, - and _) as `-`."""
    return k8s_secret_name(name).replace(".", "-")


def secret_version(project: ir.Project, name: str) -> str:
    """Secret Manager version resource of `${secret:NAME}`."""
    return f"projects/{gcp_project(project)}/secrets/{secret_id(name)}/versions/latest"


class VertexDialect(Dialect):
    two_documents = False
    settings_key = "vertex"
    target_name = "vertex"

    def settings(self, project: ir.Project) -> Settings:
        return settings(project)

    def accelerator_type(self, res: ir.Resources) -> str | None:
        return machines.accelerator(res)

    def platform_config(self, step: ir.Step, project: ir.Project) -> dict[str, Any]:
        return {}

    def step_resources(self, step: ir.Step, project: ir.Project) -> ir.Resources | None:
        """The step's resources, reshaped to `targets.vertex.machine_types` when one is set."""
        res = step.resources
        key = MACHINE_TYPE_KEYS.get(step.kind)
        override = self.settings(project).machine_types.get(key) if key else None
        if res is None or override not in machines.KNOWN:
            return res
        return machines.shaped_like(machines.KNOWN[override], res)

    def executor(self, step: ir.Step, project: ir.Project, image: str, pipeline: str) -> dict[str, Any]:
        spec = super().executor(step, project, image, pipeline)
        container = spec["container"]
        res = self.step_resources(step, project)
        if res is not None:
            container["resources"] = container_resources(res, self.accelerator_type(res))
        names = secrets_for_step(step, project)
        if names:
            container["env"] = [{"name": SECRET_ENV_PREFIX + env_var(n), "value": secret_version(project, n)}
                                for n in names]
        return spec
