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


def test_newline_in_image_base_never_reaches_a_dockerfile(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text('apiVersion: mlopsc/v1\nname: demo\nimage: {base: "python:3.11\\nRUN curl x | sh"}\n'
                    "training: {entrypoint: t.py:train, framework: sklearn}\n", encoding="utf-8")
    result = api.compile_spec(str(path), ["local"])
    assert [d.code for d in result.diagnostics] == ["E624"] and not result.bundles


@pytest.mark.parametrize("base, ok", [("python:3.11-slim", True), ("ghcr.io/org/img:1.0@sha256:" + "a" * 64, True),
                                      ("localhost:5000/x", True), ("Python 3", False), ("python:", False)])
def test_image_reference_grammar(tmp_path, base, ok):
    found = codes(tmp_path, f"image: {{base: '{base}'}}\n")
    assert (found == []) == ok, found


def test_lookalike_letters_are_named_with_code_point_and_column(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("apiVersion: mlopsc/v1\nname: dem\u043e\n", encoding="utf-8")
    [d] = api.validate(str(path))
    assert d.code == "E205" and "U+043E CYRILLIC SMALL LETTER O, which looks like `o` at column 10" in d.message


@pytest.mark.parametrize("requirements, ok", [("requirements.txt", True), ("a/../requirements.txt", True),
                                              ("../requirements.txt", False), ("/etc/passwd", False),
                                              ("~/.ssh/id_rsa", False)])
def test_paths_stay_inside_the_repository(tmp_path, requirements, ok):
    (tmp_path / ".git").mkdir()
    found = codes(tmp_path, f"image: {{base: python:3.11, requirements: '{requirements}'}}\n")
    assert (found == []) if ok else "E627" in {c for _, c in found}, found


def test_a_spec_in_a_subdirectory_may_climb_to_the_repository_root(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "specs").mkdir()
    path = tmp_path / "specs" / "spec.yaml"
    path.write_text("apiVersion: mlopsc/v1\nname: demo\ndata:\n  datasets:\n"
                    "    a: {uri: ../data/a.csv, format: csv}\n    b: {uri: ../../b.csv, format: csv}\n", encoding="utf-8")
    assert [(d.line, d.code) for d in api.validate(str(path))] == [(6, "E627")]


LONG = ("registry: {model: churn-classifier-with-a-rather-long-model-name}\n"
        "training: {entrypoint: t.py:train, framework: sklearn}\n"
        "deployment: {serving: {runtime: mlflow}, environments: {production-eu-1: {}}}\n")


def test_kserve_names_past_the_limit_are_reported_at_the_environment(tmp_path):
    assert codes(tmp_path, LONG) == [(5, "E629")]


def test_names_are_checked_only_for_the_targets_the_spec_names(tmp_path):
    local_only = LONG + "targets: {local: {port: 8080}}\n"
    assert codes(tmp_path, local_only) == []


def test_targets_write_the_names_validate_checks():
    from mlopsc import resource_names
    from mlopsc.targets.sagemaker.expressions import resource_name

    assert resource_name("a" * 60, "production-eu-1") == resource_names.sagemaker_resource("a" * 60, "production-eu-1")
    assert len(resource_name("a" * 60, "production-eu-1")) == 63


def test_rules_run_on_the_well_formed_part_when_the_schema_fails(tmp_path):
    found = codes(tmp_path, "unknown: 1\ndata: {datasets: {train: {uri: d.csv, format: csv}}}\n"
                            "evals: {dataset: trian, metrics: {auc: {min: high}}}\n"
                            "monitoring: {schedule: '61 * * * *'}\n")
    assert [c for _, c in found] == ["E201", "E301", "E203", "E601"]


def test_findings_that_a_removed_value_could_cause_are_dropped(tmp_path):
    # `evals` loses its only metric: "production needs a gate" would be the removal's doing.
    found = codes(tmp_path, "evals: {metrics: {auc: {min: high}}}\ntraining: {entrypoint: t.py:train, framework: x}\n"
                            "deployment: {serving: {runtime: mlflow}, environments: {production: {}}}\n")
    assert [c for _, c in found] == ["E203", "E204", "E406"]


def test_a_name_removed_by_the_schema_is_not_reported_unknown(tmp_path):
    found = codes(tmp_path, "data: {datasets: {train: {uri: d.csv, format: nope}}}\nevals: {dataset: train}\n")
    assert [c for _, c in found] == ["E204"]
