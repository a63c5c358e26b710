"""Monitor-pipeline actions besides drift: monitor_infra, performance, llm_quality, eval_suite,
and the reactions: act (alert / retrain / rollback) and notify.

Every check writes `report` (JSON) and `violated` (boolean) like the drift step. Data for a
check comes from `--arg data=FILE` (what `mlopsc monitor --data` passes) or the spec; drift and
performance read captured traffic (`live_data`, `live_performance`).

Data files, the tracking store and alerts go through the step's platform (`platforms.current`):
today every platform reads local files, and delivers alerts as `platforms.alerts` describes
(Slack, email, PagerDuty, webhooks; a receiver that does not answer is reported, not fatal).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlopsc.runtime import platforms
from mlopsc.runtime.platforms import monitor_actions
from mlopsc.runtime.platforms.alerts import send_alerts  # noqa: F401 (its public name here, for callers)
from mlopsc.runtime.steps import StepContext, StepFailed, read_json, write_json


def _finish(ctx: StepContext, report: dict) -> dict:
    if "report" in ctx.outputs:
        write_json(ctx.output("report"), report)
    if "violated" in ctx.outputs:
        write_json(ctx.output("violated"), bool(report["violated"]))
    for c in report.get("checks", []):
        ctx.log(f"{'VIOLATED' if not c['passed'] else 'ok      '} {c['message']}")
    return {"violated": report["violated"]}


def _current_data(ctx: StepContext, fallback: str | None = None):
    storage = platforms.current(ctx).storage
    ref = ctx.args.get("data") or ctx.inputs.get("current")
    if ref:
        path = Path(ref) if Path(ref).is_absolute() else ctx.root / ref
    elif fallback:
        path = storage.resolve(fallback, ctx.spec_dir)
    else:
        raise StepFailed(f"{ctx.args.get('step', 'this check')}: no data to check: pass --data FILE")
    return storage.read_table(path)


# ---------------------------------------------------------------- infrastructure


def monitor_infra(ctx: StepContext) -> dict:
    """Error rate and p99 latency from the platform's metrics (`infra_checks`)."""
    from mlopsc.runtime.platforms.infra_checks import report

    return _finish(ctx, report(ctx))


# ---------------------------------------------------------------- model performance on fresh labels


def performance(ctx: StepContext) -> dict:
    """Metrics of the production model on fresh labels against the spec's thresholds.

    Labels that carry a `request_id` (delayed ground truth for served predictions) are joined
    to the captured predictions by request id (`live_performance`); a labelled batch without
    request ids (`--data FILE`, or such a file as `labels`) is predicted by the production model."""
    from mlopsc.runtime import evaluate as ev

    project, m = ctx.project, ctx.project.monitoring
    if m is None or m.performance is None or project.data is None or not project.data.label:
        raise StepFailed("the spec declares no performance monitoring with a label")
    label = project.data.label
    if ctx.args.get("data") or ctx.inputs.get("current"):
        df = _current_data(ctx)
    else:
        from mlopsc.runtime.live_performance import read_labels

        df = read_labels(ctx, m.performance.labels)
    if label not in df.columns:
        raise StepFailed(f"the data has no label column {label!r}: performance needs fresh labels")
    if "request_id" in df.columns and not ctx.args.get("data"):
        from mlopsc.runtime.live_performance import joined_metrics

        metrics, joined = joined_metrics(ctx, df, label)
        source = {"labels": len(df), "joined_predictions": joined}
    else:
        tracker = platforms.current(ctx).tracker(ctx)
        alias = ctx.args.get("environment", "production")
        if tracker.version_for_alias(project.registry.model, alias) is None:
            raise StepFailed(f"no model serves {alias}: nothing to measure")
        model = tracker.load_model(f"models:/{project.registry.model}@{alias}")
        metrics = ev.evaluate_model(model, df, label, latency_samples=0)
        source = {"labelled_rows": len(df)}
    gate = ev.gate(metrics, m.performance.thresholds)
    report = {"check": "performance", "metrics": gate["metrics"], "violated": not gate["passed"], **source,
              "checks": [{"passed": c["passed"], "message": c["message"]} for c in gate["checks"]]}
    return _finish(ctx, report)


# ---------------------------------------------------------------- LLM


def llm_quality(ctx: StepContext) -> dict:
    """Rates from logged production interactions (`--data` JSONL: `hallucination`, `refusal`,
    `tool_call_success` booleans per interaction; else the gateway's captures, see `llm_monitor`),
    against the spec's limits."""
    m = ctx.project.monitoring
    if m is None or m.llm is None:
        raise StepFailed("the spec declares no LLM quality monitoring")
    if ctx.args.get("data"):
        df = _current_data(ctx)
    else:  # the LiteLLM gateway's captured traffic, rated with the eval suite's scorers
        from mlopsc.runtime.llm_monitor import interactions_frame

        df = interactions_frame(ctx)
    checks = []
    for column, limit, worse in (("hallucination", m.llm.max_hallucination_rate, "max"),
                                 ("refusal", m.llm.max_refusal_rate, "max"),
                                 ("tool_call_success", m.llm.min_tool_call_success, "min")):
        if limit is None:
            continue
        if column not in df.columns:
            checks.append({"passed": False, "message": f"{column}: not in the logged interactions"})
            continue
        if df[column].dropna().empty:
            checks.append({"passed": True, "message": f"{column}: no interaction it applies to (not measured)"})
            continue
        rate = float(df[column].dropna().astype(bool).mean())
        ok = rate <= limit if worse == "max" else rate >= limit
        checks.append({"passed": ok, "message": f"{column} rate {rate:.4f} ({worse} {limit:g})"})
    return _finish(ctx, {"check": "llm_quality", "checks": checks,
                         "violated": any(not c["passed"] for c in checks)})


SCORERS = ("exact_match", "contains", "json_valid", "rouge", "bleu")  # the train gate's (llm_eval)


def eval_suite(ctx: StepContext) -> dict:
    """Score the eval cases (`input`, `expected`, and `output` — or answers from
    MLOPSC_LLM_ENDPOINT) with the suite's scorers; `llm_judge` needs MLOPSC_JUDGE_ENDPOINT."""
    project = ctx.project
    suite = project.evals.suite if project.evals else None
    if suite is None or project.data is None:
        raise StepFailed("the spec declares no eval suite")
    ds = project.data.dataset(ctx.args.get("dataset") or suite.dataset)
    df = _current_data(ctx, fallback=ds.uri if ds else None)
    cases = df.to_dict(orient="records")
    endpoint = os.environ.get("MLOPSC_LLM_ENDPOINT")
    unavailable = [s for s in suite.scorers if s not in SCORERS and not os.environ.get("MLOPSC_JUDGE_ENDPOINT")]
    if unavailable:
        raise StepFailed(f"eval suite scorer(s) {', '.join(unavailable)} need a judge model: set "
                         f"MLOPSC_JUDGE_ENDPOINT (spec line {suite.span})")
    scores = []
    for case in cases:
        output = case.get("output")
        if output is None:
            if not endpoint:
                raise StepFailed("eval cases have no `output` and MLOPSC_LLM_ENDPOINT is not set: nothing to score")
            output = _ask(endpoint, case.get("input"))
        scores.append(sum(_score(s, case, str(output)) for s in suite.scorers) / len(suite.scorers))
    score = sum(scores) / len(scores) if scores else 0.0
    checks = [{"passed": score >= suite.min_score, "message": f"eval suite score {score:.4f} (min {suite.min_score:g})"}]
    return _finish(ctx, {"check": "eval_suite", "score": score, "cases": len(cases), "checks": checks,
                         "violated": not checks[0]["passed"]})


def _score(scorer: str, case: dict, output: str) -> float:
    if scorer in SCORERS:
        from mlopsc.runtime import llm_eval

        return llm_eval.SCORERS[scorer](case, output)
    return float(_ask(os.environ["MLOPSC_JUDGE_ENDPOINT"], {"judge": scorer, "case": case, "output": output})
                 in ("1", "pass", "true", 1, True))


def _ask(url: str, payload: Any) -> Any:
    from mlopsc.runtime.httpbase import Upstream

    status, out = Upstream(timeout=60).post_json(url, {"instances": [payload]})
    if status != 200:
        raise StepFailed(f"{url} answered {status}: {str(out)[:200]}")
    return out["predictions"][0] if isinstance(out, dict) else out


# ---------------------------------------------------------------- reactions


def act(ctx: StepContext) -> dict:
    violated = sorted(k[: -len("_violated")] for k, v in ctx.inputs.items()
                      if k.endswith("_violated") and _truthy(v))
    actions = [a for a in ctx.args.get("on_violation", "").split(",") if a]
    channels = [c for c in ctx.args.get("alerts", "").split(",") if c]
    if not violated:
        ctx.log("no violations: nothing to do")
        return {"violated": [], "actions": []}
    project = ctx.project
    done = []
    text = f"{project.name}: monitoring violations: {', '.join(violated)}"
    if "alert" in actions:
        sent = platforms.current(ctx).send_alerts(channels, {"text": text, "violations": violated}, ctx.log)
        done.append({"action": "alert", "sent": sent})
    if "retrain" in actions:
        done.append(monitor_actions.retrain(ctx, violated))
    if "rollback" in actions:
        done.append(monitor_actions.rollback(ctx, ctx.args.get("environment", "production")))
    return {"violated": violated, "actions": done}


def _truthy(v: Any) -> bool:
    if isinstance(v, str):
        s = v.strip().strip('"').lower()
        if os.path.exists(v):
            return bool(read_json(Path(v)))
        return s in ("true", "1", "yes")
    return bool(v)


def notify(ctx: StepContext) -> dict:
    """The failure notification. Under KFP it is the exit handler and runs after every run, with
    the final status (`PipelineTaskFinalStatus` JSON) as `--input status=...`: nothing is sent
    when the state means success on this platform (`Platform.run_succeeded`: COMPLETE on the
    Kubeflow backend, SUCCEEDED on Vertex and kfp.local, Succeeded on SageMaker)."""
    channels = [c for c in ctx.args.get("channels", "").split(",") if c]
    pipeline = ctx.args.get("pipeline", "")
    raw = ctx.inputs.get("status", "")
    try:
        status = json.loads(raw) if raw else {}
    except ValueError:
        status = {"state": raw}
    state = status.get("state") if isinstance(status, dict) else None
    platform = platforms.current(ctx)
    if platform.run_succeeded(state):
        ctx.log(f"the {pipeline} pipeline succeeded; nothing to notify")
        return {"sent": []}
    error = (status.get("error") or {}).get("message") if isinstance(status, dict) else None
    text = f"{ctx.project.name}: the {pipeline} pipeline failed" + (f" ({state})" if state else "") + \
        (f": {error}" if error else "")
    message = {"text": text, "pipeline": pipeline, "status": status}
    return {"sent": platform.send_alerts(channels, message, ctx.log)}
