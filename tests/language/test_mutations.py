"""Property test: mutated example specs never crash mlopsc; every problem is located.

Mutations: delete a key, rename a key, replace a value with a random scalar or container,
and insert an unknown key, anywhere in the tree. Each mutant either validates (and then
normalizes and compiles for every target) or fails with located diagnostics.
"""

import json
import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlopsc import api, targets
from mlopsc.diagnostics import SpecError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = sorted(os.path.join(ROOT, "specs", f) for f in os.listdir(os.path.join(ROOT, "specs")) if f.endswith(".yaml"))
BASES = [yaml.safe_load(open(p, encoding="utf-8")) for p in EXAMPLES]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20), st.sampled_from(["yes", "no", "on", "2024-01-01", "16Gi", "30m", "0 6 * * *", "${secret:x}",
                                           "AKIAIOSFODNN7EXAMPLE", "canary", "-1", ""]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=8), scalars, max_size=2))


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, path + (i,))


def _parent(tree, path):
    for part in path[:-1]:
        tree = tree[part]
    return tree


@st.composite
def mutants(draw):
    import copy

    tree = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(tree) if p]
        path = draw(st.sampled_from(paths))
        parent = _parent(tree, path)
        action = draw(st.sampled_from(["delete", "rename", "replace", "insert"]))
        key = path[-1]
        if action == "delete":
            del parent[key]
        elif action == "rename" and isinstance(parent, dict):
            new = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
            if new not in parent:
                parent[new] = parent.pop(key)
        elif action == "insert" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(values)
        else:
            parent[key] = draw(values)
    return tree


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutants())
def test_mutants_never_crash_and_errors_are_located(tmp_path_factory, tree):
    path = tmp_path_factory.mktemp("m") / "mutant.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False, allow_unicode=True), encoding="utf-8")
    lines = path.read_text(encoding="utf-8").count("\n") + 1
    try:
        project = api.load_project(str(path))
    except SpecError as exc:
        assert exc.diagnostics
        for d in exc.diagnostics:
            assert d.file.endswith("mutant.yaml")
            assert 1 <= d.line <= lines and d.col >= 1, d
            assert d.code[0] == "E" and d.message
        return
    for name in targets.names():
        files, diagnostics = targets.get(name).compile(project)
        for d in diagnostics:
            assert d.line >= 1 and d.col >= 1, d
        assert files or any(d.severity == "error" for d in diagnostics)


def test_mutation_strategy_reaches_both_outcomes():
    # Guard against a vacuous property: the unmodified examples are valid and compile.
    for example in EXAMPLES:
        api.load_project(example)


OPTIONAL_SECTIONS = ["description", "owner", "labels", "image", "features", "tracking", "evals", "registry",
                     "deployment", "monitoring", "triggers", "cost", "llm", "targets"]


@st.composite
def trimmed_specs(draw):
    """Valid-leaning variants: whole optional sections and second-level keys removed."""
    import copy

    tree = copy.deepcopy(draw(st.sampled_from(BASES)))
    for section in draw(st.sets(st.sampled_from(OPTIONAL_SECTIONS), max_size=5)):
        tree.pop(section, None)
    for _ in range(draw(st.integers(0, 3))):
        sections = [k for k, v in tree.items() if isinstance(v, dict) and v]
        if not sections:
            break
        section = draw(st.sampled_from(sorted(sections)))
        tree[section].pop(draw(st.sampled_from(sorted(tree[section]))))
    return tree


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trimmed_specs())
def test_trimmed_specs_validate_or_fail_located_and_compile_everywhere(tmp_path_factory, tree):
    path = tmp_path_factory.mktemp("t") / "trimmed.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    try:
        project = api.load_project(str(path))
    except SpecError as exc:
        assert all(d.line >= 1 and d.col >= 1 and d.code.startswith("E") for d in exc.diagnostics)
        return
    for name in targets.names():
        target = targets.get(name)
        files, diagnostics = target.compile(project)
        assert files or any(d.severity == "error" for d in diagnostics), name
        if target.settings(project)[1]:  # a target the variant does not configure stops at E703 alone
            assert not files and {d.code for d in diagnostics} == {"E703"}, (name, diagnostics)
        for f in files:  # every compiled file parses as what its name says
            if f.path.endswith((".yaml", ".yml")):
                list(yaml.safe_load_all(f.content))
            elif f.path.endswith(".json"):
                json.loads(f.content)
