"""The example's training function: a small PyTorch MLP on CPU (a few seconds).

    model, metrics = train(df, {"lr": 0.001, "epochs": 20, "hidden": [64, 32], "batch_size": 256})
    model.predict(new_customers)  # churn probabilities; raw columns are enough

The training contract mlopsc calls (`training.entrypoint: train.py:train`) is
`train(data, hyperparameters, *, label, validation, seed) -> (model, metrics)`: `data` is a
DataFrame (split here, stratified by the label) or `{"train": df, "validation": df}`;
`model` has `predict(DataFrame)`; `metrics` is a flat dict of floats.

`threads` defaults to 1: for a model this small, torch's intra-op threads cost more than they
save (0.4 s on one thread against 2.6 s on two, measured on a 2-core box).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from mlopsc.runtime.example_churn.data import PLANS
from mlopsc.runtime.example_churn.features import TENURE_BUCKETS, customer_activity
from mlopsc.runtime.metrics import classification_metrics
from torch import nn

NUMERIC = ("tenure_months", "monthly_spend", "orders_30d", "avg_order_value_30d")
LOG_SCALED = ("monthly_spend", "avg_order_value_30d")
CATEGORIES = {"plan": PLANS, "tenure_bucket": TENURE_BUCKETS}
DEFAULTS = {"lr": 0.001, "epochs": 20, "hidden": [64, 32], "batch_size": 256, "weight_decay": 0.0}


class ChurnModel:
    """An MLP plus its input encoding; `predict(df)` returns churn probabilities."""

    def __init__(self, net: nn.Module, mean: np.ndarray, std: np.ndarray, threshold: float = 0.5):
        self.net = net.eval()
        self.mean = mean
        self.std = std
        self.threshold = threshold

    @staticmethod
    def raw_features(df: pd.DataFrame) -> np.ndarray:
        if "avg_order_value_30d" not in df.columns or "tenure_bucket" not in df.columns:
            df = customer_activity(df)
        cols = []
        for name in NUMERIC:
            v = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            cols.append(np.log1p(np.maximum(v, 0)) if name in LOG_SCALED else v)
        for name, values in CATEGORIES.items():
            s = df[name].astype("object")
            cols.extend((s == v).to_numpy(dtype="float64") for v in values)
        return np.column_stack(cols)

    def encode(self, df: pd.DataFrame) -> torch.Tensor:
        x = (self.raw_features(df) - self.mean) / self.std
        return torch.from_numpy(np.nan_to_num(x, nan=0.0).astype(np.float32))

    def predict(self, df: Any) -> np.ndarray:
        if not isinstance(df, pd.DataFrame):
            df = pd.DataFrame.from_records(list(df))
        if len(df) == 0:
            return np.zeros(0)
        with torch.no_grad():
            return torch.sigmoid(self.net(self.encode(df)).squeeze(-1)).numpy().astype(np.float64)

    def predict_label(self, df: Any) -> np.ndarray:
        return self.predict(df) >= self.threshold


def split(df: pd.DataFrame, label: str, validation: float = 0.2, seed: int = 42,
          stratify: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A deterministic (seeded) split; stratified by `stratify` (default: the label)."""
    rng = np.random.default_rng(seed)
    key = df[stratify or label].astype("object").to_numpy()
    val_mask = np.zeros(len(df), dtype=bool)
    for value in pd.unique(key):
        idx = np.flatnonzero(key == value)
        take = round(len(idx) * validation)
        val_mask[rng.permutation(idx)[:take]] = True
    return df[~val_mask], df[val_mask]


def build_net(inputs: int, hidden: list[int]) -> nn.Module:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(inputs, int(width)), nn.ReLU()]
        inputs = int(width)
    layers.append(nn.Linear(inputs, 1))
    return nn.Sequential(*layers)


def train(
    data: pd.DataFrame | Mapping[str, pd.DataFrame],
    hyperparameters: Mapping[str, Any] | None = None,
    *,
    label: str = "churned",
    validation: float = 0.2,
    seed: int = 42,
    stratify: str | None = None,
    threads: int | None = 1,
) -> tuple[ChurnModel, dict[str, float]]:
    hp = {**DEFAULTS, **dict(hyperparameters or {})}
    if isinstance(data, Mapping):
        train_df, val_df = data["train"], data["validation"]
    else:
        train_df, val_df = split(data, label, validation, seed, stratify)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)

    raw = ChurnModel.raw_features(train_df)
    mean = np.nanmean(raw, axis=0)
    std = np.nanstd(raw, axis=0)
    std[~(std > 0)] = 1.0
    mean = np.nan_to_num(mean)
    net = build_net(raw.shape[1], list(hp["hidden"]))
    model = ChurnModel(net, mean, std)
    x = model.encode(train_df)
    y = torch.from_numpy(train_df[label].to_numpy(dtype=np.float32))

    opt = torch.optim.Adam(net.parameters(), lr=float(hp["lr"]), weight_decay=float(hp["weight_decay"]))
    loss_fn = nn.BCEWithLogitsLoss()
    batch = int(hp["batch_size"])
    start = time.perf_counter()
    net.train()
    epoch_loss = float("nan")
    for _ in range(int(hp["epochs"])):
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(net(x[idx]).squeeze(-1), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        epoch_loss = total / max(len(x), 1)
    net.eval()
    seconds = time.perf_counter() - start

    val = classification_metrics(val_df[label].to_numpy(dtype=bool), model.predict(val_df), model.threshold)
    metrics = {f"val_{k}": float(v) for k, v in val.items()}
    metrics.update(train_loss=float(epoch_loss), train_rows=float(len(train_df)),
                   val_rows=float(len(val_df)), train_seconds=float(seconds))
    return model, metrics
