"""Estimates for every example on every target, with lines recomputed by hand from the tables."""

import datetime
import json
import os

import pytest
from mlopsc.cost import PriceBook, estimate
from mlopsc.cost import prices as price_tables
from mlopsc.cost.schedule import runs_per_month

from tests.example_specs import load_example

EXAMPLES = ("churn", "churn-local", "support-assistant")
TARGETS = ("kubeflow", "local", "sagemaker", "vertex")


def _line(est, section, name):
    return next(ln for ln in est.lines if ln.section == section and ln.name == name)


def _table(name):
    return price_tables.shipped(name)


@pytest.mark.parametrize("spec", EXAMPLES)
@pytest.mark.parametrize("target", TARGETS)
def test_every_example_and_target_is_priced_and_stable(spec, target):
    project = load_example(spec)
    first, second = estimate(project, target), estimate(project, target)
    assert first.as_dict() == second.as_dict()  # deterministic
    assert not [n for n in first.notes if n.startswith("no ")], first.notes  # nothing unpriced
    assert 0 < first.low_usd <= first.high_usd
    assert first.high_usd == round(sum(ln.high_usd for ln in first.lines), 2)
    assert {ln.section for ln in first.lines} >= {"train", "monitor", "serving"}


def test_sagemaker_spot_training_by_hand():
    """churn: weekly schedule (52/12 = 4.345 runs) + data trigger (4) runs x 2 h x 20 trials on ml.g4dn.xlarge, 70% off."""
    est = estimate(load_example("churn"), "sagemaker")
    line = _line(est, "train", "train")
    price = _table("sagemaker")["instances"]["ml.g4dn.xlarge"]
    assert line.resource == "ml.g4dn.xlarge" and price == 0.736
    runs = 365 / 12 / 7 + 4
    assert line.quantity_high == pytest.approx(runs * 2 * 20)
    assert line.high_usd == round(runs * 2 * 20 * price * (1 - 0.7), 2) == 73.71


def test_sagemaker_serving_by_hand():
    """1-10 replicas of ml.m5.large (2 vCPU, 8 GiB covers 2 cpu / 4Gi) for 730 h per environment."""
    est = estimate(load_example("churn"), "sagemaker")
    line = _line(est, "serving", "production")
    assert line.resource == "ml.m5.large"
    assert (line.low_usd, line.high_usd) == (round(730 * 0.115, 2), round(7300 * 0.115, 2)) == (83.95, 839.5)
    assert (line.span.line, line.span.col) == (95, 18)  # deployment.serving.autoscaling


def test_vertex_attached_gpu_by_hand():
    """Vertex attaches a T4 to an N1 machine: (n1-highmem-4 + T4) per hour, no spot on Vertex."""
    est = estimate(load_example("churn"), "vertex")
    line = _line(est, "train", "train")
    table = _table("vertex")
    assert line.resource == "n1-highmem-4 + 1 x NVIDIA_TESLA_T4"
    hourly = table["machines"]["n1-highmem-4"] + table["accelerators"]["NVIDIA_TESLA_T4"]
    runs = 365 / 12 / 7 + 4
    assert line.high_usd == round(runs * 2 * 20 * hourly, 2)


def test_kubeflow_pod_share_and_monitor_schedule_by_hand():
    """detect-drift: 1 cpu / 4Gi is half an m5.large; daily schedule = 730/24 runs x 0.25 h."""
    est = estimate(load_example("churn"), "kubeflow")
    line = _line(est, "monitor", "detect-drift")
    node = _table("kubernetes")["nodes"]["m5.large"]
    assert line.resource == "0.5 x m5.large"
    assert line.high_usd == round(730 / 24 * 0.25 * node["usd_per_hour"] * 0.5, 2) == 0.37


def test_scale_to_zero_and_gateway_tokens():
    est = estimate(load_example("support-assistant"), "sagemaker")
    serving = _line(est, "serving", "production")
    price = _table("sagemaker")["instances"]["ml.g6.xlarge"]
    # a GPU endpoint cannot scale to zero on SageMaker (the target keeps one instance): 1-4 replicas
    assert serving.resource == "ml.g6.xlarge" and serving.low_usd == round(730 * price, 2)
    assert serving.high_usd == round(4 * 730 * price, 2)
    assert _line(estimate(load_example("support-assistant"), "vertex"), "serving", "production").low_usd == 0.0
    tokens = _line(est, "llm", "fallback")
    assert tokens.high_usd == 2000.0 and tokens.low_usd == 0.0  # the gateway budget caps the spend
    assert tokens.quantity_high == pytest.approx(2000 / _table("tokens")["models"]["gpt-4o-mini"], rel=1e-4)


def test_user_prices_override_the_shipped_table(tmp_path):
    own = tmp_path / "prices.json"
    own.write_text(json.dumps({"sagemaker": {"instances": {"ml.m5.large": 0.05}},
                               "kubernetes": {"nodes": {"m5.large": {"cpu": 2, "memory_gib": 8, "usd_per_hour": 0.01}}}}))
    book = PriceBook(price_tables.read_overrides(str(own)))
    project = load_example("churn")
    assert _line(estimate(project, "sagemaker", book), "serving", "production").high_usd == 7300 * 0.05
    assert _line(estimate(project, "kubeflow", book), "serving", "production").high_usd == round(7300 * 0.01, 2)
    # everything not named keeps the shipped price
    assert _line(estimate(project, "sagemaker", book), "train", "train").resource == "ml.g4dn.xlarge"


def test_bad_price_file_is_a_usage_error(tmp_path):
    bad = tmp_path / "prices.json"
    bad.write_text('{"aws": {}}')
    with pytest.raises(price_tables.PricesError, match="keys among"):
        price_tables.read_overrides(str(bad))


def test_history_median_replaces_the_ceiling_at_the_low_end():
    project = load_example("churn-local")
    est = estimate(project, "local", history={"train": [0.01, 0.03, 0.02]})
    line = _line(est, "train", "train")
    assert line.quantity_low == pytest.approx(4 * 3 * 0.02)  # 4 manual runs x 3 trials x median
    assert line.quantity_high == pytest.approx(4 * 3 * 600 / 3600)  # max_runtime stays the ceiling


def test_stale_tables_are_named():
    book = PriceBook()
    book.table("sagemaker")
    as_of = datetime.date.fromisoformat(_table("sagemaker")["as_of"])
    assert price_tables.stale_notes(book, as_of + datetime.timedelta(days=180)) == []
    [note] = price_tables.stale_notes(book, as_of + datetime.timedelta(days=181))
    assert "`sagemaker` is 181 days old" in note


def test_tables_are_dated_and_sourced():
    folder = os.path.join(os.path.dirname(price_tables.__file__), "prices")
    for name in price_tables.TABLES:
        table = price_tables.shipped(name)
        datetime.date.fromisoformat(table["as_of"])
        assert table["source"].count("https://") >= 1, name
    assert sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".json")) == sorted(price_tables.TABLES)


def test_every_instance_the_targets_map_to_has_a_price():
    from mlopsc.targets.sagemaker import instance_types
    from mlopsc.targets.vertex import machines

    assert {row.name for row in instance_types.TABLE} <= set(_table("sagemaker")["instances"])
    assert set(machines.KNOWN) <= set(_table("vertex")["machines"])
    attached = {a for a in machines.ACCELERATORS.values() if a in machines.ATTACHED_GPU}
    assert attached <= set(_table("vertex")["accelerators"])


@pytest.mark.parametrize("cron, runs", [("0 3 * * 0", 365 / 12 / 7), ("0 6 * * *", 730 / 24),
                                        ("0 */6 * * *", 4 * 730 / 24), ("0 0 1 * *", 1.0),
                                        ("0 0 * 1-6 mon-fri", 5 / 7 * 730 / 24 / 2)])
def test_runs_per_month(cron, runs):
    assert runs_per_month(cron) == pytest.approx(runs)


def test_the_specs_region_scales_the_rates(tmp_path):
    from mlopsc import api

    from tests.example_specs import ROOT

    with open(os.path.join(ROOT, "specs", "churn.yaml"), encoding="utf-8") as fh:
        text = fh.read().replace("    region: us-east-1\n", "    region: eu-west-1\n")
    os.symlink(os.path.join(ROOT, "specs", "churn_local"), tmp_path / "churn_local")
    (tmp_path / "churn.yaml").write_text(text, encoding="utf-8")
    est = estimate(api.load_project(str(tmp_path / "churn.yaml")), "sagemaker")
    factor = _table("sagemaker")["region_factors"]["eu-west-1"]
    assert _line(est, "serving", "production").high_usd == round(7300 * 0.115 * factor, 2)
    assert "eu-west-1 at 1.1x us-east-1 rates" in est.notes
