"""kramers_kronig_batch: the same verdicts and numbers as the spectrum-by-spectrum test.

Also against an independent reference of the M search built on scipy.linalg.lstsq (gelsy,
the solve the test used before it was batched), on synthetic, demo and real spectra.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg

from eis_pipeline.exceptions import SpectrumError
from eis_pipeline.validation import kramers_kronig as kk
from eis_pipeline.validation.kramers_kronig import kramers_kronig, kramers_kronig_batch
from tests.validation import synthetic as syn

ROOT = Path(__file__).resolve().parents[2]
FIELDS = ("max_residual", "noise_estimate", "autocorrelation", "autocorrelation_z",
          "residual_real", "residual_imag", "candidate_variance", "candidate_mu")


def _mixed_set() -> list[tuple[np.ndarray, np.ndarray]]:
    """Shared grids (with and without a spike), another grid, one reversed: several groups."""
    rng = np.random.default_rng(11)
    f = syn.sweep(1e7, 0.1)
    short = syn.sweep(1e6, 1.0)
    out = [(f, syn.add_noise(syn.two_arcs_and_spike(f), rng, 0.002 * (1 + k % 3)))
           for k in range(4)]
    out += [(f, syn.add_noise(syn.drifting(f, 0.05, electrode=False), rng, 0.002)),
            (f, syn.add_noise(20 + syn.r_cpe(f, 1000, 1e-7, 0.9), rng, 0.005)),
            (short, syn.add_noise(20 + syn.r_cpe(short, 1000, 1e-7, 0.9), rng, 0.002)),
            (f[::-1], syn.add_noise(syn.two_arcs_and_spike(f[::-1]), rng, 0.002))]
    return out


def _demo_set() -> list[tuple[np.ndarray, np.ndarray]]:
    from eis_pipeline import read_spectra

    files = sorted(p for p in (ROOT / "sample_data").glob("*/*") if p.suffix in (".DTA", ".mpt"))
    if not files:
        pytest.skip("sample_data/ not present")
    return [(ds["frequency"].values, ds["impedance"].values) for p in files
            for ds in read_spectra(p)]


def _assert_same(a: kk.KramersKronigResult, b: kk.KramersKronigResult, atol: float) -> None:
    assert (a.passed, a.structured, a.n_elements, a.reason, a.method) == \
        (b.passed, b.structured, b.n_elements, b.reason, b.method)
    np.testing.assert_array_equal(a.candidate_elements, b.candidate_elements)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=atol, atol=atol,
                                   err_msg=name)
    np.testing.assert_allclose(a.impedance_fit, b.impedance_fit,
                               rtol=atol, atol=atol * np.abs(b.impedance_fit).max())


@pytest.mark.parametrize("options", [{}, {"method": "mu", "max_elements": 30},
                                     {"n_elements": 7}, {"capacitance": False}])
def test_batch_equals_one_by_one_on_mixed_grids(options):
    spectra = _mixed_set()
    batch = kramers_kronig_batch([f for f, _ in spectra], [z for _, z in spectra], **options)
    assert len(batch) == len(spectra)
    for (f, z), got in zip(spectra, batch, strict=True):
        _assert_same(got, kramers_kronig(f, z, **options), 1e-10)


def test_batch_equals_one_by_one_on_the_demo_campaign():
    spectra = _demo_set()
    batch = kramers_kronig_batch([f for f, _ in spectra], [z for _, z in spectra])
    for (f, z), got in zip(spectra, batch, strict=True):
        _assert_same(got, kramers_kronig(f, z), 1e-10)


def _reference(f: np.ndarray, z: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """The plateau search as the module docstring states it, one scipy lstsq per M:
    (chosen M, s² of the candidates tried, residual (Z - Ẑ)/|Z| of the chosen model)."""
    omega = 2 * np.pi * f
    cap = kk.has_capacitive_tail(f, z)
    series = [np.ones_like(omega) + 0j, 1j * omega / omega.max()]
    if cap:
        series.append(-1j * omega.min() / omega)
    extend = kk.CAPACITIVE_EXTENSION_DECADES if cap else 0.0
    w = 1 / np.abs(z)
    b = np.concatenate([(z * w).real, (z * w).imag])
    variances, residuals = [], []
    for m in range(1, min(f.size, 2 * f.size - len(series) - 1) + 1):
        tau = kk.time_constants(omega, m, extend)
        cols = np.column_stack(series + list((1 / (1 + 1j * omega[:, None] * tau)).T))
        a = np.concatenate([(cols * w[:, None]).real, (cols * w[:, None]).imag])
        x = scipy.linalg.lstsq(a, b, lapack_driver="gelsy")[0]
        r = b - a @ x
        variances.append(r @ r / (b.size - a.shape[1]))
        residuals.append((z - cols @ x) / np.abs(z))
        v = np.array(variances)
        if v.size > kk.PATIENCE and v[-kk.PATIENCE:].min() * 1.5 > v[:-kk.PATIENCE].min():
            break
    v = np.array(variances)
    chosen = int(np.flatnonzero(v <= 1.5 * v.min())[0])
    return chosen + 1, v, residuals[chosen]


def test_batch_matches_the_lstsq_reference(shared_formats):
    import json

    data = json.loads((shared_formats / "pyimpspec" / "EXPECTED_control_data.json").read_text())
    real = (np.asarray(data["frequency"], dtype=float),
            np.asarray(data["real"]) + 1j * np.asarray(data["imaginary"]))
    spectra = _mixed_set() + _demo_set()[::4] + [real]
    batch = kramers_kronig_batch([f for f, _ in spectra], [z for _, z in spectra])
    for (f, z), got in zip(spectra, batch, strict=True):
        m, variance, residual = _reference(f, z)
        assert got.n_elements == m
        np.testing.assert_allclose(got.candidate_variance, variance, rtol=1e-8)
        np.testing.assert_allclose(got.residual_real + 1j * got.residual_imag, residual,
                                   rtol=0, atol=1e-10)


def test_nearly_rank_deficient_systems_take_the_rank_revealing_solve(rng):
    # Two equal columns: the stacked QR's triangle is singular, so that system is solved by
    # dgelsy alone (as scipy.linalg.lstsq would); the well-posed one beside it by the QR.
    design = rng.standard_normal((2, 60, 6))
    design[0, :, -1] = design[0, :, 0]
    target = rng.standard_normal((2, 60))
    x, resid = kk._stacked_least_squares(design, target)
    for s in range(2):
        expected = scipy.linalg.lstsq(design[s], target[s], lapack_driver="gelsy")[0]
        np.testing.assert_allclose(x[s], expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(resid[s], target[s] - design[s] @ expected, atol=1e-12)
    np.testing.assert_array_equal(x[0], kk._least_squares(design[0], target[0]))


def test_conditioning_check_decides_as_the_singular_values(rng):
    # The cheap bound only short-cuts the SVD: the decision must be the SVD rule's for
    # well-conditioned, nearly singular and exactly singular factors alike.
    r = np.triu(rng.standard_normal((40, 8, 8))) + 3 * np.eye(8)
    r[1, 4, 4] = 1e-12          # cond ~1e12: ill-conditioned
    r[2, 4, 4] = 1e-9           # cond ~1e9: below the limit, but the bound cannot tell
    r[3] *= np.logspace(0, 11, 8)[None, :]
    singular = np.linalg.svd(r, compute_uv=False)
    expected = ~(singular[:, -1] * kk.RANK_REVEALING_COND > singular[:, 0])
    np.testing.assert_array_equal(kk._ill_conditioned(r), expected)
    assert expected[[1, 3]].all() and not expected[[0, 2]].any()
    r[5, 6, 6] = 0.0            # exactly singular: np.linalg.inv fails for the whole stack
    singular = np.linalg.svd(r, compute_uv=False)
    expected = ~(singular[:, -1] * kk.RANK_REVEALING_COND > singular[:, 0])
    np.testing.assert_array_equal(kk._ill_conditioned(r), expected)
    assert expected[5]


def test_batch_names_the_bad_spectrum():
    f = syn.sweep(1e6, 1.0)
    z = 20 + syn.r_cpe(f, 1000, 1e-7, 0.9)
    bad = z.copy()
    bad[3] = np.nan
    with pytest.raises(SpectrumError, match=r"spectrum 1\).*point 3"):
        kramers_kronig_batch([f, f], [z, bad])
    with pytest.raises(ValueError, match="one of each per spectrum"):
        kramers_kronig_batch([f], [z, z])
