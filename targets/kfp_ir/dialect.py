"""The choices a KFP-based target makes; Kubeflow uses `Dialect` as is, Vertex subclasses it."""

from __future__ import annotations

from mlopsc import __version__, ir
from mlopsc.contract import step_argv
from mlopsc.targets.base import spec_ref

from . import placeholders as ph
from .platform import kubernetes_executor_config
from .resources import GPU_RESOURCE, container_resources

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see ir_node)
if TYPE_CHECKING:
    from typing import Any

STATUS_INPUT = "status"  # the exit task's TASK_FINAL_STATUS input


class Dialect:
    # The KFP API server accepts only 2.1.0; the Vertex client accepts it too.
    schema_version = "2.1.0"
    # Informational only (read by neither backend nor UI); pinned so output is a function of mlopsc.
    sdk_version = f"mlopsc-{__version__}"
    # Write the kfp-kubernetes PlatformSpec as a second YAML document (Vertex rejects two documents).
    two_documents = True
    # The container image comes from this pipeline parameter, in the shape kfp 2.17's
    # `task.set_container_image(param)` writes (KFP backend >= 2.4, kubeflow/pipelines#11404).
    # None: every step uses the parameter's default image, fixed at compile time.
    image_param: str | None = "image"
    # Settings key under `targets:` in the spec.
    settings_key = "kubeflow"
    # The runtime platform the steps run on (`--target` of the step contract).
    target_name = "kubeflow"
    retry_backoff = ("30s", 2.0, "3600s")

    def settings(self, project: ir.Project) -> Any:
        """The typed `targets.<settings_key>` settings (Kubeflow's here; Vertex overrides it)."""
        from mlopsc.targets.kubeflow.settings import settings

        return settings(project)

    def default_image(self, project: ir.Project) -> str:
        return f"{project.image.repository or project.name}:latest"

    def accelerator_type(self, res: ir.Resources) -> str | None:
        return GPU_RESOURCE

    def resources(self, res: ir.Resources) -> dict[str, Any]:
        return container_resources(res, self.accelerator_type(res))

    def retry_policy(self, retries: int) -> dict[str, Any]:
        duration, factor, max_duration = self.retry_backoff
        return {"backoffDuration": duration, "backoffFactor": factor,
                "backoffMaxDuration": max_duration, "maxRetryCount": retries}

    def platform_config(self, step: ir.Step, project: ir.Project) -> dict[str, Any]:
        """kfp-kubernetes `KubernetesExecutorConfig` for one step ({} when none is needed)."""
        return kubernetes_executor_config(step, project, self.settings(project))

    def command(self, step: ir.Step, project: ir.Project, pipeline: str) -> list[str]:
        """`mlopsc step ...` with KFP placeholders; the step also writes KFP's ExecutorOutput
        (artifact URIs and metadata) to `--executor-output`, which kfp.local needs."""
        status = ((STATUS_INPUT, ph.input_parameter(STATUS_INPUT)),) if step.kind == "notify" else ()
        return step_argv(step, spec=spec_ref(project), target=self.target_name, pipeline=pipeline,
                         input_ref=ph.input_ref, output_ref=ph.output_ref, extra_inputs=status,
                         executor_output=ph.OUTPUT_FILE)

    def executor(self, step: ir.Step, project: ir.Project, image: str, pipeline: str) -> dict[str, Any]:
        argv = self.command(step, project, pipeline)
        container: dict[str, Any] = {"args": argv[3:], "command": argv[:3], "image": image}
        if step.resources is not None:
            container["resources"] = self.resources(step.resources)
        return {"container": container}
