"""Our fast validator reports exactly what jsonschema's Draft 2020-12 validator reports."""

from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator
from mlopsc.schema import schema
from mlopsc.validator import Validator, make_validator, unsupported_keywords
from test_mutations import BASES, mutants


def _signature(errors):
    def one(e):
        return (tuple(e.absolute_path), e.validator, repr(e.instance))
    return sorted({one(e) for e in errors})


def _both(data):
    ours = Validator(schema()).iter_errors(data)
    theirs = Draft202012Validator(schema()).iter_errors(data)
    return _signature(ours), _signature(theirs)


def test_schema_uses_only_supported_keywords():
    assert unsupported_keywords(schema()) == set()
    assert isinstance(make_validator(schema()), Validator)


def test_unknown_keyword_falls_back_to_jsonschema():
    fallback = make_validator({"type": "object", "dependentRequired": {"a": ["b"]}})
    assert isinstance(fallback, Draft202012Validator)


def test_examples_are_valid_for_both():
    for base in BASES:
        assert _both(base) == ([], [])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutants())
def test_same_errors_as_jsonschema_on_mutants(tree):
    ours, theirs = _both(tree)
    assert ours == theirs


def test_type_edge_cases_match():
    probe = {"type": "object", "properties": {
        "i": {"type": "integer"}, "n": {"type": "number"}, "e": {"enum": [1, "a", [1], {"k": True}]},
        "u": {"type": "array", "uniqueItems": True}, "c": {"const": False},
    }}
    cases = [{"i": 1.0}, {"i": True}, {"n": True}, {"e": 1.0}, {"e": True}, {"e": [1.0]}, {"e": {"k": 1}},
             {"u": [1, 1.0]}, {"u": [True, 1]}, {"c": 0}, {"c": False}]
    for case in cases:
        ours = _signature(Validator(probe).iter_errors(case))
        theirs = _signature(Draft202012Validator(probe).iter_errors(case))
        assert ours == theirs, case
