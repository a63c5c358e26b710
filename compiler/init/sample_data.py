"""The tabular template's sample data: deterministic CSV text, so `mlopsc run` works right after
`mlopsc init` (the spec's data checks and evaluation gate pass on it)."""

from __future__ import annotations

import math
import random

TRAIN_ROWS, HOLDOUT_ROWS = 2000, 600


def rows(count: int, seed: int, prefix: str) -> str:
    """`id,amount,tenure,label`: customers whose label follows amount and tenure, with noise."""
    rng = random.Random(seed)
    lines = ["id,amount,tenure,label"]
    for i in range(count):
        amount = round(rng.lognormvariate(3.5, 0.6), 2)
        tenure = rng.randint(0, 60)
        score = 1.6 * (math.log(amount) - 3.5) / 0.6 - 1.2 * (tenure - 30) / 17 + rng.gauss(0, 1.0)
        lines.append(f"{prefix}{i:05d},{amount},{tenure},{'true' if score > 0 else 'false'}")
    return "\n".join(lines) + "\n"


def files() -> dict[str, str]:
    return {"data/train.csv": rows(TRAIN_ROWS, 1, "c"), "data/holdout.csv": rows(HOLDOUT_ROWS, 2, "h")}
