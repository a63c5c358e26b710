"""Hyperparameter sweeps for the train step: the trials a strategy proposes.

- `grid`: the cartesian product of `choice` values and, for ranges, 3 evenly spaced points
  (log-spaced for `log_uniform`, integers for `int_uniform`); the first `max_trials` in order.
- `random`: `max_trials` independent draws, seeded, so the same spec proposes the same trials.
- `bayesian`: a local run has no Bayesian optimizer; it falls back to `random` and says so
  (SageMaker and Vertex run their own Bayesian tuners from the compiled pipeline).
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

from mlopsc import ir

GRID_POINTS = 3


def trials(sweep: ir.Sweep, seed: int = 0) -> tuple[list[dict[str, Any]], str | None]:
    """(the trial hyperparameter overrides, a note to print or None)."""
    note = None
    strategy = sweep.strategy
    if strategy == "bayesian":
        note = "bayesian sweep: a local run has no Bayesian optimizer; falling back to random search"
        strategy = "random"
    if strategy == "grid":
        axes = [[(p.name, v) for v in _grid_values(p)] for p in sweep.parameters]
        combos = [dict(c) for c in itertools.product(*axes)]
        if len(combos) > sweep.max_trials:
            note = f"grid of {len(combos)} points; running the first max_trials={sweep.max_trials}"
        return combos[: sweep.max_trials], note
    rng = random.Random(seed)
    return [{p.name: _draw(p, rng) for p in sweep.parameters} for _ in range(sweep.max_trials)], note


def _grid_values(p: ir.SweepParameter) -> list[Any]:
    values = ir.thaw(p.values)
    if p.distribution == "choice":
        return list(values)
    low, high = float(values[0]), float(values[1])
    if p.distribution == "log_uniform":
        return [math.exp(math.log(low) + i * (math.log(high) - math.log(low)) / (GRID_POINTS - 1))
                for i in range(GRID_POINTS)]
    if p.distribution == "int_uniform":
        return sorted({round(low + i * (high - low) / (GRID_POINTS - 1)) for i in range(GRID_POINTS)})
    return [low + i * (high - low) / (GRID_POINTS - 1) for i in range(GRID_POINTS)]


def _draw(p: ir.SweepParameter, rng: random.Random) -> Any:
    values = ir.thaw(p.values)
    if p.distribution == "choice":
        return values[rng.randrange(len(values))]
    low, high = float(values[0]), float(values[1])
    if p.distribution == "log_uniform":
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    if p.distribution == "int_uniform":
        return rng.randint(int(low), int(high))
    return rng.uniform(low, high)


def better(a: float, b: float | None, goal: str) -> bool:
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return True
    return a > b if goal == "maximize" else a < b
