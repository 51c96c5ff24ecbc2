"""drt_batch: each spectrum's result that of drt on it alone, bit for bit, however batched."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from eis_pipeline.exceptions import SpectrumError
from eis_pipeline.validation import drt as drt_module
from eis_pipeline.validation.drt import DrtResult, drt, drt_batch
from tests.validation import synthetic as syn


def _spectra(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Arcs with and without a blocking-electrode spike, noisy, on two grids (so the batch
    has several problem shapes), one spectrum on a cropped grid."""
    out = []
    for grid in (syn.sweep(1e7, 0.1), syn.sweep(1e6, 1.0)):
        for k in range(5):
            r1, r2 = rng.uniform(100, 2000, 2)
            z = (20.0 + syn.r_cpe(grid, r1, 1e-10 * rng.uniform(0.5, 2), 0.9)
                 + syn.r_cpe(grid, r2, 1e-8 * rng.uniform(0.5, 2), 0.85))
            if k % 2:
                z = z + 1.0 / (1e-6 * (2j * np.pi * grid) ** 0.8)
            out.append((grid, z * (1 + 0.005 * rng.standard_normal(grid.size))))
    grid, z = out[3]
    out.append((grid[:40], z[:40]))
    return out


def _assert_same(a: DrtResult, b: DrtResult) -> None:
    for field in fields(DrtResult):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), field.name
        else:
            assert x == y, field.name


@pytest.mark.parametrize("options", [{}, {"part": "imaginary"}, {"penalty": "second"},
                                     {"electrode": "drop"}, {"regularization": 1e-3}])
def test_batch_is_each_spectrum_alone(rng, options):
    spectra = _spectra(rng)
    batch = drt_batch([f for f, _ in spectra], [z for _, z in spectra], **options)
    assert len(batch) == len(spectra)
    for (f, z), result in zip(spectra, batch, strict=True):
        assert result is not None
        _assert_same(result, drt(f, z, **options))


def test_invalid_spectrum_is_none_or_raises(rng):
    (f, z), *_ = _spectra(rng)
    short = (f[:3], z[:3])
    results = drt_batch([f, short[0]], [z, short[1]], invalid="none")
    assert results[1] is None
    assert results[0] is not None
    _assert_same(results[0], drt(f, z))
    with pytest.raises(SpectrumError, match="drt"):
        drt_batch([f, short[0]], [z, short[1]])
    with pytest.raises(ValueError, match="penalty"):   # an option error raises either way
        drt_batch([f], [z], penalty="third", invalid="none")  # type: ignore[arg-type]


def test_a_stack_that_fails_is_solved_one_by_one(rng, monkeypatch):
    spectra = _spectra(rng)[:5]        # one grid, one shape: one stack
    alone = [drt(f, z) for f, z in spectra]
    real = drt_module.regularised_nnls_stack
    bad = spectra[2][1]

    def failing(a0, a1, b, d, regularization, lambdas):
        # a factorisation failing for one problem fails its whole stack
        if a0.shape[0] > 1 or np.array_equal(b[0], drt_module.stack_real_imag(
                bad * (1.0 / np.abs(bad)))):
            raise np.linalg.LinAlgError("SVD did not converge")
        return real(a0, a1, b, d, regularization, lambdas)

    monkeypatch.setattr(drt_module, "regularised_nnls_stack", failing)
    results = drt_batch([f for f, _ in spectra], [z for _, z in spectra], invalid="none")
    assert results[2] is None
    for i in (0, 1, 3, 4):
        result = results[i]
        assert result is not None
        _assert_same(result, alone[i])
    with pytest.raises(np.linalg.LinAlgError):
        drt_batch([f for f, _ in spectra], [z for _, z in spectra])


def test_dropping_a_spike_that_leaves_no_relaxation_is_a_clear_error():
    """A fast conductor: its arc lies above the window, so -Z'' falls from the first point and
    electrode="drop" keeps only that point (was an IndexError from the GCV choice)."""
    f = syn.sweep(1e6, 0.1)
    z = syn.r_cpe(f, 100.0, 1e-12, 0.9) + syn.cpe(f, 1e-6, 0.85)   # apex ~ 2 GHz
    with pytest.raises(SpectrumError, match=r"electrode spike's onset.*electrode='auto'"):
        drt(f, z, electrode="drop")
    good = syn.two_arcs_and_spike(f)
    out = drt_batch([f, f], [z, good], electrode="drop", invalid="none")
    assert out[0] is None and out[1] is not None
