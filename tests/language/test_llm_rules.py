"""The LLM rules (compiler/rules/llm.py): each reports at its line, and a valid spec is left alone."""

from mlopsc import api

HEAD = "apiVersion: mlopsc/v1\nname: t\n"
GATEWAY = """llm:
  base_model: m
  serving: {engine: vllm}
  gateway:
    routes:
      - {name: a, model: m, provider: self_hosted}
      - {name: b, model: n, provider: self_hosted}
      - {name: c, model: o, provider: self_hosted}
"""


def _problems(tmp_path, body: str) -> list[str]:
    spec = tmp_path / "mlops.yaml"
    spec.write_text(HEAD + body, encoding="utf-8")
    return [f"{d.line}:{d.col} {d.code} {d.message}" for d in api.validate(str(spec))]


def test_a_fallback_chain_that_ends_is_valid(tmp_path):
    assert _problems(tmp_path, GATEWAY + "    fallbacks: {a: [b], b: [c]}\n") == []


def test_a_three_route_cycle_is_found_at_each_fallback(tmp_path):
    found = _problems(tmp_path, GATEWAY + "    fallbacks: {a: [b], b: [c], c: [a]}\n")
    assert [p.split(" ")[1] for p in found] == ["E304", "E304", "E304"]
    assert found[0] == "11:21 E304 fallbacks form a cycle: `a` -> `b` -> ... -> `a`"


def test_lora_settings_apply_to_lora_and_qlora_only(tmp_path):
    body = "data: {datasets: {d: {uri: d.jsonl}}}\nllm:\n  base_model: m\n  fine_tune: {method: %s, dataset: d, lora: {r: 4}}\n"
    assert _problems(tmp_path, body % "qlora") == []
    assert _problems(tmp_path, body % "full") == [
        "6:41 E208 `lora` does not apply to `method: full` (every weight is trained)"]


def test_eval_schedule_needs_a_suite(tmp_path):
    body = ("data: {datasets: {d: {uri: d.jsonl}}}\n"
            "monitoring: {schedule: '@daily', evals: weekly}\n")
    assert [p.split(" ")[1] for p in _problems(tmp_path, body)] == ["E407"]
    suite = "evals: {suite: {dataset: d, scorers: [exact_match], min_score: 0.5}}\n"
    assert _problems(tmp_path, body + suite) == []
