"""The train step's check of what the user's train function returned (runtime/training_contract.py)."""

from __future__ import annotations

import pytest
from mlopsc.runtime.steps import StepFailed
from mlopsc.runtime.training_contract import checked


class Model:
    def predict(self, df):
        return [0.5] * len(df)


def test_a_model_and_its_metrics():
    model = Model()
    assert checked((model, {"auc": 1, "loss": "0.25"}), "train.py:train") == (model, {"auc": 1.0, "loss": 0.25})


def test_a_bare_model_means_no_metrics():
    model = Model()
    assert checked(model, "train.py:train") == (model, {})


@pytest.mark.parametrize("result, says", [
    ((Model(), {}, 3), "a tuple of 3 values"),
    ((None, {}), "no model (None)"),
    (({"auc": 0.9}, Model()), "a dict where the model goes"),
    (([1, 2], {}), "a model of type `list` with no `predict(DataFrame)` method"),
    ((Model(), [0.9]), "metrics of type `list`"),
    ((Model(), {"auc": "high"}), "metric `auc` as a `str`, not a number"),
    ((Model(), {"auc": float("inf")}), "metrics must be finite"),
])
def test_a_wrong_return_value_is_named(result, says):
    with pytest.raises(StepFailed, match="train.py:train returned") as info:
        checked(result, "train.py:train")
    assert says in str(info.value) and "docs/training-contract.md" in str(info.value)
