"""The input checks over the document (compiler/rules/inputs.py): each class of bad input is
rejected at validate, located, also when the schema found other errors."""

from __future__ import annotations

import pytest
from mlopsc import api, units


def codes(tmp_path, text: str) -> list[tuple[int, str]]:
    path = tmp_path / "spec.yaml"
    path.write_text("apiVersion: mlopsc/v1\nname: demo\n" + text, encoding="utf-8")
    return [(d.line, d.code) for d in api.validate(str(path))]


@pytest.mark.parametrize("cron, ok", [("0 0 31 2 *", False), ("0 0 31 2,4 *", False), ("0 0 30 2,4 *", True), ("0 0 29 2 *", True),
                                      ("0 0 31 1-2 *", True), ("0 0 31 2 mon", True), ("0 0 31 feb *", False)])
def test_cron_dates_that_never_occur(cron, ok):
    if ok:
        units.cron(cron)
    else:
        with pytest.raises(ValueError, match="never occurs"):
            units.cron(cron)


def test_non_finite_and_huge_numbers(tmp_path):
    found = codes(tmp_path, "cost: {budget_monthly_usd: .nan, alert_at: 0.5}\n"
                            "training: {entrypoint: t.py:train, framework: sklearn, resources: {cpu: 1e300}}\n")
    assert (3, "E620") in found and (4, "E621") in found


def test_number_checks_run_when_the_schema_fails(tmp_path):
    found = codes(tmp_path, "unknown_key: 1\ncost: {budget_monthly_usd: .inf}\n")
    assert {c for _, c in found} >= {"E201", "E620"}


def test_limits_leave_hyperparameters_alone(tmp_path):
    found = codes(tmp_path, "training: {entrypoint: t.py:train, framework: sklearn,\n"
                            "  hyperparameters: {max_runtime: 400d, duration: 999d}}\n")
    assert found == []
