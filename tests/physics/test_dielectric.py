"""Model-free conductivity against closed forms (R ‖ C) and synthetic Jonscher spectra."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.conventions import VACUUM_PERMITTIVITY_F_PER_CM
from eis_pipeline.physics.dielectric import conductivity_spectra, dielectric_spectra, jonscher_fit
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
