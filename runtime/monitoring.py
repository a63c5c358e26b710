"""Monitor-pipeline actions besides drift: monitor_infra, performance, llm_quality, eval_suite,
and the reactions: act (alert / retrain / rollback) and notify.

Every check writes `report` (JSON) and `violated` (boolean) like the drift step. Data for a
check comes from `--arg data=FILE` (what `mlopsc monitor --data` passes) or the spec.

Data files, the tracking store and alerts go through the step's platform (`platforms.current`):
today every platform reads local files, and sends alerts as `platforms.alerts` describes
(`webhook:<url>` channels get an HTTP POST of the JSON message; `slack:`, `email:` and other
channels are printed).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlopsc.runtime import localserve, platforms
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
    """Read every running local server's /metrics; check error rate and p99 latency."""
    from mlopsc.runtime.httpbase import Upstream
    from mlopsc.runtime.serving import parse_prometheus

    max_err = float(ctx.args["max_error_rate"]) if ctx.args.get("max_error_rate") else None
    max_p99 = float(ctx.args["max_p99_latency_ms"]) if ctx.args.get("max_p99_latency_ms") else None
    checks, servers = [], []
    client = Upstream(timeout=5)
    for env in localserve.environments(ctx.root):
        state = localserve.read_state(ctx.root, env) or {}
        for p in state.get("processes", []):
            if p.get("role") == "router" or not localserve.alive(p.get("pid")):
                continue
            try:
                status, body = client.get(p["url"] + "/metrics")
            except OSError:
                continue
            if status != 200:
                continue
            m = parse_prometheus(body.decode())
            requests = sum(v for k, v in m.items() if k.startswith("mlopsc_requests_total") and 'path="/predict"' in k)
            errors = sum(v for k, v in m.items() if k.startswith("mlopsc_errors_total") and 'kind="model"' in k)
            p99 = _histogram_quantile(m, 0.99)
            servers.append({"environment": env, "url": p["url"], "version": p.get("version"),
                            "requests": requests, "errors": errors, "p99_ms": p99})
            name = f"{env} v{p.get('version')}"
            if max_err is not None and requests:
                rate = errors / requests
                checks.append({"passed": rate <= max_err,
                               "message": f"{name}: error rate {rate:.4f} (max {max_err:g}, {requests:.0f} requests)"})
            if max_p99 is not None and p99 is not None:
                checks.append({"passed": p99 <= max_p99,
                               "message": f"{name}: p99 latency <= {p99:g} ms (max {max_p99:g})"})
    if not servers:
        ctx.log("no running model servers to check (start them with `mlopsc run --serve` or `mlopsc serve`)")
    report = {"check": "infrastructure", "servers": servers, "checks": checks,
              "violated": any(not c["passed"] for c in checks), "skipped": not servers}
    return _finish(ctx, report)


def _histogram_quantile(m: dict[str, float], q: float) -> float | None:
    """Upper bound (ms) of the histogram bucket holding quantile q, or None without samples."""
    buckets = []
    for key, value in m.items():
        if key.startswith("mlopsc_request_duration_seconds_bucket"):
            le = key.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), value))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    if not total:
        return None
    for bound, count in buckets:
        if count >= q * total:
            return bound * 1000
    return None


# ---------------------------------------------------------------- model performance on fresh labels


def performance(ctx: StepContext) -> dict:
    """Metrics of the production model on labelled fresh data against the spec's thresholds."""
    from mlopsc.runtime import evaluate as ev

    project, m = ctx.project, ctx.project.monitoring
    if m is None or m.performance is None or project.data is None or not project.data.label:
        raise StepFailed("the spec declares no performance monitoring with a label")
    df = _current_data(ctx, fallback=None if "://" in m.performance.labels else m.performance.labels)
    label = project.data.label
    if label not in df.columns:
        raise StepFailed(f"the data has no label column {label!r}: performance needs fresh labels")
    tracker = platforms.current(ctx).tracker(ctx)
    alias = ctx.args.get("environment", "production")
    if tracker.version_for_alias(project.registry.model, alias) is None:
        raise StepFailed(f"no model serves {alias}: nothing to measure")
    model = tracker.load_model(f"models:/{project.registry.model}@{alias}")
    metrics = ev.evaluate_model(model, df, label, latency_samples=0)
    gate = ev.gate(metrics, m.performance.thresholds)
    report = {"check": "performance", "metrics": gate["metrics"], "violated": not gate["passed"],
              "checks": [{"passed": c["passed"], "message": c["message"]} for c in gate["checks"]]}
    return _finish(ctx, report)


# ---------------------------------------------------------------- LLM


def llm_quality(ctx: StepContext) -> dict:
    """Rates from logged production interactions (JSONL: `hallucination`, `refusal`,
    `tool_call_success` booleans per interaction), against the spec's limits."""
    m = ctx.project.monitoring
    if m is None or m.llm is None:
        raise StepFailed("the spec declares no LLM quality monitoring")
    if not ctx.args.get("data"):
        raise StepFailed("llm quality needs logged interactions: pass --data FILE (JSONL with hallucination, "
                         "refusal and tool_call_success per interaction)")
    df = _current_data(ctx)
    checks = []
    for column, limit, worse in (("hallucination", m.llm.max_hallucination_rate, "max"),
                                 ("refusal", m.llm.max_refusal_rate, "max"),
                                 ("tool_call_success", m.llm.min_tool_call_success, "min")):
        if limit is None:
            continue
        if column not in df.columns:
            checks.append({"passed": False, "message": f"{column}: not in the logged interactions"})
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
        trigger = ctx.root / ".mlopsc" / "triggers" / "retrain.json"
        write_json(trigger, {"reason": violated})
        ctx.log(f"retrain requested ({trigger}); run `mlopsc run {project.spec_path} --pipeline train`")
        done.append({"action": "retrain", "trigger": str(trigger)})
    if "rollback" in actions:
        tracker = platforms.current(ctx).tracker(ctx)
        model = project.registry.model
        prev = tracker.version_for_alias(model, "previous-production")
        if prev is None:
            ctx.log("rollback requested, but production has no previous version to return to")
            done.append({"action": "rollback", "done": False})
        else:
            tracker.set_alias(model, "production", str(prev.version))
            ctx.log(f"rolled production back to version {prev.version} (registry alias)")
            done.append({"action": "rollback", "done": True, "version": str(prev.version)})
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
