"""The DRT's stacked solve: the first-difference penalty's shortcut is LAPACK's solve, bit
for bit."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.validation import drt_solve


@pytest.mark.parametrize("seed", range(5))
def test_first_difference_shortcut_is_the_lu_solve_bit_for_bit(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(seed)
    n_stack, m, n = 7, 60, 41
    # columns of very different scales, as the weighted RC columns are
    a = rng.normal(size=(n_stack, m, n)) * 10.0 ** rng.uniform(-6, 6, size=(n_stack, 1, n))
    b = rng.normal(size=(n_stack, m))
    d = drt_solve.penalty_matrix(n, "first")
    lambdas = np.logspace(-8, 2, 51)
    fast = drt_solve.gcv_scores_stack(a, b, d, lambdas, n_fixed=2)
    monkeypatch.setattr(drt_solve, "_is_first_difference", lambda d: False)
    reference = drt_solve.gcv_scores_stack(a, b, d, lambdas, n_fixed=2)
    assert np.array_equal(fast, reference)


def test_only_the_first_difference_takes_the_shortcut() -> None:
    assert drt_solve._is_first_difference(drt_solve.penalty_matrix(9, "first"))
    assert not drt_solve._is_first_difference(drt_solve.penalty_matrix(9, "second"))
    assert not drt_solve._is_first_difference(drt_solve.penalty_matrix(9, "identity"))
    assert not drt_solve._is_first_difference(2.0 * drt_solve.penalty_matrix(9, "first"))
