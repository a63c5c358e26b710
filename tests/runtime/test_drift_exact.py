"""The fast KS / Wasserstein paths (the blocked KS, the run-ends search for few distinct values,
the merge-free W1 for equal sizes, the merged W1, the float fallback) give scipy's exact
statistics."""

import numpy as np
import pytest
from scipy.stats import ks_2samp, wasserstein_distance

from mlopsc.runtime import drift, drift_stats

CASES = [(1000, 1000, False), (1000, 733, False), (5000, 8000, True), (5000, 5000, True), (7, 5, True), (1, 1, False)]


@pytest.mark.parametrize("n,m,integers", CASES)
@pytest.mark.parametrize("need_ks,need_w", [(True, True), (True, False), (False, True)])
def test_statistics_equal_scipys(n, m, integers, need_ks, need_w):
    rng = np.random.default_rng(n + m)
    draw = (lambda k, lo: rng.integers(lo, lo + 20, k).astype(float)) if integers else (
        lambda k, lo: rng.normal(lo / 10, 1, k))
    a, b = np.sort(draw(n, 0)), np.sort(draw(m, 2))
    ks, w = drift_stats.ks_and_wasserstein(a, b, need_ks=need_ks, need_w=need_w)
    assert (ks is None) != need_ks and (w is None) != need_w
    if need_ks:
        assert ks == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)
        fks, _ = drift_stats.ks_and_wasserstein_float(a, b, True, False)
        assert fks == pytest.approx(ks, abs=1e-12)
    if need_w:
        assert w == pytest.approx(wasserstein_distance(a, b), rel=1e-9, abs=1e-12)


def test_the_columns_of_the_callers_frame_are_not_sorted_in_place():
    import pandas as pd

    frame = pd.DataFrame({"x": [3.0, 1.0, 2.0, np.nan], "y": [5.0, 4.0, 6.0, 1.0]})
    drift.compute_drift(frame, frame.iloc[::-1], method="ks", numeric=["x", "y"])
    assert frame["y"].tolist() == [5.0, 4.0, 6.0, 1.0] and frame["x"].tolist()[:3] == [3.0, 1.0, 2.0]


@pytest.mark.parametrize("seed", range(40))
def test_blocked_ks_equals_scipy_on_many_shapes(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 4000)), int(rng.integers(1, 4000))
    shift = rng.uniform(-0.3, 0.3) if seed % 2 else 0.0
    a = np.sort(np.round(rng.normal(0, 1, n), 1 + seed % 3))  # some ties within and across samples
    b = np.sort(np.round(rng.normal(shift, 1, m), 1 + seed % 3))
    assert drift_stats.ks_blocked(a, b) == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)
    if n != m:
        assert drift_stats.wasserstein_merged(a, b) == pytest.approx(wasserstein_distance(a, b), rel=1e-9, abs=1e-12)
