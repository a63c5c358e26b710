"""The YAML emitter: libyaml's C emitter with the fast node walk (what compiles use) writes the
same bytes as PyYAML's pure-Python emitter and representer (the fallback when PyYAML has no
libyaml), for every golden file and for the corner cases the walk handles itself."""

import os
import sys

import pytest
import yaml

from mlopsc import emit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from regen_golden import golden_files, golden_specs  # noqa: E402


def _with(dumper, monkeypatch, produce):
    monkeypatch.setattr(emit, "DUMPER", dumper)
    return produce()


def test_compiles_use_the_c_emitter_when_pyyaml_has_it():
    assert yaml.__with_libyaml__, "this venv's PyYAML lacks libyaml: the fast path is untested"
    assert issubclass(emit.DUMPER, yaml.CSafeDumper)


@pytest.mark.parametrize("spec", golden_specs())
def test_every_compiled_file_is_byte_identical_with_the_pure_python_emitter(spec, monkeypatch):
    fast = _with(emit.DUMPER, monkeypatch, lambda: golden_files(spec))
    pure = _with(emit.PythonDumper, monkeypatch, lambda: golden_files(spec))
    assert sorted(fast) == sorted(pure)
    yaml_files = [p for p in fast if p.endswith((".yaml", ".yml"))]
    assert yaml_files, "no YAML among the compiled files"
    for path in sorted(fast):
        assert fast[path] == pure[path], path


SHARED = {"a": 1}
CASES = [
    {"text": "one\ntwo\n", "lead": " x\ny", "empty": "", "yes": "yes", "num": "0123", "colon": "a: b"},
    {"floats": [0.1, 1e20, -0.0, float("inf"), float("-inf"), 3.0], "big": 10**30, "flag": False, "none": None},
    {"same": SHARED, "again": SHARED, "list": [SHARED]},  # one object twice: anchor and alias
    {2: "int key", "b": {"z": [], "a": {}}, "unicode": "café ✓", "long": "word " * 40},
    [[1, [2, [3]]], {"k": "v"}],
]


@pytest.mark.parametrize("data", CASES)
@pytest.mark.parametrize("sort_keys", [True, False])
def test_corner_cases_match_the_pure_python_emitter(data, sort_keys, monkeypatch):
    fast = _with(emit.DUMPER, monkeypatch, lambda: emit.yaml_text(data, sort_keys=sort_keys))
    pure = _with(emit.PythonDumper, monkeypatch, lambda: emit.yaml_text(data, sort_keys=sort_keys))
    assert fast == pure
    docs = _with(emit.DUMPER, monkeypatch, lambda: emit.yaml_documents([data, data], header="# h\n"))
    assert docs == _with(emit.PythonDumper, monkeypatch, lambda: emit.yaml_documents([data, data], header="# h\n"))


def test_other_types_take_pyyamls_own_path(monkeypatch):
    data = {"tuple": (1, 2), "set": {3}, "bytes": b"\x00"}
    fast = _with(emit.DUMPER, monkeypatch, lambda: emit.yaml_text(data))
    assert fast == _with(emit.PythonDumper, monkeypatch, lambda: emit.yaml_text(data))
    for dumper in (emit.DUMPER, emit.PythonDumper):
        monkeypatch.setattr(emit, "DUMPER", dumper)
        with pytest.raises(yaml.representer.RepresenterError):
            emit.yaml_text({"a": object()})


def test_a_recursive_structure_is_refused(monkeypatch):
    loop: list = []
    loop.append(loop)
    with pytest.raises(yaml.representer.RepresenterError):
        emit.yaml_text(loop)


def test_json_text_writes_what_json_dumps_writes():
    import json
    import random

    from mlopsc.emit import json_text

    def expected(value):
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    rng = random.Random(7)
    scalars = ["", "é ✓ \u2028 \x00 \"q\" \\ \n\t", 0, -3, 10**30, 1.5, -0.0, 1e300, float("inf"), float("-inf"),
               float("nan"), True, False, None]

    def value(depth):
        if depth > 3 or rng.random() < 0.3:
            return rng.choice(scalars)
        if rng.random() < 0.5:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {rng.choice(["b", "a", "é", "A", "", "key 1"]) + str(i): value(depth + 1) for i in range(rng.randint(0, 4))}

    for _ in range(300):
        data = value(0)
        text = json_text(data)
        assert text == expected(data) if data == data else text.startswith("NaN")
    odd = [{2: "int keys", 1: 2}, {"t": (1, 2)}, {"x": {"nested": {True: None}}}, [1, {"y": object.__name__}]]
    for data in odd:  # keys json converts, tuples: the same text
        assert json_text(data) == expected(data)
