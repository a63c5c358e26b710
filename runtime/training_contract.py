"""The training contract (docs/training-contract.md): what the train step accepts back from the
user's `train` function, and a StepFailed that names what came back instead.

    train(data, hyperparameters, *, label, validation, seed, stratify) -> (model, metrics)

Checked where the function returns, so a wrong return value fails the train step with one
sentence rather than passing it and failing later in evaluate with a traceback.
"""

from __future__ import annotations

import math
from typing import Any

from mlopsc.runtime.steps import StepFailed

DOC = "see docs/training-contract.md"


def checked(result: Any, entrypoint: str) -> tuple[Any, dict[str, float]]:
    """(model, metrics) from what `train` returned; a bare model means no metrics."""
    if isinstance(result, tuple):
        if len(result) != 2:
            raise StepFailed(f"{entrypoint} returned a tuple of {len(result)} values; "
                             f"the contract is `return model, metrics` ({DOC})")
        model, metrics = result
    else:
        model, metrics = result, {}
    _check_model(model, entrypoint)
    return model, _numbers(metrics, entrypoint)


def _check_model(model: Any, entrypoint: str) -> None:
    if model is None:
        raise StepFailed(f"{entrypoint} returned no model (None); return `model, metrics` ({DOC})")
    if isinstance(model, dict):
        raise StepFailed(f"{entrypoint} returned a dict where the model goes; return `model, metrics`, "
                         f"model first ({DOC})")
    # A torch module is called, not asked to predict; MLflow's pytorch flavor serves it.
    if not callable(getattr(model, "predict", None)) and not callable(model):
        raise StepFailed(f"{entrypoint} returned a model of type `{type(model).__name__}` with no "
                         f"`predict(DataFrame)` method; evaluate and serving call it ({DOC})")


def _numbers(metrics: Any, entrypoint: str) -> dict[str, float]:
    if metrics is None:
        return {}
    if not isinstance(metrics, dict):
        raise StepFailed(f"{entrypoint} returned metrics of type `{type(metrics).__name__}`; "
                         f"the contract wants a dict of metric name -> number ({DOC})")
    out = {}
    for name, value in metrics.items():
        try:
            out[str(name)] = float(value)
        except (TypeError, ValueError):
            raise StepFailed(f"{entrypoint} returned metric `{name}` as a `{type(value).__name__}`, "
                             f"not a number ({DOC})") from None
        if math.isinf(out[str(name)]):
            raise StepFailed(f"{entrypoint} returned metric `{name}` = {value}; metrics must be finite ({DOC})")
    return out
