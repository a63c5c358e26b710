"""Hyperparameter sweeps that run in-process (local runs, and the fallback on a cloud target
without a native tuner), driven by an Optuna study:

- `bayesian`: Optuna's TPE sampler;
- `random`: Optuna's random sampler;
- `grid`: Optuna's grid sampler over the `choice` values and, for ranges, 3 evenly spaced points
  (log-spaced for `log_uniform`, integers for `int_uniform`); at most `max_trials` of them.

Every sampler is seeded, so the same spec proposes the same trials. The objective is any metric
the training function reports (e.g. `val_auc`, `val_loss`); a trial that does not report it fails
the step, naming the metrics it did report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from mlopsc import ir

GRID_POINTS = 3
SAMPLERS = {"bayesian": "TPESampler", "random": "RandomSampler", "grid": "GridSampler"}


def grid_values(p: ir.SweepParameter) -> list[Any]:
    """The points a grid sweep tries for one parameter (choices encoded as Optuna stores them)."""
    values = ir.thaw(p.values)
    if p.distribution == "choice":
        return [_encode(v) for v in values]
    low, high = float(values[0]), float(values[1])
    if p.distribution == "log_uniform":
        # the ends exactly: Optuna warns about a grid point outside the range by a rounding error
        inner = [math.exp(math.log(low) + i * (math.log(high) - math.log(low)) / (GRID_POINTS - 1))
                 for i in range(1, GRID_POINTS - 1)]
        return [low, *inner, high]
    if p.distribution == "int_uniform":
        return sorted({round(low + i * (high - low) / (GRID_POINTS - 1)) for i in range(GRID_POINTS)})
    return [low + i * (high - low) / (GRID_POINTS - 1) for i in range(GRID_POINTS)]


def grid_size(sweep: ir.Sweep) -> int:
    return math.prod(len(grid_values(p)) for p in sweep.parameters)


def make_sampler(sweep: ir.Sweep, seed: int) -> Any:
    import optuna

    if sweep.strategy == "bayesian":
        # a few random trials first, so a short local sweep still gets TPE proposals
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(1, sweep.max_trials // 2)))
    if sweep.strategy == "grid":
        return optuna.samplers.GridSampler({p.name: grid_values(p) for p in sweep.parameters}, seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def make_study(sweep: ir.Sweep, seed: int = 0, storage: str | None = None, name: str = "sweep") -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction=sweep.goal, sampler=make_sampler(sweep, seed),
                               storage=storage, study_name=name, load_if_exists=False)


def trial_count(sweep: ir.Sweep) -> tuple[int, str | None]:
    """(how many trials run, a note to print or None)."""
    if sweep.strategy != "grid":
        return sweep.max_trials, None
    size = grid_size(sweep)
    if size > sweep.max_trials:
        return sweep.max_trials, f"grid of {size} points; running max_trials={sweep.max_trials} of them"
    return size, None


def suggest(trial: Any, sweep: ir.Sweep) -> dict[str, Any]:
    """The hyperparameter overrides an Optuna trial proposes for the spec's search space."""
    out = {}
    for p in sweep.parameters:
        values = ir.thaw(p.values)
        if p.distribution == "choice":
            options = {_encode(v): v for v in values}
            out[p.name] = options[trial.suggest_categorical(p.name, list(options))]
        elif p.distribution == "int_uniform":
            out[p.name] = trial.suggest_int(p.name, int(values[0]), int(values[1]))
        else:
            out[p.name] = trial.suggest_float(p.name, float(values[0]), float(values[1]),
                                              log=p.distribution == "log_uniform")
    return out


def run_study(sweep: ir.Sweep, objective: Callable[[int, dict[str, Any]], float], seed: int = 0,
              storage: str | None = None) -> Any:
    """Ask the study for each trial's overrides, `objective(number, overrides)` scores them, and
    tell the study; returns the study (its best trial is the one the step keeps)."""
    study = make_study(sweep, seed, storage)
    count, _ = trial_count(sweep)
    # optimize (not ask/tell): the grid sampler stops the study itself once its grid is done;
    # an exception in the objective fails the trial and propagates
    study.optimize(lambda trial: objective(trial.number, suggest(trial, sweep)), n_trials=count)
    return study


def _encode(value: Any) -> Any:
    # Optuna's categorical choices are scalars; a list or mapping choice travels as JSON text
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return json.dumps(value, sort_keys=True)
