"""The eval suite's scorers and gate (runtime/llm_eval.py): each scorer on answers whose score is
known, the judge through an OpenAI-compatible route, and a regression that names its scorer."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from mlopsc import ir
from mlopsc.runtime import llm_eval

CASE = {"prompt": "Where is my invoice?", "expected": "Invoices are in Billing under History.", "contains": "Billing"}


def test_exact_match_and_contains():
    assert llm_eval.exact_match(CASE, "  Invoices are in Billing under History.\n") == 1.0
    assert llm_eval.exact_match(CASE, "Invoices are in Billing.") == 0.0
    assert llm_eval.contains(CASE, "see billing") == 1.0
    assert llm_eval.contains(CASE, "see History") == 0.0
    assert llm_eval.contains({"expected": "History"}, "under history") == 1.0  # no `contains`: expected


def test_json_valid_applies_to_marked_cases_only():
    cases = [{"prompt": "a", "json": True}, {"prompt": "b"}]
    scores = llm_eval.score_answers(("json_valid",), cases, ['{"ok": 1}', "not json"])
    assert scores["json_valid"] == 1.0  # the unmarked case is not a JSON question
    scores = llm_eval.score_answers(("json_valid",), [{"prompt": "a"}, {"prompt": "b"}], ['{"ok": 1}', "no"])
    assert scores["json_valid"] == 0.5


def test_rouge_and_bleu_come_from_the_libraries():
    import sacrebleu
    from rouge_score import rouge_scorer

    answer = "Invoices are in Billing."
    expected_rouge = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(CASE["expected"], answer)
    assert llm_eval.rouge(CASE, answer) == pytest.approx(expected_rouge["rougeL"].fmeasure)
    assert 0 < llm_eval.rouge(CASE, answer) < 1 == llm_eval.rouge(CASE, CASE["expected"])
    assert llm_eval.bleu(CASE, CASE["expected"]) == pytest.approx(1.0)
    assert llm_eval.bleu(CASE, answer) == pytest.approx(sacrebleu.sentence_bleu(answer, [CASE["expected"]]).score / 100)
    assert llm_eval.bleu(CASE, "zzz") < 0.05


class _Judge(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append((self.path, body, self.headers.get("Authorization")))
        said = "0.75" if "Billing" in body["messages"][0]["content"] else "I cannot tell"
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": said}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture
def judge(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Judge)
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MLOPSC_GATEWAY_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("MLOPSC_GATEWAY_KEY", "sk-test")
    yield server
    server.shutdown()
    server.server_close()


def test_llm_judge_asks_the_judge_route(judge):
    assert llm_eval.llm_judge(CASE, "It is in Billing.") == 0.75
    assert llm_eval.llm_judge({"prompt": "x", "expected": "y"}, "z") == 0.0  # no number: 0
    path, body, auth = judge.seen[0]
    assert (path, body["model"], auth) == ("/v1/chat/completions", "judge", "Bearer sk-test")


def test_llm_judge_without_a_gateway_says_what_to_set(monkeypatch):
    monkeypatch.delenv("MLOPSC_GATEWAY_URL", raising=False)
    with pytest.raises(llm_eval.JudgeUnavailable, match="MLOPSC_GATEWAY_URL"):
        llm_eval.llm_judge(CASE, "a")


def _evals(**kw):
    suite = ir.EvalSuite(dataset="cases", scorers=("exact_match", "rouge"), min_score=0.5)
    return ir.Evals(dataset=None, thresholds=(), baseline="production",
                    max_regression=kw.get("max_regression", (("score", 0.02),)), slices=(), suite=suite)


def test_the_gate_names_the_scorer_that_regressed():
    champion = {"exact_match": 0.8, "rouge": 0.9, "score": 0.85}
    candidate = {"exact_match": 0.5, "rouge": 0.95, "score": 0.725}
    report = llm_eval.suite_gate(candidate, _evals(), champion)
    assert not report["passed"]
    assert [f.split(" ")[0] for f in report["failures"]] == ["score", "exact_match"]
    assert "exact_match 0.5 against baseline 0.8: regressed by 0.3" in report["failures"][1]


def test_the_gate_passes_a_candidate_within_the_allowance_and_without_a_champion():
    champion = {"exact_match": 0.8, "rouge": 0.9, "score": 0.85}
    candidate = {"exact_match": 0.79, "rouge": 0.9, "score": 0.845}
    assert llm_eval.suite_gate(candidate, _evals(), champion)["passed"]
    assert llm_eval.suite_gate(candidate, _evals(), None)["passed"]
    low = {"exact_match": 0.1, "rouge": 0.2, "score": 0.15}
    assert llm_eval.suite_gate(low, _evals(), None)["failures"] == ["score 0.15 is below the minimum 0.5"]
