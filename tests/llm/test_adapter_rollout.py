"""Rollout between LLM versions through the tabular models' machinery (`local_rollout`, `router`,
`rollout`): the deploy step serves each registry version with the OpenAI-compatible server, a new
version is canaried behind the router (replayed eval cases on `/predict`, chat on `/v1/...`), a
version whose every answer fails is rolled back automatically on its error rate with all traffic
on the champion, and a sound version is promoted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
MODEL = "support-local"


def _full_weights(src: Path, out: Path) -> Path:
    shutil.copytree(src, out)
    (out / "mlopsc_llm.json").write_text(json.dumps({"base_model": str(out), "method": "full"}))
    return out


def _too_short_context(base: Path, out: Path) -> Path:
    """A version whose context (16 positions) is shorter than every prompt: each answer fails."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    tok = AutoTokenizer.from_pretrained(base)
    config = GPT2Config(vocab_size=len(tok), n_positions=16, n_embd=32, n_layer=1, n_head=2,
                        bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
    GPT2LMHeadModel(config).save_pretrained(out)
    tok.save_pretrained(out)
    (out / "mlopsc_llm.json").write_text(json.dumps({"base_model": str(out), "method": "full"}))
    return out


@pytest.fixture(scope="module")
def registry(support_example, tmp_path_factory):
    """Versions 1 (the base), 2 (broken) and 3 (the base again) of the example's model, registered
    without approval in a fresh work directory; a spec whose production has no approval gate."""
    import os

    from mlopsc.runtime.llm_model import log_llm
    from mlopsc.runtime.tracking import Tracker

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    root = tmp_path_factory.mktemp("rollout")
    base = support_example / "support_local" / "model"
    spec = support_example / "support-rollout.yaml"
    spec.write_text((support_example / "support-local.yaml").read_text()
                    .replace("  approval: {required_for: [production]}\n", ""))
    tracker = Tracker(root, experiment="rollout")
    dirs = [_full_weights(base, root / "v1"), _too_short_context(base, root / "v2"), _full_weights(base, root / "v3")]
    for d in dirs:
        with tracker.start_run():
            tracker.register(log_llm(d), MODEL)
    yield spec, root, tracker
    from mlopsc.runtime import localserve

    localserve.stop_environment(root, "production")


def _deploy(spec: Path, root: Path, version: str, lines: list[str]) -> dict:
    from mlopsc.api import load_project
    from mlopsc.runtime.steps import StepContext, run_step

    ctx = StepContext(project=load_project(str(spec)), spec_dir=spec.parent,
                      args={"environment": "production", "model": MODEL, "window": "10"},
                      inputs={"model_version": version}, outputs={"endpoint": str(root / f"endpoint-{version}")},
                      workdir=root, log=lines.append)
    return run_step("rollout", ctx)


def _ask(url: str, path: str, body: dict) -> tuple[int, dict, str]:
    from mlopsc.runtime.httpbase import Upstream

    status, raw, headers = Upstream(timeout=60).request("POST", url + path, json.dumps(body).encode(),
                                                        {"Content-Type": "application/json"})
    return status, json.loads(raw), {k.lower(): v for k, v in headers.items()}.get("x-mlopsc-variant", "")


def test_a_failing_version_is_rolled_back_and_a_sound_one_promoted(registry):
    from mlopsc.runtime.steps import StepFailed

    spec, root, tracker = registry
    lines: list[str] = []
    first = _deploy(spec, root, "1", lines)
    assert first["state"] == "deployed" and first["version"] == "1"
    url = first["endpoint"]
    status, chat, variant = _ask(url, "/v1/chat/completions",
                                 {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]})
    assert status == 200 and chat["object"] == "chat.completion" and variant == "champion"

    with pytest.raises(StepFailed) as failed:
        _deploy(spec, root, "2", lines)
    assert "rolled back automatically: error rate" in str(failed.value), str(failed.value)
    assert str(tracker.version_for_alias(MODEL, "production").version) == "1"
    assert tracker.client.get_model_version(MODEL, "2").tags["mlopsc.rollout.production"] == "rolled_back"
    record = json.loads((root / ".mlopsc" / "deployments" / "production.json").read_text())
    assert record["verification"]["champion"] == record["verification"]["requests"] > 0
    url = json.loads((root / ".mlopsc" / "serving" / "production.json").read_text())["endpoint"]  # the rollout's router
    status, answer, variant = _ask(url, "/predict", {"instances": [{"prompt": "Where is my invoice?"}]})
    assert status == 200 and answer["version"] == "1" and variant == "champion"

    promoted = _deploy(spec, root, "3", lines)
    assert promoted["state"] == "promoted"
    url = promoted["endpoint"]
    assert str(tracker.version_for_alias(MODEL, "production").version) == "3"
    assert str(tracker.version_for_alias(MODEL, "previous-production").version) == "1"
    status, answer, _ = _ask(url, "/predict", {"instances": [{"prompt": "Where is my invoice?"}]})
    assert status == 200 and answer["version"] == "3"
    assert any("challenger at 50% of traffic" in line for line in lines), lines
