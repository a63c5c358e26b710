"""The small decisions of the Vertex rollout: the split arithmetic, the schedule per strategy and
the rollback rule from measured numbers (`rollout.breached_rule`), at their boundaries."""

from __future__ import annotations

import pytest
from mlopsc import ir
from mlopsc.runtime.platforms.vertex_api import split_with
from mlopsc.runtime.platforms.vertex_rollout import schedule
from mlopsc.runtime.rollout import breached_rule
from mlopsc.runtime.steps import StepFailed

RULES = ir.Rollback(max_error_rate=0.01, max_p99_latency_ms=200.0)


def strategy(kind: str, **kw) -> ir.Strategy:
    base = {"steps": (5, 25, 50, 100), "interval_seconds": 60, "sample": None, "split": None,
            "duration_seconds": None}
    return ir.Strategy(type=kind, **{**base, **kw})


@pytest.mark.parametrize("error_rate,p99,expected", [
    (0.01, 200.0, None), (None, None, None), (0.0, 199.9, None),
    (0.0101, 10.0, "error rate 0.0101 exceeds max_error_rate 0.01"),
    (0.0, 200.1, "p99 latency 200.1 ms exceeds max_p99_latency_ms 200"),
    (0.5, 900.0, "error rate 0.5 exceeds max_error_rate 0.01")])
def test_breached_rule_at_the_boundaries(error_rate, p99, expected):
    assert breached_rule(RULES, error_rate, p99) == expected
    assert breached_rule(None, 1.0, 1e9) is None


@pytest.mark.parametrize("current,percent,expected", [
    ({"a": 100}, 5, {"0": 5, "a": 95}),
    ({"a": 60, "b": 40}, 25, {"0": 25, "a": 45, "b": 30}),
    ({"a": 50, "b": 50}, 25, {"0": 25, "a": 38, "b": 37}),
    ({"a": 100}, 0, {"a": 100}),
    ({"a": 100}, 100, {"0": 100}),
    ({}, 5, {"0": 100})])
def test_split_keeps_the_others_in_proportion_and_sums_to_100(current, percent, expected):
    split = split_with(current, "0", percent)
    assert split == expected and sum(split.values()) == 100


def test_schedule_per_strategy():
    assert schedule(strategy("canary"), True) == (5, (25, 50, 100))
    assert schedule(strategy("canary"), False) == (100, ())  # nothing to compare with
    assert schedule(strategy("blue_green"), True) == (0, (100,))
    assert schedule(strategy("direct"), True) == (100, ())
    assert schedule(strategy("ab_test", split=0.2), True) == (20, ())
    with pytest.raises(StepFailed, match="shadow rollout is not walked"):
        schedule(strategy("shadow", sample=0.1), True)
