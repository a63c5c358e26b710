"""Strict loading: duplicates, YAML 1.2 scalars, bombs, size, encoding, source map."""

import pytest
from mlopsc.diagnostics import SpecError
from mlopsc.loader import MAX_BYTES, load_bytes, load_file


def _load(text: str):
    return load_bytes(text.encode("utf-8"), "spec.yaml")


def _error(text_or_bytes) -> list:
    raw = text_or_bytes.encode("utf-8") if isinstance(text_or_bytes, str) else text_or_bytes
    with pytest.raises(SpecError) as info:
        load_bytes(raw, "spec.yaml")
    return info.value.diagnostics


def test_yes_no_on_off_and_dates_stay_strings():
    doc = _load("a: yes\nb: no\nc: on\nd: off\ne: 2024-01-01\nf: y\ng: true\nh: 012\ni: 1.5\nj: ~\nk: '5'\n")
    assert doc.data == {"a": "yes", "b": "no", "c": "on", "d": "off", "e": "2024-01-01", "f": "y", "g": True,
                        "h": 12, "i": 1.5, "j": None, "k": "5"}


def test_keys_stay_text():
    assert _load("on: 1\n200: x\n").data == {"on": 1, "200": "x"}


def test_duplicate_key_names_both_lines():
    doc = _load("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n")
    [diag] = doc.problems
    assert (diag.line, diag.col, diag.code) == (5, 3, "E109")
    assert "line 3" in diag.message and "lines 3 and 5" in diag.hint
    assert doc.data["b"]["c"] == 1  # the first value is kept


def test_source_map_points_at_values_and_keys():
    doc = _load("top:\n  inner: [a, {deep: 5}]\n")
    assert doc.source_map.values[("top", "inner", 1, "deep")] == (2, 21)
    assert doc.source_map.keys[("top", "inner")] == (2, 3)
    assert doc.source_map.locate(("top", "missing", "x")) == (2, 3)


def test_aliases_within_bounds_work():
    doc = _load("base: &b {cpu: 2}\ncopy: *b\n")
    assert doc.data["copy"] == {"cpu": 2}


def test_billion_laughs_is_rejected_fast():
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    [diag] = _error("\n".join(lines) + "\n")
    assert diag.code == "E102"  # stopped after MAX_NODES values; benchmarks/bench_rejections.py times it


def test_fifty_megabyte_file_is_rejected_without_reading_it(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.write(b"a: b\n" * (50 * 1024 * 1024 // 5))
    opened = []
    real_open = open

    def spy(path, *args, **kwargs):
        opened.append(path)
        return real_open(path, *args, **kwargs)

    import builtins

    builtins.open = spy
    try:
        with pytest.raises(SpecError) as info:
            load_file(str(big), "big.yaml")
    finally:
        builtins.open = real_open
    assert info.value.diagnostics[0].code == "E104"
    assert f"{MAX_BYTES:,}" in info.value.diagnostics[0].message
    assert opened == []  # rejected from its size alone, never read


def test_non_utf8_is_located():
    [diag] = _error(b"a: 1\nb: caf\xe9\n")
    assert (diag.code, diag.line, diag.col) == ("E103", 2, 7)


def test_nul_byte_is_rejected():
    assert _error(b"a: 1\x00\n")[0].code == "E103"


@pytest.mark.parametrize("text", ["", "   \n", "# only\n# comments\n"])
def test_empty(text):
    assert _error(text)[0].code == "E105"


@pytest.mark.parametrize("text,kind", [("- a\n", "list"), ("just text\n", "string"), ("5\n", "integer")])
def test_not_a_mapping(text, kind):
    [diag] = _error(text)
    assert diag.code == "E106" and kind in diag.message


def test_multiple_documents():
    assert _error("a: 1\n---\nb: 2\n")[0].code == "E101"


def test_deep_nesting_is_bounded():
    assert _error("a: " + "[" * 200 + "]" * 200 + "\n")[0].code == "E107"


def test_merge_keys_are_rejected():
    assert _error("base: &b {x: 1}\nother:\n  <<: *b\n")[0].code == "E108"


def test_bom_is_accepted():
    assert load_bytes(b"\xef\xbb\xbfa: 1\n", "s.yaml").data == {"a": 1}


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(SpecError) as info:
        load_file(str(tmp_path / "nope.yaml"))
    assert info.value.diagnostics[0].code == "E901"
    with pytest.raises(SpecError) as info:
        load_file(str(tmp_path))
    assert info.value.diagnostics[0].code == "E901"
