"""LLM monitoring's ratings of captured gateway answers, with the eval suite's scorers."""

from __future__ import annotations

import json

from mlopsc import ir
from mlopsc.runtime import llm_monitor

CASES = [{"prompt": "Where is my invoice?", "expected": "Invoices are in Billing under History.", "contains": "Billing"}]
SUITE = ir.EvalSuite(dataset="eval_cases", scorers=("contains", "rouge", "llm_judge"), min_score=0.5)


def _line(question: str, answer: str | None, tool_calls=None, status="ok") -> dict:
    return {"status": status, "messages": [{"role": "system", "content": "Be brief."},
                                           {"role": "user", "content": question}],
            "answer": answer, "tool_calls": tool_calls or [], "cache_hit": False}


def test_ratings_use_the_suite_scorers_refusals_and_tool_call_arguments():
    rows = llm_monitor.rate([
        _line("Where is my invoice?", "Invoices are in Billing under History."),
        _line("Where is my invoice?", "Open Settings and click Export data."),
        _line("What is the weather?", "I'm sorry, I cannot help with that."),
        _line("Refund me", "", [{"function": {"name": "refund", "arguments": '{"order": 7}'}}]),
        _line("Refund me", "ok", [{"function": {"name": "refund", "arguments": "{order: 7"}}]),
    ], SUITE, CASES)
    assert [r["hallucination"] for r in rows] == [False, True, None, None, None]  # only suite questions rated
    assert [r["refusal"] for r in rows] == [False, False, True, True, False]  # an empty answer refuses too
    assert [r["tool_call_success"] for r in rows] == [None, None, None, True, False]


def test_captured_reads_answered_requests_of_the_llm_prefix_only(tmp_path):
    d = tmp_path / ".mlopsc" / "captures" / "production"
    d.mkdir(parents=True)
    (d / "llm-gateway.jsonl").write_text("\n".join(json.dumps(x) for x in [
        _line("a", "b"), _line("c", None, status="error")]) + "\n")
    (d / "predictions-0.jsonl").write_text(json.dumps({"features": {"x": 1}}) + "\n")  # a tabular capture
    assert [x["answer"] for x in llm_monitor.captured(tmp_path)] == ["b"]
    assert llm_monitor.captured(tmp_path, "staging") == []
    assert llm_monitor.capture_path(tmp_path, "production") == d / "llm-gateway.jsonl"
