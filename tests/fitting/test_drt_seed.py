"""DRT seeds: starting values for a preset from the DRT, and the refit of failed fits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import ConvergenceWarning
from eis_pipeline.fitting import fit_spectra
from eis_pipeline.fitting.drt_seed import drt_initial_guess
from eis_pipeline.fitting.selection import drt_results, reseed_from_drt
from eis_pipeline.testing.simulate import log_frequencies, pellet_impedance
from eis_pipeline.validation.drt import drt, suggest_arcs

F = log_frequencies(7e6, 0.1, 10)
TRUE = {"L0": 0.0, "R1": 2000.0, "CPE1_0": 3e-11, "CPE1_1": 0.95, "R2": 6000.0,
        "CPE2_0": 5e-8, "CPE2_1": 0.85, "CPE3_0": 2e-6, "CPE3_1": 0.88}


def _tau(r: float, q: float, n: float) -> float:
    return float((r * q) ** (1 / n))


def test_two_arc_seed_sits_near_the_truth():
    z = pellet_impedance(F, TRUE)
    d = drt(F, z)
    arcs = suggest_arcs(d)
    guess = drt_initial_guess("bulk-gb-electrode", d, arcs)
    assert guess is not None
    assert list(guess) == list(compile_circuit("bulk-gb-electrode").param_names)
    assert guess["R1"] == pytest.approx(TRUE["R1"], rel=0.25)
    assert guess["R2"] == pytest.approx(TRUE["R2"], rel=0.25)
    # Q = τ^n / R puts each arc's apex at the DRT peak (PHYSICS.md section 3)
    for r, cpe, (_, tau) in (("R1", "CPE1", arcs[0]), ("R2", "CPE2", arcs[-1])):
        assert _tau(guess[r], guess[f"{cpe}_0"], guess[f"{cpe}_1"]) == pytest.approx(tau)
    for r, cpe in (("R1", "CPE1"), ("R2", "CPE2")):
        true_tau = _tau(TRUE[r], TRUE[f"{cpe}_0"], TRUE[f"{cpe}_1"])
        assert abs(np.log10(_tau(guess[r], guess[f"{cpe}_0"], 0.9) / true_tau)) < 0.3
    assert guess["CPE3_1"] == pytest.approx(0.88, abs=0.05)


def test_one_arc_presets_and_missing_pieces():
    z = pellet_impedance(F, TRUE)
    d = drt(F, z)
    arcs = suggest_arcs(d)
    single = drt_initial_guess("single-arc-electrode", d, arcs)
    assert single is not None   # no series R: the one arc carries everything
    r_inf = max(d.series_resistance_ohm, 0.0)
    assert single["R1"] == pytest.approx(r_inf + sum(r for r, _ in arcs))
    hf = drt_initial_guess("hf-intercept-gb-electrode", d, arcs)
    assert hf is not None and hf["L0"] > 0
    assert hf["R2"] == pytest.approx(max(arcs)[0])   # the largest arc is the grain boundary
    assert drt_initial_guess("bulk-gb-electrode", d, []) is None


def test_reseed_repairs_a_failed_fit_and_keeps_padding():
    rng = np.random.default_rng(0)
    z = pellet_impedance(F, TRUE)
    z = z + 0.002 * np.abs(z) * (rng.standard_normal(F.size) + 1j * rng.standard_normal(F.size))
    short = make_spectrum(F[:40], z[:40], attrs={"source": "short"})
    full = make_spectrum(F, z, attrs={"source": "full"})
    spectra = [full, short]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        starved = fit_spectra(spectra, circuit="bulk-gb-electrode", errors="ignore",
                              max_nfev=2)   # stopped long before convergence
    assert not starved.converged.values.any()
    repaired, kept = reseed_from_drt(starved, spectra, drt_results(spectra),
                                     "bulk-gb-electrode", "modulus", None)
    assert kept[0] and repaired.converged.values[0]
    assert "DRT seed" in str(repaired.message.values[0])
    assert repaired.value.sel(param="R2").values[0] == pytest.approx(TRUE["R2"], rel=0.02)
    # padding of the shorter spectrum stays NaN; the input dataset is not modified
    for i in np.flatnonzero(kept):
        n = spectra[i].sizes["frequency"]
        assert np.isfinite(repaired.impedance_fit.values[i, :n]).all()
        assert np.isnan(repaired.impedance_fit.values[i, n:]).all()
    assert not starved.converged.values.any()
