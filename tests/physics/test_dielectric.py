"""Model-free conductivity against closed forms (R ‖ C) and synthetic Jonscher spectra."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.conventions import VACUUM_PERMITTIVITY_F_PER_CM
from eis_pipeline.physics.dielectric import (
    conductivity_spectra,
    dielectric_spectra,
    electrode_factor,
    jonscher_fit,
)
from eis_pipeline.testing.simulate import (
    ArrheniusLaw,
    PelletModel,
    log_frequencies,
    simulate_spectrum,
)

R, C, KAPPA = 2.0e4, 3.0e-11, 0.127


def test_rc_closed_forms() -> None:
    f = np.logspace(7, -1, 801)
    z = R / (1 + 2j * np.pi * f * R * C)
    d = dielectric_spectra(f, z, KAPPA)
    c0 = VACUUM_PERMITTIVITY_F_PER_CM / KAPPA
    np.testing.assert_allclose(d["conductivity_real"], KAPPA / R, rtol=1e-12)  # σ = L/(RA)
    np.testing.assert_allclose(d["permittivity_real"], C / c0, rtol=1e-12)
    k = int(np.argmax(d["modulus_imag"]))
    assert f[k] == pytest.approx(1 / (2 * np.pi * R * C), rel=0.012)  # grid spacing 1 %
    assert d["modulus_imag"][k] == pytest.approx(c0 / (2 * C), rel=1e-3)


def test_jonscher_recovers_synthetic_power_law() -> None:
    f = np.logspace(6, -1, 71)
    sigma = 1e-4 * (1 + (f / 1e4) ** 0.7)
    res = jonscher_fit(f, sigma)
    assert res["plateau_visible"]
    assert res["sigma_dc"] == pytest.approx(1e-4, rel=1e-3)


def test_sigma_dc_matches_single_arc_circuit() -> None:
    law = ArrheniusLaw.from_sigma_at(1e-4, 0.4)
    # grain boundary 1000x more conductive: its arc is negligible, one plateau
    model = PelletModel(0.1, 1.0, bulk=law, grain_boundary=ArrheniusLaw(
        law.prefactor_S_K_cm * 1e3, 0.4), inductance_H=0.0)
    rng = np.random.default_rng(7)
    temps = [253.15, 273.15, 298.15]
    spectra = [simulate_spectrum(model, t, log_frequencies(1e6, 0.1, 10), noise=0.005,
                                 rng=rng) for t in temps]
    res = conductivity_spectra(spectra, model.cell_constant_per_cm)
    total = np.array([model.parameters(t)["total_conductivity_S_cm"] for t in temps])
    assert res.plateau_visible.all()
    np.testing.assert_allclose(res.sigma_dc.values, total, rtol=0.05)


def test_electrode_factor_is_r_in_series_with_a_cpe() -> None:
    """E(f) = σ'R/κ of Z = R + 1/(Q (jω)^m) with f_e = 1/(2π (RQ)^(1/m)) (closed form), and
    the R-C limit 1/(1 + (f_e/f)²) at m = 1."""
    f = np.logspace(-2, 4, 61)
    r, q = 1e3, 2e-6
    for m in (1.0, 0.85, 0.6):
        z = r + 1 / (q * (2j * np.pi * f) ** m)
        f_e = 1 / (2 * np.pi * (r * q) ** (1 / m))
        np.testing.assert_allclose(electrode_factor(f, f_e, m), (r / z).real, rtol=1e-12)
    f_e = 1 / (2 * np.pi * r * q)
    np.testing.assert_allclose(electrode_factor(f, f_e, 1.0), 1 / (1 + (f_e / f) ** 2),
                               rtol=1e-12)


@pytest.mark.parametrize("gb_ratio", [0.2, 1.0, 5.0])
def test_sigma_dc_matches_total_sigma_with_two_close_arcs(gb_ratio: float) -> None:
    """A grain-boundary arc next to the electrode: σ' has a short plateau pulled down by the
    electrode below and raised by the grain boundary above. Within 5 % of the circuit's total
    σ wherever a plateau is visible (it was 3-30 % low before the electrode factor)."""
    model = PelletModel(0.1, 1.0, bulk=ArrheniusLaw.from_sigma_at(1e-4, 0.40),
                        grain_boundary=ArrheniusLaw.from_sigma_at(1e-4 * gb_ratio, 0.45),
                        inductance_H=0.0)
    rng = np.random.default_rng(11)
    temps = [233.15, 273.15, 298.15, 323.15]
    spectra = [simulate_spectrum(model, t, log_frequencies(1e6, 0.1, 10), noise=0.005,
                                 rng=rng) for t in temps]
    total = np.array([model.parameters(t)["total_conductivity_S_cm"] for t in temps])
    res = conductivity_spectra(spectra, model.cell_constant_per_cm, circuit_sigma_S_cm=total)
    assert res.plateau_visible.all()
    np.testing.assert_allclose(res.sigma_dc.values, total, rtol=0.05)
    assert not res.sigma_dc_disagrees.any()


def test_disagreement_flag_and_plateau_at_window_edge() -> None:
    law = ArrheniusLaw.from_sigma_at(1e-5, 0.5)
    model = PelletModel(0.1, 1.0, bulk=law, grain_boundary=ArrheniusLaw.from_sigma_at(3e-6, 0.6))
    f = log_frequencies(1e6, 0.1, 10)
    spectra = [simulate_spectrum(model, t, f, noise=0.0) for t in (233.15, 298.15)]
    total = np.array([model.parameters(t)["total_conductivity_S_cm"] for t in (233.15, 298.15)])
    res = conductivity_spectra(spectra, model.cell_constant_per_cm,
                               circuit_sigma_S_cm=total * [1.0, 1.3])
    # -40 °C: σ' still falls at 0.1 Hz (the plateau starts at the window's end): not visible
    assert not bool(res.plateau_visible[0]) and bool(res.plateau_visible[1])
    # a circuit σ 30 % off is flagged; the relative difference is σ_dc/σ_circuit - 1
    assert bool(res.sigma_dc_disagrees[1])
    assert float(res.sigma_dc_relative_difference[1]) == pytest.approx(1 / 1.3 - 1, abs=0.02)
    with pytest.raises(ValueError, match="2 spectra"):
        conductivity_spectra(spectra, 0.1, circuit_sigma_S_cm=[1.0])
