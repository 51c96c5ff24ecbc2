"""The τ search's fast paths give the numbers of the plain computation, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.fitting import initial


@pytest.mark.parametrize("c", [1, 2, 3, 4, 6])
def test_normal_equations_are_einsums(c: int) -> None:
    rng = np.random.default_rng(c)
    for s, m, n2 in ((1, 4, 122), (7, 4, 138), (40, 1, 9), (120, 4, 61)):
        # columns of very different scales, as the weighted basis columns are
        x = rng.standard_normal((s, m, n2, c)) * 10.0 ** rng.uniform(-6, 6, (s, 1, 1, c))
        y = rng.standard_normal((s, n2))
        a, b = initial._normal_equations(x, y)
        assert a.tobytes() == np.einsum("scmi,scmj->scij", x, x).tobytes()
        assert b.tobytes() == np.einsum("scmi,sm->sci", x, y).tobytes()


@pytest.mark.parametrize("kind", ["CPE", "C", "Wo", "G"])
def test_grid_responses_one_grid(kind: str) -> None:
    rng = np.random.default_rng(0)
    w = np.tile(2 * np.pi * np.logspace(6, -1, 57), (5, 1))
    tau = np.tile(10.0 ** np.arange(-7.0, 2.0), (5, 1))
    full = initial.unit_response(kind, 1j * w[:, None, :] * tau[:, :, None])
    one = initial._grid_responses(kind, w, tau)
    assert one.shape == (1, *full.shape[1:])
    assert np.broadcast_to(one, full.shape).tobytes() == full.tobytes()
    assert initial._grid_responses(kind, w.copy(), tau.copy()) is one   # kept
    # spectra on different grids: computed per spectrum
    w[2] *= 1.0 + rng.uniform(0.01, 0.1)
    assert initial._grid_responses(kind, w, tau).tobytes() == initial.unit_response(
        kind, 1j * w[:, None, :] * tau[:, :, None]).tobytes()
