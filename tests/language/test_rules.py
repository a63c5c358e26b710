"""Rules over the IR (compiler/rules/) and the normalization they run on: broken references
normalize without crashing, and each rule reports at its node's span."""

import pytest
from mlopsc import api, rules
from mlopsc.diagnostics import SpecError
from mlopsc.loader import load_bytes
from mlopsc.normalize import normalize, sections

HEAD = "apiVersion: mlopsc/v1\nname: t\n"


def _problems(tmp_path, body: str) -> list[str]:
    spec = tmp_path / "mlops.yaml"
    spec.write_text(HEAD + body, encoding="utf-8")
    return [f"{d.line}:{d.col} {d.code} {d.message}" for d in api.validate(str(spec))]


def test_broken_references_normalize(tmp_path):
    doc = load_bytes((HEAD + """
data:
  datasets:
    a: {uri: a.csv, schema_from: b}
    b: {uri: b.csv, schema_from: a}
    c: {uri: c.csv, schema_from: missing}
features:
  views: {v: {entity: nobody, source: nowhere}}
monitoring: {schedule: "@daily", drift: {reference: missing}}
""").encode(), "s.yaml")
    project, problems = sections(doc)
    assert problems == []
    assert [d.columns for d in project.data.datasets] == [(), (), ()]
    assert project.features.views[0].join_key == "nobody"
    assert {d.code for d in rules.check(project, doc)} == {"E301", "E302"}


def test_schema_from_chain_inherits_columns_and_checks():
    doc = load_bytes((HEAD + """
data:
  datasets:
    base: {uri: b.csv, schema: {x: {type: number}}, checks: {min_rows: 5}}
    mid: {uri: m.csv, schema_from: base}
    top: {uri: t.csv, schema_from: mid}
""").encode(), "s.yaml")
    top = normalize(doc).data.dataset("top")
    assert [c.name for c in top.columns] == ["x"] and top.min_rows == 5
    assert top.columns[0].span.line == 6  # where `base` declares the column


def test_format_problems_are_located_and_normalize_raises(tmp_path):
    body = "training: {entrypoint: t.py, max_runtime: 0h, spot: {enabled: true, max_wait: 0m}}\n"
    assert _problems(tmp_path, body) == [
        "3:43 E602 invalid duration: duration `0h` must be greater than zero",
        "3:79 E602 invalid duration: duration `0m` must be greater than zero",  # once, although read twice
    ]
    with pytest.raises(SpecError):
        normalize(load_bytes((HEAD + body).encode(), "s.yaml"))


def test_free_form_values_are_not_read_as_formats(tmp_path):
    # Before the rules ran over the IR, any key named like a format was parsed, wherever it was.
    body = "labels: {schedule: weekly, cpu: fast}\ntraining: {entrypoint: t.py, hyperparameters: {interval: soon}}\n"
    assert _problems(tmp_path, body) == []


def test_gateway_cache_ttl_is_checked(tmp_path):
    body = ("llm:\n  base_model: m\n  serving: {engine: vllm}\n"
            "  gateway: {routes: [{name: r, model: m, provider: self_hosted}], cache: {ttl: 0s}}\n")
    assert [p.split(" ")[1] for p in _problems(tmp_path, body)] == ["E602"]


def test_spot_wait_quotes_the_durations(tmp_path):
    body = "training: {entrypoint: t.py, max_runtime: 90m, spot: {enabled: true, max_wait: 3600s}}\n"
    assert _problems(tmp_path, body) == [
        "3:80 E404 spot `max_wait` (1h) is shorter than `max_runtime` (90m)"]


def test_canary_without_steps_and_empty_rollback(tmp_path):
    body = ("evals: {metrics: {auc: {min: 0.5}}}\n"
            "deployment:\n  environments:\n    prod: {strategy: {type: canary}, rollback: {}}\n")
    assert _problems(tmp_path, body) == [
        "6:5 E406 environment `prod` needs rollback rules",
        "6:22 E401 a canary strategy needs `steps` (traffic percentages)",
    ]


def test_drift_with_an_empty_feature_list_is_left_alone(tmp_path):
    body = ("data: {datasets: {d: {uri: d.csv, schema: {x: {type: number}}}}}\n"
            "monitoring: {schedule: '@daily', drift: {reference: d, features: []}}\n")
    assert _problems(tmp_path, body) == []


def test_every_rule_names_its_registered_codes():
    import re

    from mlopsc.codes import CODES

    named = set()
    for rule in rules.RULES:
        # strategy_options and fine_tune_method name E208, the schema's code for a key that does not apply.
        found = set(re.findall(r"\bE\d{3}\b", rule.__doc__ or ""))
        codes = found - {"E208"}
        assert found, f"{rule.__name__} names no code in its docstring"
        assert all(CODES[c].stage in ("reference", "lifecycle") for c in codes), rule.__name__
        named |= codes
    assert named == {c for c, entry in CODES.items() if entry.stage in ("reference", "lifecycle")}


# Every place a spec names another part of the spec, and names to put there: existing ones (which
# make schema_from cycles), near misses and strangers; a name some pattern rejects is a schema error.
REFERENCE_PATHS = [
    ("data", "datasets", "*", "schema_from"), ("data", "label"), ("data", "split", "stratify"),
    ("features", "views", "*", "entity"), ("features", "views", "*", "source"),
    ("features", "entities", "*", "join_key"), ("evals", "dataset"), ("evals", "baseline"),
    ("evals", "suite", "dataset"), ("monitoring", "drift", "reference"), ("llm", "fine_tune", "dataset"),
    ("registry", "approval", "required_for", 0), ("training", "sweep", "objective", "metric"),
]
NAMES = ["customers", "holdout", "tickets", "eval_cases", "customer", "production", "staging", "auc", "nobody"]


def _slots(tree, path, at=()):
    if not path:
        yield at
        return
    head, rest = path[0], path[1:]
    node = tree
    for part in at:
        node = node[part]
    keys = list(node) if head == "*" and isinstance(node, dict) else [head]
    for key in keys:
        if (isinstance(node, dict) and key in node) or (isinstance(node, list) and isinstance(key, int) and key < len(node)):
            yield from _slots(tree, rest, at + (key,))


def test_broken_references_in_the_examples_are_reported_never_crash(tmp_path):
    import copy
    import itertools
    import os
    import random

    import yaml

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    examples = sorted(os.path.join(root, "specs", f) for f in os.listdir(os.path.join(root, "specs")) if f.endswith(".yaml"))
    rng = random.Random(10)
    broken = 0
    for example, attempt in itertools.product(examples, range(12)):
        with open(example, encoding="utf-8") as fh:
            tree = yaml.safe_load(fh)
        slots = [s for p in REFERENCE_PATHS for s in _slots(tree, p)]
        tree = copy.deepcopy(tree)
        for slot in rng.sample(slots, k=min(len(slots), rng.randint(1, 4))):
            parent = tree
            for part in slot[:-1]:
                parent = parent[part]
            parent[slot[-1]] = rng.choice(NAMES)
        spec = tmp_path / f"{attempt}-{os.path.basename(example)}"
        spec.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
        found = api.validate(str(spec))  # raises nothing
        assert all(d.line >= 1 and d.col >= 1 for d in found), found
        broken += any(d.code in ("E301", "E302", "E303") for d in found)
    assert broken > 10  # the mutations do break references
