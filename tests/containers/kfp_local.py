"""Running a compiled KFP IR file with kfp's own local runner, each task a container of the step
image (`kfp.local.DockerRunner`, host network: the containers reach the servers on 127.0.0.1).

Two gaps of kfp.local 2.17 are bridged here, each standing in for what the KFP backend does:
- the executor image is the run parameter placeholder `{{$.inputs.parameters['pipelinechannel--image']}}`,
  which the backend resolves from the run's `image` parameter and kfp.local does not resolve at all
  (it would try to pull the placeholder): the placeholder is replaced by that same parameter value;
- kfp.local's condition evaluator resolves `pipelinechannel--<task>-<output>` only for the output
  named `Output` (it splits on `-Output`/`--`), so a gate on a named output (`evaluate.passed`,
  exactly what `dsl.If(task.outputs['passed'] == True)` compiles to) is never true and both
  branches are skipped: the patch below resolves the channel to that task output, as the backend
  does from the condition task's input binding.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import yaml

IMAGE_PLACEHOLDER = "{{$.inputs.parameters['pipelinechannel--image']}}"


def ir_with_image(ir_text: str, image: str) -> str:
    """The IR with every executor's image placeholder resolved to `image`."""
    docs = list(yaml.safe_load_all(ir_text))
    spec = docs[0]
    for executor in spec["deploymentSpec"]["executors"].values():
        container = executor["container"]
        assert container["image"] == IMAGE_PLACEHOLDER, container["image"]
        container["image"] = image
    return yaml.safe_dump_all(docs, sort_keys=False)


@contextlib.contextmanager
def named_output_conditions() -> Iterator[None]:
    from kfp.local.orchestrator import enhanced_dag_orchestrator as orch

    evaluator = orch.ConditionEvaluator
    original = evaluator._resolve_pipeline_channel

    def resolve(channel_ref: str, io_store):
        value = original(channel_ref, io_store)
        if value is not None:
            return value
        ref = channel_ref.replace("pipelinechannel--", "")
        for i, ch in enumerate(ref):
            if ch == "-":
                with contextlib.suppress(Exception):
                    return io_store.get_task_output(ref[:i], ref[i + 1:])
        return None

    evaluator._resolve_pipeline_channel = staticmethod(resolve)
    try:
        yield
    finally:
        evaluator._resolve_pipeline_channel = staticmethod(original)


def run_pipeline(ir_file: Path, pipeline_root: Path, cache_root: Path, environment: dict[str, str],
                 arguments: dict[str, str]) -> None:
    """One run of the pipeline in `ir_file`; raises when a task fails."""
    from kfp import components, local

    local.init(runner=local.DockerRunner(network_mode="host", environment=environment),
               pipeline_root=str(pipeline_root), raise_on_error=True, enable_caching=True,
               cache_root=str(cache_root))
    with named_output_conditions():
        components.load_component_from_file(str(ir_file))(**arguments)


def run_dirs(pipeline_root: Path) -> list[Path]:
    """The run directories kfp.local wrote, oldest first."""
    return sorted((p for p in pipeline_root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.stat().st_mtime)
