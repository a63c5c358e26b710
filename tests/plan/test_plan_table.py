"""Table-driven: a small mutation of an example spec -> the expected plan.

Each case edits the base fixture (`tests/plan/fixtures/`, a snapshot of specs/ so these line
numbers stay put) into a working version, and names every change expected: its path, what
happened, its consequence, and its line (in the working spec, or in the base for a removal).
"""

from __future__ import annotations

import pytest
from mlopsc.plan import build_plan
from plan_fixtures import fixture_text

RETRAIN = "retrain, re-evaluate"
FULL = "revalidate, retrain, re-evaluate"
EVAL = "re-evaluate only"
DEPLOY = "redeploy, no retraining"
MONITOR = "monitor only"
NO_RUN = "no run"

# (id, fixture, [(old text, new text)], [(path, op, consequence, line, side)], plan stages)
CASES = [
    ("hyperparameter", "churn.yaml", [("lr: 0.001", "lr: 0.003")],
     [("training.hyperparameters.lr", "changed", RETRAIN, 55, "new")], ["retrain", "re-evaluate"]),
    ("training-resources", "churn.yaml", [("memory: 16Gi", "memory: 32Gi")],
     [("training.resources.memory", "changed", RETRAIN, 56, "new")], ["retrain", "re-evaluate"]),
    ("sweep-trials", "churn.yaml", [("max_trials: 20", "max_trials: 40")],
     [("training.sweep.max_trials", "changed", RETRAIN, 63, "new")], ["retrain", "re-evaluate"]),
    ("data-check", "churn.yaml", [("min_rows: 10000", "min_rows: 20000")],
     [("data.datasets.customers.checks.min_rows", "changed", FULL, 30, "new")],
     ["revalidate", "retrain", "re-evaluate"]),
    ("data-version", "churn.yaml", [("version: dvc:data/customers.parquet.dvc", "version: dvc:data/customers-v2.parquet.dvc")],
     [("data.datasets.customers.version", "changed", FULL, 21, "new")], ["revalidate", "retrain", "re-evaluate"]),
    ("data-column-added", "churn.yaml",
     [("        churned: {type: boolean}\n", "        churned: {type: boolean}\n        region: {type: string}\n")],
     [("data.datasets.customers.schema.region", "added", FULL, 29, "new")], ["revalidate", "retrain", "re-evaluate"]),
    ("feature-ttl", "churn.yaml", [("ttl: 30d", "ttl: 7d")],
     [("features.views.customer_activity.ttl", "changed", FULL, 46, "new")], ["revalidate", "retrain", "re-evaluate"]),
    ("eval-threshold", "churn.yaml", [("auc: {min: 0.85}", "auc: {min: 0.88}")],
     [("evals.metrics.auc.min", "changed", EVAL, 77, "new")], ["re-evaluate"]),
    ("eval-slices-removed", "churn.yaml", [("  slices: [plan]\n", "")],
     [("evals.slices", "removed", EVAL, 82, "base")], ["re-evaluate"]),
    ("canary-steps", "churn.yaml", [("steps: [5, 25, 50, 100]", "steps: [10, 50, 100]")],
     [("deployment.environments.production.strategy.steps", "changed", DEPLOY, 103, "new")], ["redeploy"]),
    ("approval", "churn.yaml", [("required_for: [production]", "required_for: [staging, production]")],
     [("registry.approval.required_for", "changed", DEPLOY, 87, "new")], ["redeploy"]),
    ("drift-threshold", "churn.yaml", [("threshold: 0.2", "threshold: 0.25")],
     [("monitoring.drift.threshold", "changed", MONITOR, 115, "new")], ["monitor"]),
    ("description", "churn.yaml", [("Predicts 30-day churn", "Predicts 60-day churn")],
     [("description", "changed", NO_RUN, 5, "new")], []),
    ("labels", "churn.yaml", [("labels: {team: growth, cost_center: cc-1234}", "labels: {team: retention, cost_center: cc-1234}")],
     [("labels.team", "changed", NO_RUN, 7, "new")], []),
    ("owner-removed", "churn.yaml", [("owner: growth-ml@acme.example\n", "")],
     [("owner", "removed", NO_RUN, 6, "base")], []),
    ("cost", "churn.yaml", [("budget_monthly_usd: 8000", "budget_monthly_usd: 9500")],
     [("cost.budget_monthly_usd", "changed", NO_RUN, 132, "new")], []),
    ("target-setting", "churn.yaml", [("    region: us-east-1\n", "    region: eu-west-1\n")],
     [("targets.sagemaker.region", "changed", "no run; regenerate `sagemaker` only", 137, "new")], []),
    ("image", "churn.yaml", [("base: python:3.11-slim", "base: python:3.12-slim")],
     [("image.base", "changed", "rebuild-image, revalidate, retrain, re-evaluate", 10, "new")],
     ["rebuild-image", "revalidate", "retrain", "re-evaluate"]),
    ("trigger", "churn.yaml", [('schedule: "0 3 * * 0"', 'schedule: "0 4 * * 0"')],
     [("triggers.schedule", "changed", NO_RUN, 129, "new")], []),
    ("comment-only", "churn.yaml", [("# module:function, or a script", "# a function or a script")], [], []),
    ("two-areas", "churn.yaml", [("lr: 0.001", "lr: 0.002"), ("on_violation: [alert, retrain]", "on_violation: [alert]")],
     [("training.hyperparameters.lr", "changed", RETRAIN, 55, "new"),
      ("monitoring.on_violation", "changed", MONITOR, 120, "new")], ["retrain", "re-evaluate", "monitor"]),
    # the LLM spec
    ("prompt", "support.yaml", [("system: prompts/system.md", "system: prompts/system-v2.md")],
     [("llm.prompts.system", "changed", "re-evaluate, redeploy, no retraining", 24, "new")], ["re-evaluate", "redeploy"]),
    ("fine-tune-epochs", "support.yaml", [("epochs: 3", "epochs: 2")],
     [("llm.fine_tune.epochs", "changed", RETRAIN, 31, "new")], ["retrain", "re-evaluate"]),
    ("fine-tune-data", "support.yaml", [("dataset: tickets", "dataset: eval_cases")],
     [("llm.fine_tune.dataset", "changed", FULL, 29, "new")], ["revalidate", "retrain", "re-evaluate"]),
    ("route-model", "support.yaml", [("model: gpt-4o-mini", "model: gpt-4.1-mini")],
     [("llm.gateway.routes[1].model", "changed", DEPLOY, 44, "new")], ["redeploy"]),
    ("route-removed", "support.yaml",
     [('      - {name: fallback, model: gpt-4o-mini, provider: openai, api_key: "${secret:openai_api_key}"}\n', ""),
      ("    fallbacks: {default: [fallback]}\n", "")],
     [("llm.gateway.routes[1]", "removed", DEPLOY, 44, "base"),
      ("llm.gateway.fallbacks", "removed", DEPLOY, 45, "base")], ["redeploy"]),
    ("serving", "support.yaml", [("max_model_len: 8192", "max_model_len: 16384")],
     [("llm.serving.max_model_len", "changed", DEPLOY, 36, "new")], ["redeploy"]),
    ("suite-score", "support.yaml", [("min_score: 0.9", "min_score: 0.92")],
     [("evals.suite.min_score", "changed", EVAL, 53, "new")], ["re-evaluate"]),
    ("monitor-evals", "support.yaml", [("evals: daily", "evals: weekly")],
     [("monitoring.evals", "changed", MONITOR, 77, "new")], ["monitor"]),
    ("shadow-to-canary", "support.yaml",
     [("strategy: {type: shadow, sample: 0.1, duration: 24h}", "strategy: {type: canary, steps: [10, 100]}")],
     [("deployment.environments.production.strategy.type", "changed", DEPLOY, 66, "new"),
      ("deployment.environments.production.strategy.steps", "added", DEPLOY, 66, "new"),
      ("deployment.environments.production.strategy.sample", "removed", DEPLOY, 66, "base"),
      ("deployment.environments.production.strategy.duration", "removed", DEPLOY, 66, "base")], ["redeploy"]),
    ("target-removed", "support.yaml",
     [("  vertex: {project: acme-ml, region: us-central1, pipeline_root: gs://acme-llm/pipelines}\n", "")],
     [("targets.vertex", "removed", "no run; regenerate `vertex` only", 89, "base")], []),
    ("cost-added", "support.yaml", [("  budget_monthly_usd: 12000\n", "  budget_monthly_usd: 12000\n  alert_at: 0.5\n")],
     [("cost.alert_at", "added", NO_RUN, 85, "new")], []),
]


def _mutate(text: str, edits: list[tuple[str, str]]) -> str:
    for old, new in edits:
        assert text.count(old) == 1, f"edit target {old!r} must occur exactly once"
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize("case_id, fixture, edits, expected, stages", CASES, ids=[c[0] for c in CASES])
def test_plan_of_mutation(case_id, fixture, edits, expected, stages):
    assert len(CASES) >= 15
    base = fixture_text(fixture)
    new = _mutate(base, edits)
    plan = build_plan(new.encode(), f"specs/{fixture}", base.encode(), f"specs/{fixture}@base", "base", [])
    got = [(c.path, c.raw.op, c.consequence.summary, c.raw.line, c.raw.side) for c in plan.changes]
    assert got == expected
    assert plan.stages == stages
    for c in plan.changes:  # removed keys point into the base file, the rest into the working one
        assert c.raw.file == (f"specs/{fixture}@base" if c.raw.side == "base" else f"specs/{fixture}")


def test_columns_point_at_the_value():
    base = fixture_text("churn.yaml")
    new = _mutate(base, [("lr: 0.001", "lr: 0.003"), ("    region: us-east-1\n", "    region: eu-west-1\n")])
    plan = build_plan(new.encode(), "specs/churn.yaml", base.encode(), "b", "base", [])
    assert [c.where() for c in plan.changes] == ["specs/churn.yaml:55:25", "specs/churn.yaml:137:13"]


def test_added_section_is_one_change():
    base = fixture_text("churn.yaml")
    cut = base.index("monitoring:")
    end = base.index("triggers:")
    old = base[:cut] + base[end:]
    plan = build_plan(base.encode(), "specs/churn.yaml", old.encode(), "b", "base", [])
    assert [(c.path, c.raw.op, c.raw.line, c.consequence.summary) for c in plan.changes] == [
        ("monitoring", "added", 109, MONITOR)]


def test_reordered_routes_are_one_change():
    base = fixture_text("support.yaml")
    lines = base.splitlines(keepends=True)
    lines[42], lines[43] = lines[43], lines[42]  # swap the two routes
    plan = build_plan("".join(lines).encode(), "s.yaml", base.encode(), "b", "base", [])
    assert [(c.path, c.raw.old, c.raw.new) for c in plan.changes] == [
        ("llm.gateway.routes", ["default", "fallback"], ["fallback", "default"])]


def test_missing_base_means_everything_is_new():
    plan = build_plan(fixture_text("churn.yaml").encode(), "specs/churn.yaml", None, "b", "main", [])
    assert not plan.base_exists
    assert [c.raw.op for c in plan.changes] == ["added"] * len(plan.changes)
    assert plan.changes[0].path == "apiVersion"
    assert "revalidate" in plan.stages and "redeploy" in plan.stages


def test_generated_files_that_change(fake_targets):
    base = fixture_text("churn.yaml")
    new = _mutate(base, [("threshold: 0.2", "threshold: 0.3")])
    plan = build_plan(new.encode(), "specs/churn.yaml", base.encode(), "b", "base", fake_targets)
    (fake,) = plan.targets
    assert fake.changed == ["manifest.json", "monitor.json"]
    assert fake.added == fake.removed == []
    assert '-    "threshold": 0.2\n+    "threshold": 0.3\n' in fake.diffs["monitor.json"]
    assert "manifest.json" not in fake.diffs  # hashes only: listed, not diffed


def test_target_setting_changes_only_that_targets_files(fake_targets):
    base = fixture_text("churn.yaml")
    new = _mutate(base, [("tracking_uri: sqlite:///.mlopsc/mlflow.db", "tracking_uri: sqlite:///x.db")])
    plan = build_plan(new.encode(), "specs/churn.yaml", base.encode(), "b", "base", fake_targets)
    assert plan.targets[0].changed == ["manifest.json", "settings.json"]
    assert plan.regenerate_only == ["local"]


def test_diffs_are_bounded(fake_targets):
    base = fixture_text("churn.yaml")
    new = _mutate(base, [("steps: [5, 25, 50, 100]", "steps: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30, 40, 100]")])
    plan = build_plan(new.encode(), "specs/churn.yaml", base.encode(), "b", "base", fake_targets, max_diff_lines=6)
    text = plan.targets[0].diffs["deploy.json"]
    assert len(text.splitlines()) == 7 and text.splitlines()[-1].startswith("... ")


def test_plan_with_every_registered_target():
    """Whatever targets exist now: the plan lists exactly the files whose compiled text differs."""
    from mlopsc import targets
    from mlopsc.loader import load_bytes
    from mlopsc.plan.outputs import compile_doc

    names = targets.names()
    base = fixture_text("churn.yaml")
    new = _mutate(base, [("lr: 0.001", "lr: 0.003")])
    plan = build_plan(new.encode(), "specs/churn.yaml", base.encode(), "b", "base", names)
    assert [t.target for t in plan.targets] == names
    before = compile_doc(load_bytes(base.encode(), "specs/churn.yaml"), names)
    after = compile_doc(load_bytes(new.encode(), "specs/churn.yaml"), names)
    for td in plan.targets:
        if td.errors:
            continue
        old, cur = before[td.target][0], after[td.target][0]
        assert td.files == sorted(p for p in set(old) | set(cur) if old.get(p) != cur.get(p))
