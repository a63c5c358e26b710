"""The published JSON Schema (schemas/mlops.schema.json): well-formed, closed, documented, and
accepting the design examples while rejecting common mistakes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from reference_files import reference_dir

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "schemas" / "mlops.schema.json"
DESIGN_DIR = Path(reference_dir()).parent / "design"
DESIGN_EXAMPLES = ["churn.mlops.yaml", "support-assistant.mlops.yaml"]

# Keywords whose values are subschemas that only *constrain* (conditions, negations): they are not
# object schemas an author writes against, so they need neither descriptions nor additionalProperties.
CONDITIONAL_KEYWORDS = {"if", "then", "else", "not"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


@pytest.fixture(scope="module")
def validator(schema: dict) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.Draft202012Validator, doc: dict) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(doc)]


def walk(node, path: str = "#", conditional: bool = False):
    """Yield (path, subschema, in_conditional) for every schema object in the document."""
    if isinstance(node, dict):
        yield path, node, conditional
        for key, value in node.items():
            if key in ("properties", "$defs", "patternProperties"):
                for name, sub in value.items():
                    yield from walk(sub, f"{path}/{key}/{name}", conditional)
            elif key in ("allOf", "anyOf", "oneOf", "prefixItems"):
                for i, sub in enumerate(value):
                    yield from walk(sub, f"{path}/{key}/{i}", conditional)
            elif key in CONDITIONAL_KEYWORDS:
                yield from walk(value, f"{path}/{key}", True)
            elif key in ("items", "additionalProperties", "propertyNames", "contains"):
                yield from walk(value, f"{path}/{key}", conditional)


# ---------------------------------------------------------------- the file itself


def test_file_is_pretty_printed_json() -> None:
    text = SCHEMA_PATH.read_text()
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert "\t" not in text
    assert text.splitlines()[1].startswith('  "$schema"')


def test_valid_against_the_2020_12_metaschema(schema: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://mlopsc.dev/schemas/mlops.schema.json"
    assert schema["title"] and schema["description"]


def test_every_object_schema_is_closed_and_every_property_documented(schema: dict) -> None:
    unclosed, undocumented = [], []
    for path, node, conditional in walk(schema):
        if conditional:
            continue
        is_object = node.get("type") == "object" or "properties" in node
        if is_object and "additionalProperties" not in node:
            unclosed.append(path)
        for name, prop in node.get("properties", {}).items():
            if not isinstance(prop, dict) or not str(prop.get("description", "")).strip():
                undocumented.append(f"{path}/properties/{name}")
    assert not unclosed, f"object schemas without additionalProperties: {unclosed}"
    assert not undocumented, f"properties without a description: {undocumented}"


def test_closed_objects_use_false_and_maps_use_property_names(schema: dict) -> None:
    for path, node, conditional in walk(schema):
        if conditional or node.get("type") != "object":
            continue
        if "properties" in node:
            assert node["additionalProperties"] is False, path
        else:  # a map with free keys
            assert "propertyNames" in node, path
            assert isinstance(node["additionalProperties"], dict), path


def test_refs_resolve(schema: dict) -> None:
    for path, node, _ in walk(schema):
        target = node.get("$ref")
        if target is not None:
            assert target.startswith("#/$defs/"), path
            assert target.removeprefix("#/$defs/") in schema["$defs"], f"{path}: dangling {target}"


# ---------------------------------------------------------------- acceptance


@pytest.mark.parametrize("name", DESIGN_EXAMPLES)
def test_design_examples_validate(validator, name: str) -> None:
    path = DESIGN_DIR / name
    doc = yaml.safe_load(path.read_text())
    assert errors(validator, doc) == []


MINIMAL = {"apiVersion": "mlopsc/v1", "name": "demo"}


def test_minimal_spec_validates(validator) -> None:
    assert errors(validator, MINIMAL) == []


@pytest.mark.parametrize(
    "strategy",
    [
        {},
        {"type": "direct"},
        {"type": "canary", "steps": [10, 100], "interval": "5m"},
        {"type": "blue_green", "interval": "1h"},
        {"type": "shadow", "sample": 1, "duration": "24h"},
        {"type": "ab_test", "split": 0.5, "duration": "7d"},
    ],
)
def test_strategies_validate(validator, strategy: dict) -> None:
    doc = {**MINIMAL, "deployment": {"environments": {"production": {"strategy": strategy}}}}
    assert errors(validator, doc) == []


@pytest.mark.parametrize(
    "uri", ["${env:MLFLOW_TRACKING_URI}", "${secret:mlflow_uri}", "https://mlflow.acme.example"]
)
def test_tracking_uri_accepts_refs_and_uris(validator, uri: str) -> None:
    assert errors(validator, {**MINIMAL, "tracking": {"uri": uri}}) == []


# ---------------------------------------------------------------- rejections


def with_(doc: dict, path: str, value) -> dict:
    """A deep copy of doc with the dotted path set to value (creating maps on the way)."""
    out = copy.deepcopy(doc)
    node = out
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return out


REJECTED = {
    "unknown top-level key": with_(MINIMAL, "pipelines", {}),
    "missing name": {"apiVersion": "mlopsc/v1"},
    "wrong apiVersion": with_(MINIMAL, "apiVersion", "mlopsc/v2"),
    "bad project name": with_(MINIMAL, "name", "Churn_Classifier"),
    "bad strategy type": with_(MINIMAL, "deployment.environments.production.strategy", {"type": "rolling"}),
    "steps outside canary": with_(
        MINIMAL, "deployment.environments.production.strategy", {"type": "shadow", "steps": [50, 100]}
    ),
    "canary step over 100": with_(
        MINIMAL, "deployment.environments.production.strategy", {"type": "canary", "steps": [50, 150]}
    ),
    "sweep parameter with two distributions": with_(
        MINIMAL,
        "training",
        {
            "entrypoint": "train.py:train",
            "sweep": {
                "objective": {"metric": "val_auc"},
                "parameters": {"lr": {"uniform": [0.1, 0.2], "log_uniform": [0.001, 0.01]}},
            },
        },
    ),
    "sweep parameter with no distribution": with_(
        MINIMAL,
        "training",
        {"entrypoint": "train.py", "sweep": {"objective": {"metric": "val_auc"}, "parameters": {"lr": {}}}},
    ),
    "threshold with no bound": with_(MINIMAL, "evals.metrics", {"auc": {}}),
    "threshold with unknown key": with_(MINIMAL, "evals.metrics", {"auc": {"minimum": 0.8}}),
    "unknown key in a dataset": with_(MINIMAL, "data.datasets", {"x": {"uri": "x.csv", "path": "x.csv"}}),
    "bad duration": with_(MINIMAL, "training", {"entrypoint": "train.py", "max_runtime": "2 hours"}),
    "bad size": with_(MINIMAL, "training", {"entrypoint": "train.py", "resources": {"memory": "16GB"}}),
    "bad gpu type": with_(
        MINIMAL, "training", {"entrypoint": "train.py", "resources": {"gpu": {"count": 1, "type": "tesla"}}}
    ),
    "bad cron": with_(MINIMAL, "monitoring", {"schedule": "every day"}),
    "bad channel": with_(MINIMAL, "monitoring", {"schedule": "@daily", "alerts": ["#ml-alerts"]}),
    "literal api key": with_(
        MINIMAL,
        "llm",
        {
            "base_model": "m",
            "gateway": {
                "routes": [
                    {"name": "openai", "model": "gpt-4o-mini", "provider": "openai", "api_key": "sk-123"}
                ]
            },
        },
    ),
    "env ref as api key": with_(
        MINIMAL,
        "llm",
        {
            "base_model": "m",
            "gateway": {
                "routes": [
                    {
                        "name": "openai",
                        "model": "gpt-4o-mini",
                        "provider": "openai",
                        "api_key": "${env:OPENAI_API_KEY}",
                    }
                ]
            },
        },
    ),
    "alert_at above 1": with_(MINIMAL, "cost", {"budget_monthly_usd": 10, "alert_at": 1.5}),
    "missing budget": with_(MINIMAL, "cost", {"alert_at": 0.5}),
    "bad dataset name": with_(MINIMAL, "data.datasets", {"Customers": {"uri": "c.parquet"}}),
    "sagemaker without role": with_(
        MINIMAL, "targets.sagemaker", {"region": "us-east-1", "bucket": "s3://b-1"}
    ),
}


@pytest.mark.parametrize("doc", REJECTED.values(), ids=REJECTED.keys())
def test_rejected(validator, doc: dict) -> None:
    assert errors(validator, doc), "expected at least one validation error"


def test_unknown_top_level_key_is_reported_by_name(validator) -> None:
    [error] = validator.iter_errors(with_(MINIMAL, "pipelines", {}))
    assert error.validator == "additionalProperties" and "pipelines" in error.message


def test_bad_strategy_type_is_an_enum_error(validator) -> None:
    doc = with_(MINIMAL, "deployment.environments.production.strategy", {"type": "rolling"})
    assert [e.validator for e in validator.iter_errors(doc)] == ["enum"]


def test_two_distributions_is_a_max_properties_error(validator) -> None:
    doc = REJECTED["sweep parameter with two distributions"]
    assert [e.validator for e in validator.iter_errors(doc)] == ["maxProperties"]


def test_threshold_without_bound_is_a_min_properties_error(validator) -> None:
    assert [e.validator for e in validator.iter_errors(REJECTED["threshold with no bound"])] == [
        "minProperties"
    ]


def test_strategy_key_for_another_type_is_reported_at_that_key(validator) -> None:
    [error] = validator.iter_errors(REJECTED["steps outside canary"])
    assert error.json_path == "$.deployment.environments.production.strategy.steps"
