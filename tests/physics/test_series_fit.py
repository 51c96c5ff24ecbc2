"""Global temperature-series fit: recovery of known activation energies, against the
per-spectrum fits + Arrhenius line it replaces (issue 14's simulated pellet)."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.exceptions import FitError
from eis_pipeline.physics.series_fit import fit_temperature_series
from eis_pipeline.testing.simulate import (
    ArrheniusLaw,
    PelletModel,
    log_frequencies,
    simulate_spectrum,
)

EA_BULK, EA_GB = 0.35, 0.45
MODEL = PelletModel(0.1, 1.0, bulk=ArrheniusLaw.from_sigma_at(1e-3, EA_BULK),
                    grain_boundary=ArrheniusLaw.from_sigma_at(5e-4, EA_GB), inductance_H=0.0)
GEOMETRY = {"thickness_cm": 0.1, "diameter_cm": 1.0}


def _series(seed: int, n: int = 8) -> list:
    """-40 ... 100 °C, 1 MHz - 0.1 Hz, 0.5 % noise: the bulk arc is outside the window."""
    rng = np.random.default_rng(seed)
    temps = np.linspace(233.15, 373.15, n)
    return [simulate_spectrum(MODEL, t, log_frequencies(1e6, 0.1, 10), noise=0.005, rng=rng)
            for t in temps]


def _recovered(res) -> tuple[np.ndarray, np.ndarray]:
    ea = res.activation_energy.sel(component=["bulk", "grain_boundary"]).values
    err = res.activation_energy_stderr.sel(component=["bulk", "grain_boundary"]).values
    return ea, err


def test_global_fit_recovers_ea_with_bulk_arc_above_window() -> None:
    spectra = _series(3)
    res = fit_temperature_series(spectra, "bulk-gb-electrode", **GEOMETRY)
    assert bool(res.converged)
    ea, err = _recovered(res)
    truth = np.array([EA_BULK, EA_GB])
    assert np.all(np.abs(ea - truth) < 0.01)
    assert np.all(np.abs(ea - truth) < 3 * err)
    # σ(T) of the model against the simulator's truth
    sigma_b = [MODEL.parameters(t)["bulk_conductivity_S_cm"] for t in res.temperature.values]
    np.testing.assert_allclose(res.conductivity.sel(component="bulk"), sigma_b, rtol=0.02)
    # The per-spectrum route (fit_spectra + arrhenius_by_component) missed bulk by 0.04 eV
    # on this series before main's improved starting points (17:45 UTC); since then it
    # recovers it too, so the comparison lives in bench/bench_series.py, not here.


def test_result_does_not_depend_on_spectrum_order() -> None:
    spectra = _series(5, n=6)
    a = fit_temperature_series(spectra, **GEOMETRY)
    b = fit_temperature_series(spectra[::-1], **GEOMETRY)
    np.testing.assert_allclose(a.activation_energy, b.activation_energy, rtol=1e-6)
    np.testing.assert_allclose(a.temperature, b.temperature[::-1])


def test_shared_capacitances_and_sigma_form() -> None:
    spectra = _series(11, n=6)
    sig_t = fit_temperature_series(spectra, shared=("exponents", "capacitances"), **GEOMETRY)
    sig = fit_temperature_series(spectra, form="sigma", **GEOMETRY)
    ea_t, _ = _recovered(sig_t)
    ea_s, _ = _recovered(sig)
    assert np.all(np.abs(ea_t - [EA_BULK, EA_GB]) < 0.01)
    # σ form: E_a' ≈ E_a - k_B T_mid (PHYSICS.md 6), k_B·303 K ≈ 0.026 eV
    np.testing.assert_allclose(ea_t - ea_s, 8.617e-5 * 303, atol=0.004)


def test_bad_input_names_the_fix() -> None:
    spectra = _series(1, n=3)
    with pytest.raises(FitError, match="3 distinct"):
        fit_temperature_series(spectra[:2], **GEOMETRY)
    with pytest.raises(FitError, match="shared"):
        fit_temperature_series(spectra, shared=("everything",), **GEOMETRY)
    with pytest.raises(FitError, match="no bulk or grain_boundary"):
        # three arcs: no roles read from the structure
        fit_temperature_series(spectra, circuit="p(R1,C1)-p(R2,C2)-p(R3,C3)", **GEOMETRY)


def test_a_custom_spelling_of_a_preset_fits_like_the_preset() -> None:
    """Roles read from a custom circuit's structure (issue 12): a renamed, reordered
    bulk-gb-electrode gives the preset's activation energies."""
    spectra = _series(3, n=5)
    ref = fit_temperature_series(spectra, **GEOMETRY)
    other = fit_temperature_series(spectra, circuit="CPE9-p(CPE4,R4)-p(R2,CPE2)", **GEOMETRY)
    np.testing.assert_allclose(_recovered(other)[0], _recovered(ref)[0], rtol=1e-6)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="measured 2026-12-04: all 50 within 0.01 eV but only 38/50 "
                   "within 3 linearised standard errors (under-coverage, issue 14 open)")
def test_coverage_over_fifty_series() -> None:
    """E_a within 3 standard errors in >= 95 % of series (nominal 99.7 %), within 0.01 eV."""
    hits = close = 0
    n = 50
    for seed in range(n):
        ea, err = _recovered(fit_temperature_series(_series(1000 + seed), **GEOMETRY))
        dev = np.abs(ea - [EA_BULK, EA_GB])
        hits += bool(np.all(dev < 3 * err))
        close += bool(np.all(dev < 0.01))
    assert close == n
    assert hits >= 0.95 * n
