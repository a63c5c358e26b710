"""Property tests: mutated example specs never crash mlopsc, every problem is located, and what
validates compiles into files that parse, with no control character in them.

Every example in specs/ is mutated at random places: a key deleted, renamed or added; a value
replaced by another type, a huge, tiny or non-finite number, unicode text (control, invisible
and look-alike characters, YAML's special words); a character inserted into a string. The
suites run a few thousand cases (MLOPSC_MUTATIONS sets how many validate) in a minute or two on
two cores; the mutants and trimmed examples that still validate are compiled for one target
each, drawn at random, and every file written must parse (tests/language/mutation_parsers.py).
"""

from __future__ import annotations

import copy
import os

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlopsc import api, targets
from mlopsc.cli import cli
from mlopsc.codes import CODES
from mlopsc.diagnostics import SpecError
from mutation_parsers import check_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = sorted(os.path.join(ROOT, "specs", f) for f in os.listdir(os.path.join(ROOT, "specs")) if f.endswith(".yaml"))


def _load(path):
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


BASES = [_load(p) for p in EXAMPLES]
VALIDATE_CASES = int(os.environ.get("MLOPSC_MUTATIONS", "2000"))
COMPILE_CASES = max(VALIDATE_CASES // 8, 50)  # about one mutant in ten validates; trimmed specs mostly do

TRICKY_TEXT = ["yes", "no", "on", "~", "null", "2024-01-01", "0x1F", "1e400", ".nan", "-.inf", "16Gi", "30m",
               "0 6 * * *", "0 0 31 2 *", "${secret:x}", "${env:X}", "AKIAIOSFODNN7EXAMPLE",
               "hf_AbCdEfGhIjAbCdEfGhIjAbCdEfGhIjKlMn", "postgresql://u:p@h/d", "../../etc/passwd", "~/.aws/credentials",
               "/etc/passwd", "python:3.11\nRUN curl x | sh", "a\rb", "tab\there", "\x1b[31mred", "\x00", "pr\u043ed",
               "zero\u200bwidth", "rtl\u202eoverride", "line\u2028sep", "\ufeffbom", "é", "名前", "-1", "", " ", "#", "&a",
               "*a", "!!python/object", "{", "[", ": x", "'", '"', "a" * 300]
HUGE = [10**20, -10**20, 2**63, 2**31, 2**53 + 1, 1e308, 5e-324, float("inf"), float("-inf"), float("nan"), -0.0]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.sampled_from(HUGE), st.floats(),
    st.text(max_size=20), st.text(alphabet=st.characters(codec="utf-8"), max_size=12), st.sampled_from(TRICKY_TEXT),
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


def _mutate(draw, tree) -> None:
    path = draw(st.sampled_from([p for p in _paths(tree) if p]))
    parent, key = _parent(tree, path), path[-1]
    action = draw(st.sampled_from(["delete", "rename", "replace", "insert", "number", "char"]))
    if action == "delete":
        del parent[key]
    elif action == "rename" and isinstance(parent, dict):
        new = draw(st.one_of(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12),
                             st.sampled_from(["nаme", "a\u200bb", "x\ny", "-", "1"])))
        if new not in parent:
            parent[new] = parent.pop(key)
    elif action == "insert" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=10))] = draw(values)
    elif action == "number":
        parent[key] = draw(st.sampled_from(HUGE))
    elif action == "char" and isinstance(parent[key], str):
        text = parent[key]
        at = draw(st.integers(0, len(text)))
        char = draw(st.one_of(st.characters(codec="utf-8"), st.sampled_from(["\n", "\r", "\t", "\u200b", "\u202e",
                                                                             "\u0430", "\x00", "\x1b", "/", ".."])))
        parent[key] = text[:at] + char + text[at:]
    else:
        parent[key] = draw(values)


@st.composite
def mutants(draw):
    tree = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        if not any(p for p in _paths(tree)):
            break
        _mutate(draw, tree)
    return tree


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # the C emitter: ten times faster


def _write(tmp_path_factory, tree) -> str:
    """One file per test, rewritten for each case (a new directory per case costs more than the check)."""
    folder = tmp_path_factory.getbasetemp() / "mutants"
    folder.mkdir(exist_ok=True)
    path = folder / "mutant.yaml"
    path.write_text(yaml.dump(tree, Dumper=_DUMPER, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return str(path)


def _assert_located(path: str, diagnostics) -> None:
    with open(path, encoding="utf-8", newline="") as fh:
        lines = fh.read().count("\n") + 1
    assert diagnostics
    for d in diagnostics:
        assert d.file.endswith("mutant.yaml")
        assert 1 <= d.line <= lines and d.col >= 1, d
        assert d.code in CODES and d.message, d
        assert "\n" not in d.message and "\x1b" not in d.message, d


@settings(max_examples=VALIDATE_CASES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutants())
def test_mutants_validate_or_fail_located(tmp_path_factory, tree):
    path = _write(tmp_path_factory, tree)
    try:
        api.load_project(path)
    except SpecError as exc:
        _assert_located(path, exc.diagnostics)


@settings(max_examples=COMPILE_CASES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.one_of(mutants(), st.deferred(lambda: trimmed_specs())), st.sampled_from(sorted(targets.BUILTIN)))
def test_what_validates_compiles_into_files_that_parse(tmp_path_factory, tree, target):
    path = _write(tmp_path_factory, tree)
    try:
        project = api.load_project(path)
    except SpecError:
        return
    files, diagnostics = targets.get(target).compile(project)
    for d in diagnostics:
        assert d.line >= 1 and d.col >= 1 and d.code in CODES, d
    for f in files:
        check_file(target, f.path, f.content)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutants())
def test_the_cli_exits_0_or_1_without_a_traceback(tmp_path_factory, tree):
    path = _write(tmp_path_factory, tree)
    result = CliRunner().invoke(cli, ["validate", path])
    assert result.exit_code in (0, 1), (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_the_unmodified_examples_compile_into_files_that_parse():
    # Guard against a vacuous property: the examples themselves validate and compile.
    for example in EXAMPLES:
        project = api.load_project(example)
        for name in targets.names():
            files, _ = targets.get(name).compile(project)
            for f in files:
                check_file(name, f.path, f.content)


OPTIONAL_SECTIONS = ["description", "owner", "labels", "image", "features", "tracking", "evals", "registry",
                     "deployment", "monitoring", "triggers", "cost", "llm", "targets"]


@st.composite
def trimmed_specs(draw):
    """Valid-leaning variants: whole optional sections and second-level keys removed."""
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


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(trimmed_specs(), st.sampled_from(sorted(targets.BUILTIN)))
def test_trimmed_specs_validate_or_fail_located_and_compile(tmp_path_factory, tree, target):
    path = _write(tmp_path_factory, tree)
    try:
        project = api.load_project(path)
    except SpecError as exc:
        assert all(d.line >= 1 and d.col >= 1 and d.code.startswith("E") for d in exc.diagnostics)
        return
    t = targets.get(target)
    files, diagnostics = t.compile(project)
    assert files or any(d.severity == "error" for d in diagnostics) or not project.training, target
    if t.settings(project)[1]:  # a target the variant does not configure stops at E703 alone
        assert not files and {d.code for d in diagnostics} == {"E703"}, (target, diagnostics)
    for f in files:
        check_file(target, f.path, f.content)
