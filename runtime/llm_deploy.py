"""Which local server process serves a registry version: an LLM spec's versions are fine-tuned
causal LMs, served by the OpenAI-compatible `llm_server` (which also answers `/predict`, so the
deploy's router, canary, rollback and smoke test treat them like tabular models); every other
spec's versions by the pyfunc model server."""

from __future__ import annotations

from pathlib import Path

from mlopsc import ir


def is_llm(project: ir.Project) -> bool:
    """The registered versions are fine-tuned LLMs (the train pipeline has a fine_tune step)."""
    return project.llm is not None and project.llm.fine_tune is not None


def server(project: ir.Project, spec_dir: Path, model: str, version: str, tracking_uri: str
           ) -> tuple[str, list[str]]:
    """(`localserve` kind, its arguments) for version `version` of `model`."""
    args = ["--model-uri", f"models:/{model}/{version}", "--version", version, "--tracking-uri", tracking_uri,
            "--name", model]
    if not is_llm(project):
        return "model", args
    from mlopsc.runtime.llm_text import prompt_files

    system = prompt_files(project.llm, spec_dir).get("system")
    return "llm", args + (["--system-prompt", str(system.resolve())] if system is not None else [])
