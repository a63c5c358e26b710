"""The LLM eval suite as the train pipeline's gate: each case answered by the candidate (and by
the champion, when there is one), scored by the suite's scorers, gated by `min_score` and compared
with the champion scorer by scorer.

Scorers, each 0..1 per case and averaged over the cases it applies to:
- `exact_match`: the answer equals `expected` (surrounding whitespace ignored);
- `contains`: the answer contains the case's `contains` (else `expected`), case-insensitive;
- `json_valid`: the answer parses as JSON (cases marked `json: true`; every case when none is);
- `rouge`: ROUGE-L F1 against `expected` (Google's rouge-score);
- `bleu`: sentence BLEU against `expected` (sacrebleu), divided by 100;
- `llm_judge`: the gateway's judge route (OpenAI chat completions at `MLOPSC_GATEWAY_URL`, route
  `judge`, else `MLOPSC_JUDGE_MODEL`) rates the answer against `expected` from 0 to 1.

`score` is the mean of the scorers. The gate: `score >= min_score`, and, against the champion,
no scorer (and not `score`) worse by more than `max_regression` allows (`score`'s allowance,
unless the scorer has its own), so the report names the scorer that regressed.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from mlopsc import ir

JUDGE_ROUTE = "judge"
JUDGE_PROMPT = ("Rate how well the answer matches the expected answer, from 0 (wrong) to 1 (same meaning). "
                "Reply with the number only.\nQuestion: {prompt}\nExpected: {expected}\nAnswer: {answer}")


def exact_match(case: dict, answer: str) -> float:
    return float(answer.strip() == str(case.get("expected", "")).strip())


def contains(case: dict, answer: str) -> float:
    needle = str(case.get("contains") or case.get("expected") or "")
    return float(bool(needle) and needle.lower() in answer.lower())


def json_valid(case: dict, answer: str) -> float:
    try:
        json.loads(answer)
        return 1.0
    except ValueError:
        return 0.0


def rouge(case: dict, answer: str) -> float:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return float(scorer.score(str(case.get("expected", "")), answer)["rougeL"].fmeasure)


def bleu(case: dict, answer: str) -> float:
    import sacrebleu

    return float(sacrebleu.sentence_bleu(answer, [str(case.get("expected", ""))]).score) / 100.0


def llm_judge(case: dict, answer: str) -> float:
    """The judge route's number from 0 to 1 (anything else it says scores 0)."""
    from mlopsc.runtime.httpbase import Upstream

    base = os.environ.get("MLOPSC_GATEWAY_URL")
    if not base:
        raise JudgeUnavailable("llm_judge asks the gateway's judge route: set MLOPSC_GATEWAY_URL "
                               "(the LiteLLM proxy, or any OpenAI-compatible server)")
    body = {"model": os.environ.get("MLOPSC_JUDGE_MODEL", JUDGE_ROUTE), "temperature": 0,
            "messages": [{"role": "user", "content": JUDGE_PROMPT.format(
                prompt=case.get("prompt", ""), expected=case.get("expected", ""), answer=answer)}]}
    key = os.environ.get("MLOPSC_GATEWAY_KEY")
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    status, raw, _ = Upstream(timeout=120).request("POST", base.rstrip("/") + "/v1/chat/completions",
                                                   json.dumps(body).encode(), headers)
    out = json.loads(raw or b"null") if status == 200 else raw
    if status != 200:
        raise JudgeUnavailable(f"the judge route answered HTTP {status}: {str(out)[:200]}")
    said = out["choices"][0]["message"]["content"]
    found = re.search(r"\d+(?:\.\d+)?", said or "")
    return min(1.0, max(0.0, float(found.group()))) if found else 0.0


class JudgeUnavailable(RuntimeError):
    pass


SCORERS = {"exact_match": exact_match, "contains": contains, "json_valid": json_valid, "rouge": rouge,
           "bleu": bleu, "llm_judge": llm_judge}


def applies(scorer: str, case: dict, cases: list[dict]) -> bool:
    if scorer == "json_valid" and any("json" in c for c in cases):
        return bool(case.get("json"))
    return True


def score_answers(scorers: tuple[str, ...], cases: list[dict], answers: list[str]) -> dict[str, float]:
    """Each scorer's mean over the cases it applies to, and `score`, the mean of the scorers."""
    out: dict[str, float] = {}
    for name in scorers:
        values = [SCORERS[name](c, a) for c, a in zip(cases, answers) if applies(name, c, cases)]
        out[name] = sum(values) / len(values) if values else 0.0
    out["score"] = sum(out[s] for s in scorers) / len(scorers)
    return out


def suite_gate(metrics: dict[str, float], evals: ir.Evals, baseline: dict[str, float] | None) -> dict:
    """The evaluation report of a suite: `score` against `min_score`, every scorer against the champion."""
    from mlopsc.runtime.evaluate import gate

    suite = evals.suite
    allowed = dict(evals.max_regression)
    default = allowed.get("score", 0.0)
    regression = tuple((m, allowed.get(m, default)) for m in ("score", *suite.scorers))
    threshold = ir.Threshold(metric="score", min=suite.min_score, max=None)
    return gate(metrics, (threshold,), baseline=baseline, max_regression=regression)


# ---------------------------------------------------------------- the evaluate step


def evaluate_suite(ctx: Any) -> dict:
    """`evaluate` for an LLM: the candidate's and the champion's answers to the suite, scored, gated."""
    from mlopsc.runtime import evaluate as ev
    from mlopsc.runtime.llm_text import chat_prompt, rows, system_prompt
    from mlopsc.runtime.steps import StepFailed, read_frames, read_model_ref, step_tracker, write_json

    project, evals = ctx.project, ctx.project.evals
    frames, _ = read_frames(ctx.input_path("data"))
    if evals.suite.dataset not in frames:
        raise StepFailed(f"{evals.suite.span}: eval dataset `{evals.suite.dataset}` was not among the validated data")
    cases = rows(frames[evals.suite.dataset])
    system = system_prompt(project.llm, ctx.spec_dir)
    prompts = [chat_prompt(system, [{"role": "user", "content": str(c.get("prompt", ""))}]) for c in cases]
    tracker = step_tracker(ctx)
    ref = read_model_ref(ctx.input_path("model"))
    try:
        metrics = score_answers(evals.suite.scorers, cases, answers(tracker, ref["model_uri"], prompts))
        baseline = champion_scores(ctx, tracker, evals, cases, prompts)
    except JudgeUnavailable as e:
        raise StepFailed(f"{evals.suite.span}: {e}") from None
    report = suite_gate(metrics, evals, baseline)
    report.update(dataset=evals.suite.dataset, model_uri=ref["model_uri"], cases=len(cases))
    ev.write_evaluation(report, ctx.output("evaluation"))
    if "passed" in ctx.outputs:
        write_json(ctx.output("passed"), report["passed"])
    for c in report["checks"]:
        ctx.log(("ok   " if c["passed"] else "FAIL ") + c["message"])
    return {"passed": report["passed"], "failures": report["failures"]}


def answers(tracker: Any, model_uri: str, prompts: list[str]) -> list[str]:
    import pandas as pd

    model = tracker.load_model(model_uri)
    return [str(a) for a in model.predict(pd.DataFrame({"prompt": prompts}))]


def champion_scores(ctx: Any, tracker: Any, evals: ir.Evals, cases: list[dict], prompts: list[str]
                    ) -> dict[str, float] | None:
    """The champion's (the baseline alias's) scores on the same cases, or None without one."""
    name = ctx.project.registry.model
    if not evals.baseline or tracker.version_for_alias(name, evals.baseline) is None:
        return None
    return score_answers(evals.suite.scorers, cases, answers(tracker, f"models:/{name}@{evals.baseline}", prompts))
