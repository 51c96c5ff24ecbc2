"""DRT: peaks at the right τ with the right areas, normalisation, λ selection, electrodes."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.exceptions import SpectrumError
from eis_pipeline.validation.drt import (
    DrtPeak,
    DrtResult,
    choose_lambda,
    drt,
    gcv_scores,
    penalty_matrix,
    suggest_arcs,
)
from eis_pipeline.validation.spike import spike_exponent
from tests.validation import synthetic as syn

#: Two R‖CPE arcs with time constants exactly two decades apart: (R ohm, τ s, n).
ARCS = ((1000.0, 1e-6, 0.9), (3000.0, 1e-4, 0.9))


def two_decade_arcs(frequency: np.ndarray, r_inf: float = 20.0) -> np.ndarray:
    # Q from τ = (R Q)^(1/n) (PHYSICS.md section 3).
    return r_inf + sum(syn.r_cpe(frequency, r, tau**n / r, n) for r, tau, n in ARCS)


@pytest.fixture
def frequency() -> np.ndarray:
    return syn.sweep(1e7, 0.1)


def assert_arcs(result: DrtResult, expected, *, tau_decades=0.15, area_rel=0.10) -> None:
    arcs = suggest_arcs(result)
    assert len(arcs) == len(expected), [(p.resistance_ohm, p.tau_s) for p in result.peaks]
    for (r, tau), (r_true, tau_true) in zip(arcs, expected, strict=True):
        assert abs(np.log10(tau / tau_true)) < tau_decades
        assert r == pytest.approx(r_true, rel=area_rel)


@pytest.mark.parametrize("part", ["complex", "imaginary"])
def test_two_cpe_arcs_two_decades_apart(frequency, part):
    result = drt(frequency, two_decade_arcs(frequency), part=part)
    assert_arcs(result, [(r, tau) for r, tau, _ in ARCS])
    assert result.series_resistance_ohm == pytest.approx(20.0, abs=3)


@pytest.mark.parametrize("part", ["complex", "imaginary"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_cpe_arcs_with_half_percent_noise(frequency, part, seed):
    z = syn.add_noise(two_decade_arcs(frequency), np.random.default_rng(seed), 0.005)
    assert_arcs(drt(frequency, z, part=part), [(r, tau) for r, tau, _ in ARCS])


def test_ideal_rc_arcs(frequency, rng):
    z = 20 + syn.r_cpe(frequency, 1000, 1e-8, 1.0) + syn.r_cpe(frequency, 2000, 1e-5, 1.0)
    for data in (z, syn.add_noise(z, rng, 0.005)):
        result = drt(frequency, data)
        assert_arcs(result, [(1000, 1e-5), (2000, 2e-2)])
        assert result.series_resistance_ohm == pytest.approx(20.0, abs=5)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_blocking_electrode_spike(frequency, seed):
    z = syn.add_noise(syn.two_arcs_and_spike(frequency), np.random.default_rng(seed), 0.005)
    result = drt(frequency, z)
    assert result.electrode_n == pytest.approx(syn.ELECTRODE[1], abs=0.03)
    expected = [(r, syn.tau_of(r, q, n)) for r, q, n in (syn.BULK, syn.GRAIN_BOUNDARY)]
    assert_arcs(result, expected)


def test_integral_of_gamma_is_polarisation_resistance(frequency):
    result = drt(frequency, two_decade_arcs(frequency))
    total = sum(r for r, _, _ in ARCS)
    integral = np.trapezoid(result.gamma_ohm, np.log(result.tau_s))
    assert integral == pytest.approx(total, rel=0.02)
    assert result.polarization_resistance_ohm == pytest.approx(total, rel=0.02)
    # and the model reproduces the data it came from
    rel = np.abs(result.impedance_fit - two_decade_arcs(frequency)) / np.abs(
        two_decade_arcs(frequency))
    assert rel.max() < 0.01


def test_lambda_selection_is_deterministic(frequency, rng):
    z = syn.add_noise(two_decade_arcs(frequency), rng, 0.005)
    a, b = drt(frequency, z), drt(frequency, z)
    assert a.regularization == b.regularization
    np.testing.assert_array_equal(a.gamma_ohm, b.gamma_ohm)
    assert a.lambda_grid is not None and a.gcv_score is not None
    assert a.regularization == a.lambda_grid[choose_lambda(a.gcv_score, 0.05)]


def test_fixed_regularization_is_used(frequency):
    result = drt(frequency, two_decade_arcs(frequency), regularization=1e-3)
    assert result.regularization == 1e-3
    assert result.lambda_grid is None and result.gcv_score is None
    assert "λ given" in result.method


@pytest.mark.parametrize("penalty", ["identity", "first", "second"])
def test_gcv_matches_explicit_influence_matrix(rng, penalty):
    a = rng.standard_normal((30, 8))
    b = rng.standard_normal(30)
    d = penalty_matrix(8, penalty)
    lambdas = np.array([1e-3, 1e-1, 10.0])
    expected = []
    for lam in lambdas:
        hat = a @ np.linalg.solve(a.T @ a + lam * d.T @ d, a.T)
        resid = b - hat @ b
        expected.append(30 * resid @ resid / np.trace(np.eye(30) - hat) ** 2)
    np.testing.assert_allclose(gcv_scores(a, b, d, lambdas), expected, rtol=1e-8)


def test_choose_lambda_prefers_smoothest_within_tolerance():
    scores = np.array([1.0, 0.99, 1.02, 1.2, 3.0])
    assert choose_lambda(scores, 0.05) == 2
    assert choose_lambda(scores, 0.0) == 1


@pytest.mark.parametrize("penalty", ["identity", "first", "second"])
def test_penalty_matrices_are_invertible(penalty):
    assert np.linalg.matrix_rank(penalty_matrix(20, penalty)) == 20


def test_gamma_is_non_negative_and_grid_covers_data(frequency, rng):
    z = syn.add_noise(two_decade_arcs(frequency), rng, 0.005)
    result = drt(frequency, z)
    assert np.all(result.gamma_ohm >= 0)
    assert result.tau_s[0] < 1 / (2 * np.pi * frequency.max())
    assert result.tau_s[-1] > 1 / (2 * np.pi * frequency.min())
    assert np.all(np.diff(np.log(result.tau_s)) > 0)


def test_spike_exponent_of_a_pure_cpe(frequency):
    z = 100 + syn.cpe(frequency, 1e-6, 0.83)
    assert spike_exponent(frequency, z) == pytest.approx(0.83, abs=1e-3)


@pytest.mark.parametrize("electrode", ["capacitance", "drop"])
def test_other_electrode_treatments_run(frequency, electrode):
    result = drt(frequency, syn.two_arcs_and_spike(frequency), electrode=electrode)
    if electrode == "drop":
        assert not result.used.all() and result.electrode_q is None
        assert frequency[~result.used].max() < frequency[result.used].min()
    else:
        assert result.electrode_n == 1.0
    # The bulk arc, far from the electrode, is found either way.
    bulk_tau = syn.tau_of(*syn.BULK)
    assert min(abs(np.log10(p.tau_s / bulk_tau)) for p in result.peaks) < 0.15


def test_suggest_arcs_interface(frequency):
    arcs = suggest_arcs(drt(frequency, two_decade_arcs(frequency)))
    assert isinstance(arcs, list)
    assert all(isinstance(r, float) and isinstance(t, float) for r, t in arcs)
    assert [t for _, t in arcs] == sorted(t for _, t in arcs)


def test_peaks_carry_frequency(frequency):
    for peak in drt(frequency, two_decade_arcs(frequency)).peaks:
        assert peak.frequency_hz == pytest.approx(1 / (2 * np.pi * peak.tau_s))
        assert peak.gamma_ohm > 0


def test_bad_input_raises(frequency):
    z = two_decade_arcs(frequency)
    with pytest.raises(SpectrumError, match="same length"):
        drt(frequency, z[:-1])
    with pytest.raises(ValueError, match="part"):
        drt(frequency, z, part="real")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="penalty"):
        drt(frequency, z, penalty="third")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="electrode"):
        drt(frequency, z, electrode="gold")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="regularization"):
        drt(frequency, z, regularization=-1.0)


def test_more_noise_gets_more_regularisation(frequency):
    lambdas = [drt(frequency, syn.add_noise(two_decade_arcs(frequency),
                                            np.random.default_rng(0), noise)).regularization
               for noise in (0.001, 0.01, 0.03)]
    assert lambdas[0] < lambdas[1] < lambdas[2]


def _with_peaks(result: DrtResult, peaks: list[tuple[float, float]]) -> DrtResult:
    fake = tuple(DrtPeak(tau_s=t, frequency_hz=1 / (2 * np.pi * t), resistance_ohm=r,
                         gamma_ohm=1.0) for r, t in peaks)
    return DrtResult(**{**result.__dict__, "peaks": fake})


def test_suggest_arcs_merges_close_peaks_and_drops_small_ones(frequency):
    base = drt(frequency, two_decade_arcs(frequency))
    # Three ripples within half a decade of each other, one distinct arc, one tiny peak.
    result = _with_peaks(base, [(100.0, 1e-6), (100.0, 2e-6), (200.0, 4e-6),
                                (1000.0, 1e-3), (10.0, 1e-1)])
    arcs = suggest_arcs(result)
    assert len(arcs) == 2
    (r1, t1), (r2, t2) = arcs
    assert r1 == pytest.approx(400.0)
    # area-weighted mean of ln τ
    assert np.log(t1) == pytest.approx((100 * np.log(1e-6) + 100 * np.log(2e-6)
                                        + 200 * np.log(4e-6)) / 400)
    assert r2 == 1000.0 and t2 == pytest.approx(1e-3, rel=1e-12)
    assert len(suggest_arcs(result, min_fraction=0.0)) == 3
    assert len(suggest_arcs(result, min_separation_decades=0.1)) == 4


def test_electrode_element_is_recovered(frequency):
    q, n = syn.ELECTRODE
    result = drt(frequency, syn.two_arcs_and_spike(frequency))
    assert result.electrode_n == pytest.approx(n, abs=0.005)
    assert result.electrode_q == pytest.approx(q, rel=0.05)
    # An ideal capacitor spike: n = 1 and Q is the capacitance in F.
    z = syn.two_arcs_and_spike(frequency, electrode=False) + syn.cpe(frequency, 3e-6, 1.0)
    for electrode in ("auto", "capacitance"):
        result = drt(frequency, z, electrode=electrode)
        assert result.electrode_n == pytest.approx(1.0, abs=1e-3)
        assert result.electrode_q == pytest.approx(3e-6, rel=0.02)
