"""The IR: defaults applied (and equal to the schema's documented defaults), units resolved, spans kept."""

import dataclasses
import os

import pytest
from mlopsc import api, ir
from mlopsc.schema import schema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def churn():
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return api.load_project("specs/churn.yaml")
    finally:
        os.chdir(cwd)


def test_ir_is_frozen(churn):
    with pytest.raises(dataclasses.FrozenInstanceError):
        churn.training.entrypoint = "other.py"
    hash(churn)  # every node is hashable, including frozen hyperparameters


def test_resources_are_normalized(churn):
    r = churn.training.resources
    assert (r.cpu, r.memory_bytes, r.gpu_count, r.gpu_type) == (4.0, 16 * 2**30, 1, "nvidia-t4")
    assert churn.training.spot.max_wait_seconds == 4 * 3600
    assert churn.training.max_runtime_seconds == 2 * 3600


def test_spans_point_at_the_spec(churn):
    assert churn.training.resources.span == ir.Span("specs/churn.yaml", 57, 14)
    prod = churn.deployment.environments[1]
    assert prod.name == "production" and prod.span.line == 102
    assert prod.strategy.steps == (5, 25, 50, 100) and prod.requires_approval
    assert not os.path.isabs(churn.spec_path)


def test_environments_keep_written_order(churn):
    assert [e.name for e in churn.deployment.environments] == ["staging", "production"]


def test_hyperparameters_thaw_back(churn):
    assert ir.thaw(churn.training.hyperparameters) == {"lr": 0.001, "epochs": 20, "hidden": [64, 32],
                                                      "batch_size": 256}


def test_pipelines_follow_the_lifecycle(churn):
    train = churn.pipeline("train")
    assert [s.name for s in train.steps] == ["resolve-data", "validate-data", "build-features", "train", "evaluate",
                                            "register", "gate-failed"]
    assert train.step("resolve-data").cache is False  # asks the store every run: later cache keys hang on it
    assert train.step("train").kind == "tuning"  # the spec has a sweep
    assert train.step("register").when == ir.Condition("evaluate", "passed", "==", True)
    assert dict(train.step("register").args)["approval"] == "pending"
    assert {p.name for p in train.params} >= {"image", "git_commit", "data_version_customers"}
    deploy = churn.pipeline("deploy")
    assert deploy.step("approve-production").kind == "approval"
    assert dict(deploy.step("deploy-production").args)["steps"] == "5,25,50,100"
    monitor = churn.pipeline("monitor")
    assert monitor.schedule == "0 6 * * *"
    assert dict(monitor.step("detect-drift").args)["features"] == "tenure_months,monthly_spend,plan"


def test_minimal_spec_gets_documented_defaults(tmp_path):
    spec = tmp_path / "mlops.yaml"
    spec.write_text("apiVersion: mlopsc/v1\nname: tiny\ntraining: {entrypoint: train.py}\n"
                    "deployment: {environments: {staging: {}}}\nmonitoring: {schedule: '@hourly'}\n")
    p = api.load_project(str(spec))
    s = schema()["$defs"] if "$defs" in schema() else {}
    assert p.training.resources.cpu == 2.0 and p.training.resources.memory_bytes == 8 * 2**30
    assert p.deployment.serving.resources.cpu == 1.0 and p.deployment.serving.resources.memory_bytes == 2 * 2**30
    assert p.deployment.serving.runtime == "mlflow"
    assert p.deployment.serving.autoscaling.min_replicas == 1
    assert p.training.max_runtime_seconds == 24 * 3600
    assert p.tracking.experiment == "tiny" and p.registry.model == "tiny"
    assert p.monitoring.schedule == "0 * * * *" and p.monitoring.on_violation == ("alert",)
    assert p.deployment.environments[0].strategy.type == "direct"
    assert p.image.base == "python:3.11-slim"
    assert s, "the schema defines shared shapes"


DEFAULTS_SPEC = """
apiVersion: mlopsc/v1
name: defaults
data:
  split: {}
  datasets:
    d:
      uri: s3://b/d.parquet
      schema: {c: {type: number}}
features:
  entities: {e: {join_key: c}}
  views: {v: {entity: e, source: d}}
training:
  entrypoint: train.py
  sweep: {objective: {metric: auc}, parameters: {lr: {uniform: [0.1, 0.2]}}}
evals: {metrics: {auc: {min: 0.5}}}
deployment:
  environments:
    staging: {}
    production: {rollback: {max_error_rate: 0.1}, strategy: {type: canary, steps: [50, 100]}}
monitoring:
  schedule: "@daily"
  drift: {reference: d}
triggers: {}
cost: {budget_monthly_usd: 10}
llm:
  base_model: m
  fine_tune: {dataset: d}
  serving: {}
  gateway: {routes: [{name: r, model: m, provider: self_hosted}]}
targets: {local: {}}
"""

# schema pointer -> how the IR exposes that value once normalized
IR_VALUE = {
    "properties/image/properties/base": lambda p: p.image.base,
    "properties/data/properties/versioning": lambda p: p.data.versioning,
    "properties/data/properties/split/properties/validation": lambda p: p.data.split.validation,
    "properties/data/properties/split/properties/seed": lambda p: p.data.split.seed,
    "properties/features/properties/store": lambda p: p.features.store,
    "properties/training/properties/framework": lambda p: p.training.framework,
    "properties/training/properties/resources": lambda p: (p.training.resources.cpu, p.training.resources.memory_bytes),
    "properties/training/properties/max_runtime": lambda p: p.training.max_runtime_seconds,
    "properties/tracking/properties/backend": lambda p: p.tracking.backend,
    "properties/evals/properties/baseline": lambda p: p.evals.baseline or "none",
    "properties/deployment/properties/serving/properties/runtime": lambda p: p.deployment.serving.runtime,
    "properties/deployment/properties/serving/properties/resources": lambda p: (
        p.deployment.serving.resources.cpu, p.deployment.serving.resources.memory_bytes),
    "properties/monitoring/properties/drift/properties/method": lambda p: p.monitoring.drift.method,
    "properties/monitoring/properties/drift/properties/threshold": lambda p: p.monitoring.drift.threshold,
    "properties/monitoring/properties/evals": lambda p: "never" if p.monitoring.evals_schedule is None else "?",
    "properties/monitoring/properties/on_violation": lambda p: list(p.monitoring.on_violation),
    "properties/monitoring/properties/capture/properties/sample": lambda p: p.monitoring.capture_sample,
    "properties/triggers/properties/data": lambda p: p.triggers.data,
    "properties/triggers/properties/code": lambda p: p.triggers.code,
    "properties/cost/properties/alert_at": lambda p: p.cost.alert_at,
    "properties/llm/properties/fine_tune/properties/method": lambda p: p.llm.fine_tune.method,
    "properties/llm/properties/fine_tune/properties/lora/properties/r": lambda p: p.llm.fine_tune.lora.get("r"),
    "properties/llm/properties/fine_tune/properties/lora/properties/alpha": lambda p: p.llm.fine_tune.lora.get("alpha"),
    "properties/llm/properties/fine_tune/properties/lora/properties/dropout":
        lambda p: p.llm.fine_tune.lora.get("dropout"),
    "properties/llm/properties/fine_tune/properties/epochs": lambda p: p.llm.fine_tune.epochs,
    "properties/llm/properties/fine_tune/properties/max_runtime": lambda p: p.llm.fine_tune.max_runtime_seconds,
    "properties/llm/properties/serving/properties/engine": lambda p: p.llm.serving.engine,
    "properties/llm/properties/serving/properties/tensor_parallel": lambda p: p.llm.serving.tensor_parallel,
    "properties/llm/properties/gateway/properties/engine": lambda p: p.llm.gateway.engine,
    "$defs/autoscaling/properties/min_replicas": lambda p: p.deployment.serving.autoscaling.min_replicas,
    "$defs/autoscaling/properties/max_replicas": lambda p: p.deployment.serving.autoscaling.max_replicas,
    "$defs/column/properties/nullable": lambda p: p.data.datasets[0].columns[0].nullable,
    "$defs/column/properties/unique": lambda p: p.data.datasets[0].columns[0].unique,
    "$defs/sweep/properties/strategy": lambda p: p.training.sweep.strategy,
    "$defs/sweep/properties/objective/properties/goal": lambda p: p.training.sweep.goal,
    "$defs/sweep/properties/max_trials": lambda p: p.training.sweep.max_trials,
    "$defs/sweep/properties/parallel_trials": lambda p: p.training.sweep.parallel_trials,
    "$defs/strategy/properties/type": lambda p: p.deployment.environments[0].strategy.type,
    "$defs/strategy/properties/interval": lambda p: p.deployment.environments[1].strategy.interval_seconds,
    "$defs/environment/properties/tests/properties/smoke": lambda p: p.deployment.environments[0].smoke_test,
}


def _expected(pointer, default):
    from mlopsc.units import cpu_cores, duration_seconds, size_bytes

    if isinstance(default, dict) and "memory" in default:
        return (cpu_cores(default["cpu"]), size_bytes(default["memory"]))
    if pointer.endswith(("max_runtime", "interval")):
        return duration_seconds(default)
    return default


def _schema_defaults(node, path=()):
    if isinstance(node, dict):
        if "default" in node:
            yield "/".join(path), node["default"]
        for k, v in node.items():
            yield from _schema_defaults(v, path + (k,))


def test_schema_defaults_match_normalization(tmp_path):
    spec = tmp_path / "mlops.yaml"
    spec.write_text(DEFAULTS_SPEC)
    project = api.load_project(str(spec))
    checked = 0
    for pointer, default in _schema_defaults(schema()):
        if pointer in IR_VALUE:
            assert IR_VALUE[pointer](project) == _expected(pointer, default), pointer
            checked += 1
    assert checked == len(IR_VALUE)


# schema pointer -> the normalize_defaults name normalization applies there
DEFAULT_NAME = {
    "properties/image/properties/base": "IMAGE_BASE",
    "properties/data/properties/versioning": "DATA_VERSIONING",
    "properties/data/properties/split/properties/validation": "SPLIT_VALIDATION",
    "properties/data/properties/split/properties/seed": "SPLIT_SEED",
    "properties/features/properties/store": "FEATURE_STORE",
    "properties/training/properties/framework": "TRAINING_FRAMEWORK",
    "properties/training/properties/resources": "TRAINING_RESOURCES",
    "properties/training/properties/max_runtime": "MAX_RUNTIME",
    "properties/tracking/properties/backend": "TRACKING_BACKEND",
    "properties/evals/properties/baseline": "EVALS_BASELINE",
    "properties/deployment/properties/serving/properties/runtime": "SERVING_RUNTIME",
    "properties/deployment/properties/serving/properties/resources": "SERVING_RESOURCES",
    "properties/monitoring/properties/drift/properties/method": "DRIFT_METHOD",
    "properties/monitoring/properties/drift/properties/threshold": "DRIFT_THRESHOLD",
    "properties/monitoring/properties/evals": "MONITORING_EVALS",
    "properties/monitoring/properties/on_violation": "ON_VIOLATION",
    "properties/monitoring/properties/capture/properties/sample": "CAPTURE_SAMPLE",
    "properties/triggers/properties/data": "TRIGGER_DATA",
    "properties/triggers/properties/code": "TRIGGER_CODE",
    "properties/cost/properties/alert_at": "COST_ALERT_AT",
    "properties/llm/properties/fine_tune/properties/method": "FINE_TUNE_METHOD",
    "properties/llm/properties/fine_tune/properties/lora/properties/r": "LORA_R",
    "properties/llm/properties/fine_tune/properties/lora/properties/alpha": "LORA_ALPHA",
    "properties/llm/properties/fine_tune/properties/lora/properties/dropout": "LORA_DROPOUT",
    "properties/llm/properties/fine_tune/properties/epochs": "FINE_TUNE_EPOCHS",
    "properties/llm/properties/fine_tune/properties/learning_rate": "FINE_TUNE_LEARNING_RATE",
    "properties/llm/properties/fine_tune/properties/max_runtime": "MAX_RUNTIME",
    "properties/llm/properties/serving/properties/engine": "LLM_SERVING_ENGINE",
    "properties/llm/properties/serving/properties/tensor_parallel": "TENSOR_PARALLEL",
    "properties/llm/properties/gateway/properties/engine": "GATEWAY_ENGINE",
    "$defs/autoscaling/properties/min_replicas": "MIN_REPLICAS",
    "$defs/autoscaling/properties/max_replicas": "MAX_REPLICAS",
    "$defs/spot/properties/enabled": "SPOT_ENABLED",
    "$defs/column/properties/nullable": "COLUMN_NULLABLE",
    "$defs/column/properties/unique": "COLUMN_UNIQUE",
    "$defs/sweep/properties/strategy": "SWEEP_STRATEGY",
    "$defs/sweep/properties/objective/properties/goal": "SWEEP_GOAL",
    "$defs/sweep/properties/max_trials": "SWEEP_MAX_TRIALS",
    "$defs/sweep/properties/parallel_trials": "SWEEP_PARALLEL_TRIALS",
    "$defs/strategy": "STRATEGY",
    "$defs/strategy/properties/type": "STRATEGY_TYPE",
    "$defs/strategy/properties/interval": "STRATEGY_INTERVAL",
    "$defs/environment/properties/strategy": "STRATEGY",
    "$defs/environment/properties/tests/properties/smoke": "SMOKE_TEST",
}
# Target settings are read by each target, not by normalization.
TARGET_SETTINGS = "properties/targets/"
# Applied by normalization but not a schema `default` (it depends on the uri).
NOT_IN_SCHEMA = {"DATASET_FORMAT"}


def test_every_schema_default_is_the_one_normalization_applies():
    from mlopsc import normalize_defaults

    documented = {p: d for p, d in _schema_defaults(schema()) if not p.startswith(TARGET_SETTINGS)}
    assert sorted(documented) == sorted(DEFAULT_NAME), "a schema default with no normalize_defaults entry (or gone)"
    for pointer, default in documented.items():
        assert getattr(normalize_defaults, DEFAULT_NAME[pointer]) == default, pointer
    names = {n for n in vars(normalize_defaults) if n.isupper()}
    assert names == set(DEFAULT_NAME.values()) | NOT_IN_SCHEMA, "a default that the schema does not document"
