"""In-process sweeps run an Optuna study: the strategy picks the sampler, trials are nested MLflow
runs, and the best trial's model is the one the train step hands on."""

import math

import mlflow
import optuna
import pytest
from mlflow import MlflowClient
from mlopsc import ir
from mlopsc.runtime import actions_train
from mlopsc.runtime import sweep as sw


def make_sweep(strategy, max_trials=12, goal="minimize", parameters=None):
    params = parameters or (
        ir.SweepParameter(name="x", distribution="uniform", values=(-3.0, 3.0)),
        ir.SweepParameter(name="lr", distribution="log_uniform", values=(1e-4, 1e-1)),
    )
    return ir.Sweep(strategy=strategy, metric="val_loss", goal=goal, max_trials=max_trials,
                    parallel_trials=1, parameters=params)


def quadratic(_number, hp):
    return (hp["x"] - 1.0) ** 2 + abs(math.log10(hp["lr"]) + 2)


@pytest.mark.parametrize("strategy, sampler", [("bayesian", optuna.samplers.TPESampler),
                                                ("random", optuna.samplers.RandomSampler),
                                                ("grid", optuna.samplers.GridSampler)])
def test_the_strategy_picks_the_optuna_sampler(strategy, sampler):
    study = sw.run_study(make_sweep(strategy), quadratic, seed=3)
    assert type(study.sampler) is sampler
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    values = [t.value for t in study.trials]
    assert study.best_value == min(values)


def test_a_bayesian_study_proposes_with_tpe_after_its_startup_trials():
    sweep = make_sweep("bayesian", max_trials=30)
    study = sw.run_study(sweep, quadratic, seed=0)
    assert isinstance(study.sampler, optuna.samplers.TPESampler)
    assert len(study.trials) == 30
    # TPE concentrates near the optimum: later trials beat the random startup ones on average
    startup = [t.value for t in study.trials[:10]]
    guided = [t.value for t in study.trials[-10:]]
    assert sum(guided) / 10 < sum(startup) / 10
    assert abs(study.best_params["x"] - 1.0) < 0.5


def test_the_same_seed_proposes_the_same_trials():
    a = sw.run_study(make_sweep("bayesian"), quadratic, seed=7)
    b = sw.run_study(make_sweep("bayesian"), quadratic, seed=7)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_a_grid_covers_its_points_and_stops_at_max_trials():
    params = (ir.SweepParameter(name="x", distribution="choice", values=(0.0, 1.0, 2.0)),
              ir.SweepParameter(name="lr", distribution="log_uniform", values=(1e-3, 1e-1)))
    full = sw.run_study(make_sweep("grid", max_trials=50, parameters=params), quadratic)
    assert len(full.trials) == 9
    assert sorted({(t.params["x"], round(t.params["lr"], 6)) for t in full.trials}) == sorted(
        (x, lr) for x in (0.0, 1.0, 2.0) for lr in (0.001, 0.01, 0.1))
    assert full.best_params["x"] == 1.0 and round(full.best_params["lr"], 6) == 0.01
    capped = sw.run_study(make_sweep("grid", max_trials=4, parameters=params), quadratic)
    assert len(capped.trials) == 4
    assert sw.trial_count(make_sweep("grid", max_trials=4, parameters=params))[1].startswith("grid of 9 points")


def test_list_choices_come_back_as_lists():
    params = (ir.SweepParameter(name="hidden", distribution="choice", values=((32, 16), (64,), "wide")),)
    seen = []
    sw.run_study(make_sweep("grid", parameters=params), lambda _n, hp: seen.append(hp["hidden"]) or 0.0)
    assert sorted(map(str, seen)) == sorted(map(str, [[32, 16], [64], "wide"]))


class Tracker:
    """The train step's tracker surface that run_sweep uses, over the active MLflow run."""

    def log_params(self, params):
        mlflow.log_params({k: str(v) for k, v in params.items()})

    def log_metrics(self, metrics):
        mlflow.log_metrics(metrics)

    def set_tags(self, tags):
        mlflow.set_tags(tags)


def test_trials_are_nested_runs_and_the_best_trials_model_is_kept(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        run_a_sweep()
    finally:
        mlflow.set_tracking_uri(None)  # also unsets the MLFLOW_TRACKING_URI it exported


def run_a_sweep():
    sweep = make_sweep("bayesian", max_trials=6, goal="maximize")

    def fit(hp):
        score = -quadratic(0, hp)
        return {"model_for_x": hp["x"]}, {"val_loss": score, "train_loss": score - 1}

    ctx = type("C", (), {"project": type("P", (), {"data": None})(), "log": lambda self, m: None})()
    with mlflow.start_run(run_name="train") as parent:
        model, metrics, hp = actions_train.run_sweep(ctx, Tracker(), sweep, {"epochs": 2}, fit)
    client = MlflowClient()
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(children) == 6
    best_child = max(children, key=lambda r: r.data.metrics["val_loss"])
    assert metrics["val_loss"] == best_child.data.metrics["val_loss"]
    assert model == {"model_for_x": hp["x"]} and str(hp["x"]) == best_child.data.params["x"]
    tags = client.get_run(parent.info.run_id).data.tags
    assert tags["mlopsc.sweep.sampler"] == "TPESampler" and tags["mlopsc.sweep.trials"] == "6"
