"""Classification metrics in numpy (no scikit-learn needed at run time)."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney U) formula; ties count half."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def confusion(y_true, y_pred) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn)."""
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(y_pred).astype(bool)
    return int((y & p).sum()), int((~y & p).sum()), int((y & ~p).sum()), int((~y & ~p).sum())


def classification_metrics(y_true, probabilities, threshold: float = 0.5) -> dict[str, float]:
    """auc, accuracy, precision, recall, f1 (at `threshold`) and log loss, in a fixed order."""
    y = np.asarray(y_true).astype(bool)
    prob = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-7, 1 - 1e-7)
    tp, fp, fn, tn = confusion(y, prob >= threshold)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "auc": roc_auc(y, prob),
        "accuracy": (tp + tn) / max(len(y), 1),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "log_loss": float(-np.mean(np.where(y, np.log(prob), np.log(1 - prob)))) if len(y) else float("nan"),
    }
