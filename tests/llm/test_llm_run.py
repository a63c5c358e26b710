"""`mlopsc run` of the LLM example end to end on CPU: LoRA fine-tune of the tiny offline model
that lowers the eval loss, the eval suite with its scorers, the gate, registration with lineage,
the registered adapter served over the OpenAI API, and a worse adapter that is not promoted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from mlopsc.runtime.runner import RunOptions, run

pytestmark = pytest.mark.slow
SCORERS = ["bleu", "contains", "exact_match", "json_valid", "rouge", "score"]


def _run(spec: Path, workdir: Path) -> tuple[int, str]:
    lines: list[str] = []
    rc = run(RunOptions(spec=str(spec), pipeline="train", workdir=str(workdir), out=lines.append, err=lines.append))
    return rc, "\n".join(lines)


@pytest.fixture(scope="module")
def trained(support_example):
    workdir = support_example / "work"
    rc, out = _run(support_example / "support-local.yaml", workdir)
    assert rc == 0, out
    return support_example, workdir, out


def _tracker(workdir: Path):
    from mlopsc.runtime.tracking import Tracker

    return Tracker(workdir, experiment="support-local")


def test_the_fine_tune_lowers_the_eval_loss_and_the_suite_gates(trained):
    _, workdir, out = trained
    runs = workdir / ".mlopsc" / "runs" / "train"
    metrics = json.loads((runs / "train" / "metrics").read_text())
    assert metrics["eval_loss"] < metrics["eval_loss_before"] - 0.5, metrics
    report = json.loads((runs / "evaluate" / "evaluation").read_text())
    assert sorted(report["metrics"]) == SCORERS and report["passed"] and report["cases"] == 6
    assert report["checks"][0]["metric"] == "score" and report["checks"][0]["rule"] == "min"
    assert "registered support-local version 1" in out


def test_the_registered_adapter_carries_its_lineage(trained):
    root, workdir, _ = trained
    version = _tracker(workdir).client.get_model_version("support-local", "1")
    system = (root / "support_local" / "prompts" / "system.md").read_bytes()
    assert version.tags["mlopsc.prompt.system"] == "sha256:" + hashlib.sha256(system).hexdigest()
    assert version.tags["mlopsc.base_model"] == "support_local/model"
    assert version.tags["mlopsc.base_model.hash"].startswith("sha256:")
    assert version.tags["mlopsc.data.tickets"].startswith("sha256:")
    assert version.tags["mlopsc.approval"] == "pending"


def test_the_registered_adapter_answers_over_the_openai_api(trained, tmp_path):
    from mlopsc.runtime.httpbase import Upstream
    from mlopsc.runtime.llm_model import CausalLM, download_llm
    from mlopsc.runtime.llm_server import LlmServer

    _, workdir, _ = trained
    tracker = _tracker(workdir)
    directory = download_llm("models:/support-local/1", tracker.tracking_uri, tmp_path)
    assert (directory / "adapter_config.json").is_file()
    client = Upstream(timeout=60)
    with LlmServer(CausalLM(directory), "support-local", system="You are the support assistant.") as server:
        status, _ = client.post_json(server.url + "/v1/models", {})
        assert status == 404  # GET only
        chat = {"model": "support-local", "messages": [{"role": "user", "content": "Where is my invoice?"}]}
        status, answer = client.post_json(server.url + "/v1/chat/completions", chat)
        assert status == 200 and answer["object"] == "chat.completion"
        text = answer["choices"][0]["message"]["content"]
        assert text and answer["usage"]["completion_tokens"] > 0
        status, again = client.post_json(server.url + "/v1/chat/completions", chat)
        assert again["choices"][0]["message"]["content"] == text  # greedy: the same answer
        status, completion = client.post_json(server.url + "/v1/completions",
                                              {"model": "support-local", "prompt": "Open Settings", "max_tokens": 5})
        assert status == 200 and completion["object"] == "text_completion"
        status, missing = client.post_json(server.url + "/v1/chat/completions", {**chat, "model": "gpt-4o"})
        assert status == 404 and missing["error"]["type"] == "model_not_found"
        status, listing, _ = client.request("GET", server.url + "/v1/models")
        assert json.loads(listing)["data"][0]["id"] == "support-local"


def test_a_worse_adapter_is_not_promoted_and_the_run_names_the_scorer(trained):
    root, workdir, _ = trained
    _tracker(workdir).set_alias("support-local", "production", "1")  # the champion
    spec = root / "support-local.yaml"
    worse = root / "support-worse.yaml"
    worse.write_text(spec.read_text().replace("learning_rate: 0.01", "learning_rate: 0.00001")
                     .replace("epochs: 8", "epochs: 1"))
    rc, out = _run(worse, workdir)
    assert rc != 0
    assert "regressed by" in out and "nothing was registered" in out
    failed = [line for line in out.splitlines() if "regressed by" in line]
    assert any(line.strip().split(" ")[0] in SCORERS for line in failed), failed
    versions = _tracker(workdir).client.search_model_versions("name='support-local'")
    assert [str(v.version) for v in versions] == ["1"]
