"""`monitoring.llm` from captured gateway traffic (`llm_capture`'s `.mlopsc/captures/<env>/llm-*.jsonl`):
one row per answered request, rated with the eval suite's own scorers.

- `hallucination`: the request's question is one of the eval cases (the suite's dataset) and the
  answer's suite score (the mean of the suite's reference scorers, as the train gate computes it)
  is below `evals.suite.min_score`. Questions outside the suite are not rated (no reference).
- `refusal`: the answer is empty or declines (`REFUSAL`).
- `tool_call_success`: for answers that call tools, every call names a function and its
  arguments are valid JSON (the suite's `json_valid` scorer). Answers without tool calls are not
  rated.

A rating that does not apply is None, so a rate is over the interactions it applies to.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mlopsc import ir
from mlopsc.runtime import llm_eval

CAPTURE_ENV = "MLOPSC_LLM_CAPTURE"  # the file the proxy's capture callback (llm_capture) appends to
PREFIX = "llm-"  # tabular captures in the same directory have other prefixes


def capture_path(workdir: Path, environment: str) -> Path:
    return Path(workdir) / ".mlopsc" / "captures" / environment / f"{PREFIX}gateway.jsonl"

REFUSAL = re.compile(r"\b(i can(?:no|')t|i am unable|i'm unable|i won't|i will not|i'm sorry|as an ai)\b", re.I)
REFERENCE_SCORERS = ("exact_match", "contains", "json_valid", "rouge", "bleu")  # llm_judge needs a live judge


def captured(root: Path, environment: str | None = None) -> list[dict]:
    """The answered requests captured for `environment` (every environment when None), in order."""
    base = Path(root) / ".mlopsc" / "captures"
    files = sorted(base.glob(f"{environment or '*'}/{PREFIX}*.jsonl"))
    lines = [json.loads(x) for f in files for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [x for x in lines if x.get("status") == "ok"]


def question(messages: list[dict]) -> str:
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    return content if isinstance(content, str) else json.dumps(content)


def hallucinated(suite: ir.EvalSuite | None, cases: dict[str, dict], ask: str, answer: str) -> bool | None:
    case = cases.get(ask.strip())
    if suite is None or case is None:
        return None
    scorers = tuple(s for s in suite.scorers if s in REFERENCE_SCORERS) or ("rouge",)
    return llm_eval.score_answers(scorers, [case], [answer])["score"] < (suite.min_score or 0.0)


def refused(answer: str | None) -> bool:
    return not (answer or "").strip() or bool(REFUSAL.search(answer or ""))


def tool_calls_ok(calls: list[Any]) -> bool | None:
    if not calls:
        return None
    for call in calls:
        fn = (call or {}).get("function") or {}
        if not fn.get("name") or not llm_eval.json_valid({}, str(fn.get("arguments") or "")):
            return False
    return True


def rate(interactions: list[dict], suite: ir.EvalSuite | None, cases: list[dict]) -> list[dict]:
    """Per interaction: question, answer and the three ratings (None: not rated)."""
    by_prompt = {str(c.get("prompt", "")).strip(): c for c in cases}
    rows = []
    for x in interactions:
        ask, answer = question(x.get("messages") or []), x.get("answer") or ""
        rows.append({"question": ask, "answer": answer, "cache_hit": x.get("cache_hit", False),
                     "hallucination": hallucinated(suite, by_prompt, ask, answer), "refusal": refused(answer),
                     "tool_call_success": tool_calls_ok(x.get("tool_calls") or [])})
    return rows


def interactions_frame(ctx: Any):
    """`llm_quality`'s table when no `--data` is given: the captured gateway traffic, rated."""
    import pandas as pd

    from mlopsc.runtime import platforms
    from mlopsc.runtime.llm_text import rows as records
    from mlopsc.runtime.steps import StepFailed

    project = ctx.project
    found = captured(ctx.root, ctx.args.get("environment"))
    if not found:
        raise StepFailed(f"no captured gateway traffic in {Path(ctx.root) / '.mlopsc' / 'captures'}/*/{PREFIX}*.jsonl "
                         "(the LiteLLM gateway of `mlopsc run` writes it); or pass --data FILE")
    suite = project.evals.suite if project.evals else None
    cases: list[dict] = []
    if suite is not None and suite.dataset and project.data is not None:
        frame = platforms.current(ctx).storage.read_dataset(project.data.dataset(suite.dataset), ctx.spec_dir)
        cases = records(frame)
    ctx.log(f"{len(found)} captured gateway answers; {len(cases)} eval cases to rate them against")
    return pd.DataFrame(rate(found, suite, cases), columns=["question", "answer", "cache_hit", "hallucination",
                                                            "refusal", "tool_call_success"])
