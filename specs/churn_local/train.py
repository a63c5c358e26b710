"""Training for the churn example: a small PyTorch MLP on CPU (about a second).

mlopsc calls `train(data, hyperparameters, *, label, validation, seed, stratify)` inside an
MLflow run and logs what it returns: a model with `predict(DataFrame)` (churn probabilities
from raw customer columns) and a flat dict of float metrics (`val_auc` is the sweep objective).

torch is imported inside the functions that use it, so importing this file stays quick.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from features import TENURE_BUCKETS, customer_activity

NUMERIC = ("tenure_months", "monthly_spend", "orders_30d", "avg_order_value_30d")
LOG_SCALED = ("monthly_spend", "avg_order_value_30d")
CATEGORIES = {"plan": ("basic", "pro", "enterprise"), "tenure_bucket": TENURE_BUCKETS}


class ChurnModel:
    """The network (a torch module) plus its input encoding."""

    def __init__(self, net, mean: np.ndarray, std: np.ndarray):
        self.net = net.eval()
        self.mean = mean
        self.std = std

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

    def encode(self, df: pd.DataFrame):
        """The network's input: normalized features as a float32 tensor."""
        import torch

        x = (self.raw_features(df) - self.mean) / self.std
        return torch.from_numpy(np.nan_to_num(x, nan=0.0).astype(np.float32))

    def predict(self, df) -> np.ndarray:
        import torch

        if not isinstance(df, pd.DataFrame):
            df = pd.DataFrame.from_records(list(df))
        if len(df) == 0:
            return np.zeros(0)
        with torch.no_grad():
            return torch.sigmoid(self.net(self.encode(df)).squeeze(-1)).numpy().astype(np.float64)


def _split(df, label, validation, seed, stratify):
    rng = np.random.default_rng(seed)
    key = df[stratify or label].astype("object").to_numpy()
    val = np.zeros(len(df), dtype=bool)
    for value in pd.unique(key):
        idx = np.flatnonzero(key == value)
        val[rng.permutation(idx)[: round(len(idx) * validation)]] = True
    return df[~val], df[val]


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    pos = y.sum()
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * (len(y) - pos)))


def train(data: pd.DataFrame, hyperparameters: dict, *, label: str = "churned", validation: float = 0.2,
          seed: int = 42, stratify: str | None = None):
    import torch
    from torch import nn

    hp = {"lr": 0.005, "epochs": 8, "hidden": [32, 16], "batch_size": 512, **hyperparameters}
    train_df, val_df = _split(data, label, validation, seed, stratify)
    torch.set_num_threads(1)  # a model this small trains faster on one thread
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    raw = ChurnModel.raw_features(train_df)
    mean, std = np.nan_to_num(np.nanmean(raw, axis=0)), np.nanstd(raw, axis=0)
    std[~(std > 0)] = 1.0
    layers, width = [], raw.shape[1]
    for h in hp["hidden"]:
        layers += [nn.Linear(width, int(h)), nn.ReLU()]
        width = int(h)
    net = nn.Sequential(*layers, nn.Linear(width, 1))
    model = ChurnModel(net, mean, std)
    x = model.encode(train_df)
    y = torch.from_numpy(train_df[label].to_numpy(dtype=np.float32))
    opt = torch.optim.Adam(net.parameters(), lr=float(hp["lr"]))
    loss_fn = nn.BCEWithLogitsLoss()
    start = time.perf_counter()
    net.train()
    for _ in range(int(hp["epochs"])):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), int(hp["batch_size"])):
            idx = order[i:i + int(hp["batch_size"])]
            opt.zero_grad()
            loss = loss_fn(net(x[idx]).squeeze(-1), y[idx])
            loss.backward()
            opt.step()
    net.eval()
    y_val = val_df[label].to_numpy(dtype=bool)
    p_val = model.predict(val_df)
    metrics = {
        "val_auc": _auc(y_val, p_val),
        "val_accuracy": float(((p_val >= 0.5) == y_val).mean()),
        "train_loss": float(loss.item()),
        "train_seconds": time.perf_counter() - start,
    }
    return model, metrics
