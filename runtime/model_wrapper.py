"""The MLflow pyfunc that carries a trained model together with the spec's feature transforms.

Serving gets the raw columns a caller sends; training saw them after the feature views'
transforms. `FeatureModel` applies the same transform functions before the model predicts
(skipped when the input already holds the view's features, as in the evaluate step, which
applies the views itself). This module imports nothing from mlopsc: `tracking` pickles it by
value into the model, so MLflow (`mlflow.pyfunc.load_model`, `mlflow models serve`) loads the
model without mlopsc installed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import mlflow.pyfunc

with warnings.catch_warnings():  # MLflow warns at class creation about missing type hints
    warnings.simplefilter("ignore")

    class FeatureModel(mlflow.pyfunc.PythonModel):
        """`model.predict(DataFrame)` behind `transforms`: (function, the feature columns it adds)."""

        def __init__(self, model: Any, transforms: Sequence[tuple[Callable, Sequence[str]]] = ()):
            self.model = model
            self.transforms = [(fn, tuple(features)) for fn, features in transforms]

        def predict(self, context, model_input, params=None):
            import pandas as pd

            df = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
            for fn, features in self.transforms:
                if not features or not set(features) <= set(df.columns):
                    df = fn(df)
            return self.model.predict(df)
