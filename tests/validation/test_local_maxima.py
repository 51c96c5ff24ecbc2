"""drt.local_maxima: the same peaks and prominences as scipy.signal.find_peaks, bit for bit."""

import numpy as np
import pytest
import scipy.signal

from eis_pipeline.validation.drt import local_maxima


def _same_as_scipy(x: np.ndarray) -> None:
    want, props = scipy.signal.find_peaks(x, prominence=0.0)
    got, prominences = local_maxima(x)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype
    # bit for bit: the same minima and one subtraction
    np.testing.assert_array_equal(prominences, props["prominences"])


EDGE_CASES = [
    [], [1.0], [1.0, 2.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0] * 10, [3.0] * 5,
    [0.0, 1.0, 1.0, 0.0],                 # a plateau of two: the left one
    [0.0, 1.0, 1.0, 1.0, 0.0],            # of three: the middle
    [0.0, 1.0, 1.0],                      # a plateau running into the end: no peak
    [1.0, 1.0, 0.0, 2.0, 2.0, 2.0, 2.0, 1.0],
    [0.0, 2.0, 1.0, 2.0, 0.0],            # equal peaks: each other's side bound
    [0.0, 2.0, 1.0, 3.0, 1.0, 2.0, 0.0],
    [5.0, 0.0, 1.0, 0.0, 5.0],            # lower than both ends
    [0.0, 1.0, np.nan, 1.0, 0.0],         # NaN next to a rise: no peak there
    [0.0, 2.0, 0.0, np.nan, 0.0, 3.0, 1.0],   # NaN stops the base search
    [np.nan, 0.0, 1.0, 0.0, np.nan],
    [np.nan] * 4,
    [0.0, np.inf, 0.0, 1.0, 0.0],
    [-np.inf, 0.0, -np.inf, 1.0, 0.5],
    [0.0, -0.0, 1.0, -0.0, 0.0],          # -0.0 == 0.0
    [0.0, 1e-300, 0.0, 1e300, 0.0],
]


@pytest.mark.parametrize("values", EDGE_CASES)
def test_edge_cases(values: list[float]) -> None:
    _same_as_scipy(np.array(values, dtype=float))


def test_random_arrays_with_ties_plateaus_and_nans() -> None:
    rng = np.random.default_rng(12345)
    for trial in range(3000):
        n = int(rng.integers(0, 130))
        kind = trial % 4
        if kind == 0:      # continuous: no ties
            x = rng.normal(size=n)
        elif kind == 1:    # few levels: ties and plateaus everywhere
            x = rng.integers(0, 4, size=n).astype(float)
        elif kind == 2:    # a DRT-like γ: smooth bumps on zeros (NNLS leaves exact zeros)
            t = np.linspace(0.0, 1.0, n)
            x = sum(rng.uniform(0, 5) * np.exp(-((t - rng.uniform()) / 0.05) ** 2)
                    for _ in range(3)) * np.ones(n)
            x[x < 0.3 * x.max(initial=0.0)] = 0.0
        else:              # ties with NaNs mixed in
            x = rng.integers(0, 3, size=n).astype(float)
            x[rng.random(n) < 0.1] = np.nan
        _same_as_scipy(x)

