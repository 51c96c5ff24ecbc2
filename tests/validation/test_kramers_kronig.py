"""Lin-KK test: compliant spectra pass, drifting and distorted ones fail, residuals are right."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from eis_pipeline.exceptions import DataQualityWarning, SpectrumError
from eis_pipeline.validation.kramers_kronig import kramers_kronig, time_constants
from tests.validation import synthetic as syn


@pytest.fixture
def frequency() -> np.ndarray:
    """10 MHz to 0.1 Hz, 9 points per decade (73 points)."""
    return syn.sweep(1e7, 0.1)


def test_one_arc_with_noise_passes(frequency, rng):
    z = syn.add_noise(20 + syn.r_cpe(frequency, 1000, 1e-7, 0.9), rng, 0.002)
    result = kramers_kronig(frequency, z)
    assert result.passed
    assert result.max_residual < 0.01
    # Residuals are the noise: their spread is close to the 0.2 % put in.
    spread = np.std(np.concatenate([result.residual_real, result.residual_imag]))
    assert 0.001 < spread < 0.003


def test_two_arcs_and_electrode_spike_over_8_decades_pass(frequency, rng):
    z = syn.add_noise(syn.two_arcs_and_spike(frequency), rng, 0.002)
    result = kramers_kronig(frequency, z)
    assert result.passed, result.summary()
    assert result.max_residual < 0.01
    assert result.capacitance_f is not None  # the spike switched the series C on


def test_mu_criterion_stops_too_early_where_plateau_does_not(frequency):
    # A clean ideal arc: Schönleber's μ drops below 0.85 after a handful of elements while the
    # fit is still far off; the plateau criterion goes on to a compliant verdict.
    z = 100 + syn.r_cpe(frequency, 1000, 1e-8, 1.0)
    classic = kramers_kronig(frequency, z, method="mu")
    robust = kramers_kronig(frequency, z)
    assert classic.method == "mu" and robust.method == "plateau"
    assert classic.max_residual > 0.1
    assert robust.passed and robust.max_residual < 1e-3
    assert robust.n_elements > classic.n_elements


def test_drifting_spectrum_fails(frequency, rng):
    z = syn.add_noise(syn.drifting(frequency, 0.05, electrode=False), rng, 0.002)
    result = kramers_kronig(frequency, z)
    assert not result.passed
    assert result.max_residual > 0.015
    # Drift shows where the sweep spends its time: the low-frequency end.
    worst = np.argmax(np.abs(result.residual_real))
    assert frequency[worst] < 1.0


def test_distorted_spectrum_fails(frequency, rng):
    z = syn.add_noise(syn.distorted(frequency, 0.1), rng, 0.002)
    result = kramers_kronig(frequency, z)
    assert not result.passed
    assert result.max_residual > 0.02


def test_residual_definition(frequency):
    z = syn.two_arcs_and_spike(frequency, electrode=False)
    result = kramers_kronig(frequency, z, n_elements=5)
    expected = (z - result.impedance_fit) / np.abs(z)
    np.testing.assert_allclose(result.residual_real, expected.real, atol=1e-15)
    np.testing.assert_allclose(result.residual_imag, expected.imag, atol=1e-15)
    assert result.max_residual == pytest.approx(
        max(np.abs(expected.real).max(), np.abs(expected.imag).max()))
    # Relative to |Z|: scaling the impedance leaves the residuals unchanged.
    scaled = kramers_kronig(frequency, 1e3 * z, n_elements=5)
    np.testing.assert_allclose(scaled.residual_real, result.residual_real, atol=1e-12)


def test_trivial_resistor_has_zero_residual():
    f = np.geomspace(1e5, 1, 11)
    result = kramers_kronig(f, np.full(f.size, 50.0 + 0j), n_elements=1, inductance=False,
                            capacitance=False)
    assert result.series_resistance_ohm == pytest.approx(50.0)
    assert result.resistances_ohm == pytest.approx([0.0], abs=1e-9)
    assert result.max_residual < 1e-12
    assert result.inductance_h is None and result.capacitance_f is None


def test_exactly_representable_ladder_gives_zero_residual(frequency, rng):
    omega = 2 * np.pi * frequency
    tau = time_constants(omega, 12)
    resistances = rng.uniform(10, 1000, tau.size)
    z = syn.rc_ladder(frequency, 25.0, resistances, tau)
    result = kramers_kronig(frequency, z, n_elements=12, capacitance=False)
    assert result.max_residual < 1e-10
    np.testing.assert_allclose(result.resistances_ohm, resistances, rtol=1e-6)
    assert result.series_resistance_ohm == pytest.approx(25.0, rel=1e-6)
    assert abs(result.inductance_h) < 1e-15
    # The automatic choice also finds a compliant description.
    assert kramers_kronig(frequency, z).max_residual < 1e-6


def test_inductance_is_recovered(frequency):
    z = syn.two_arcs_and_spike(frequency, electrode=False) + 1j * 2 * np.pi * frequency * 1e-6
    result = kramers_kronig(frequency, z)
    assert result.passed
    assert result.inductance_h == pytest.approx(1e-6, rel=0.05)


def test_warning_only_when_asked(frequency):
    z = syn.distorted(frequency, 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kramers_kronig(frequency, z)  # no warning by default
    with pytest.warns(DataQualityWarning, match="not Kramers-Kronig compliant"):
        kramers_kronig(frequency, z, warn=True)


def test_threshold_is_configurable(frequency):
    z = syn.distorted(frequency, 0.1)
    result = kramers_kronig(frequency, z, threshold=0.2)
    assert result.passed and result.threshold == 0.2


def test_order_of_points_does_not_matter(frequency, rng):
    z = syn.add_noise(syn.two_arcs_and_spike(frequency), rng, 0.002)
    forward = kramers_kronig(frequency, z)
    backward = kramers_kronig(frequency[::-1], z[::-1])
    assert backward.n_elements == forward.n_elements
    np.testing.assert_allclose(backward.residual_real[::-1], forward.residual_real, atol=1e-9)


def test_candidates_are_reported(frequency, rng):
    z = syn.add_noise(syn.two_arcs_and_spike(frequency), rng, 0.002)
    result = kramers_kronig(frequency, z)
    assert result.candidate_elements[0] == 1
    assert result.n_elements in result.candidate_elements
    assert result.candidate_variance.shape == result.candidate_mu.shape
    assert np.all(np.isfinite(result.candidate_variance))


@pytest.mark.parametrize(("f", "z", "match"), [
    ([1, 2, 3], [1, 2], "same length"),
    ([1, -2, 3], [1, 2, 3], "positive"),
    ([1, 2, 3], [1, np.nan, 3], "finite"),
    ([1, 2], [1, 2], "at least 3"),
    ([1, 1, 3], [1, 2, 3], "distinct"),
])
def test_bad_input_raises_spectrum_error(f, z, match):
    with pytest.raises(SpectrumError, match=match):
        kramers_kronig(np.asarray(f, float), np.asarray(z, complex))


def test_bad_options_raise(frequency):
    z = syn.two_arcs_and_spike(frequency)
    with pytest.raises(ValueError, match="method"):
        kramers_kronig(frequency, z, method="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_elements"):
        kramers_kronig(frequency, z, n_elements=0)
    with pytest.raises(ValueError, match="threshold"):
        kramers_kronig(frequency, z, threshold=0)


def test_time_constants_follow_schoenleber(frequency):
    omega = 2 * np.pi * frequency
    np.testing.assert_allclose(time_constants(omega, 7),
                               np.geomspace(1 / omega.max(), 1 / omega.min(), 7), rtol=1e-12)
    np.testing.assert_allclose(time_constants(omega, 7, 0.5)[-1], 10**0.5 / omega.min())
    assert time_constants(omega, 1) == pytest.approx(1 / np.sqrt(omega.max() * omega.min()))


@pytest.mark.parametrize("seed", range(5))
def test_random_voigt_circuits_pass(frequency, seed):
    # Any chain of RC elements is Kramers-Kronig compliant, whatever its τ (inside the window
    # or not) and resistances spanning three decades.
    rng = np.random.default_rng(seed)
    n = rng.integers(1, 6)
    taus = 10 ** rng.uniform(-8, 1, n)
    resistances = 10 ** rng.uniform(1, 4, n)
    z = syn.add_noise(syn.rc_ladder(frequency, rng.uniform(1, 100), resistances, taus), rng,
                      0.001)
    result = kramers_kronig(frequency, z)
    assert result.passed, result.summary()
