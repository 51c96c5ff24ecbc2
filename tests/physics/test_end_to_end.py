"""Pellet physics end to end: simulated temperature series -> real files -> fits -> E_a, σ.

A pellet with known Arrhenius laws and geometry (eis_pipeline.testing.simulate) is measured at
several temperatures with 0.5 % noise, each spectrum WRITTEN as an EC-Lab ``.mpt`` file, then read
back with :func:`eis_pipeline.read_spectra` (temperature from the file name, as a campaign config
does), fitted with a preset circuit, turned into conductivities with the pellet geometry and fitted
with Arrhenius per component. The recovered E_a must agree with the truth within its *reported*
uncertainty, and that uncertainty must be honest over many noise realisations (coverage), not tuned
on one seed. """

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from eis_pipeline import read_spectra
from eis_pipeline.config import TemperatureSource
from eis_pipeline.conventions import ROOM_TEMPERATURE_K, ZERO_CELSIUS_K
from eis_pipeline.fitting import fit_spectra
from eis_pipeline.physics import arrhenius_by_component, conductivity
from eis_pipeline.testing.simulate import (
    ArrheniusLaw,
    PelletModel,
    add_proportional_noise,
    log_frequencies,
    measurement_times,
)
from eis_pipeline.testing.writers import write_mpt

TEMPERATURES_C = (0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0)
NOISE = 0.005
THICKNESS_CM, DIAMETER_CM = 0.1, 1.0
THICKNESS_STDERR_CM = 0.001   # micrometer: ±10 µm on 1 mm, the dominant geometry error
FILE_TEMPERATURE = TemperatureSource("filename", r"_(?P<celsius>-?\d+)C\.mpt$")

#: Both arcs inside 7 MHz – 0.1 Hz at every temperature: bulk apex 34 kHz – 0.72 MHz,
#: grain-boundary apex 22 – 860 Hz (σ_b(25 °C) = 2 µS/cm, ε_r = 30, C_gb/C_b = 300).
RESOLVED = PelletModel(THICKNESS_CM, DIAMETER_CM,
                       bulk=ArrheniusLaw.from_sigma_at(2e-6, 0.38),
                       grain_boundary=ArrheniusLaw.from_sigma_at(5e-7, 0.45))
#: Bulk apex 40–200 MHz, far above a 1 MHz analyser; grain-boundary apex inside it.
FAST_BULK = PelletModel(THICKNESS_CM, DIAMETER_CM,
                        bulk=ArrheniusLaw.from_sigma_at(2e-3, 0.30),
                        grain_boundary=ArrheniusLaw.from_sigma_at(4e-4, 0.40))

RESOLVED_SEEDS = tuple(range(16))
FAST_BULK_SEEDS = (101, 102, 103)


def _measure(model: PelletModel, folder: Path, f_max_hz: float, seed: int) -> list[xr.Dataset]:
    """Write one .mpt per temperature and read the series back as the pipeline would."""
    rng = np.random.default_rng(seed)
    f = log_frequencies(f_max_hz, 0.1, 10)
    spectra = []
    for celsius in TEMPERATURES_C:
        z = add_proportional_noise(model.impedance(f, celsius + ZERO_CELSIUS_K), NOISE, rng)
        path = folder / f"pellet_{celsius:.0f}C.mpt"
        write_mpt(path, f, z, time_s=measurement_times(f), area_cm2=model.area_cm2)
        (ds,) = read_spectra(path)
        temperature_k = FILE_TEMPERATURE.from_file(path)
        assert temperature_k is not None
        spectra.append(ds.assign(temperature=("frequency",
                                              np.full(ds.sizes["frequency"], temperature_k))))
    return spectra


def _analyse(spectra: list[xr.Dataset], circuit: str) -> tuple[xr.Dataset, xr.Dataset]:
    fits = fit_spectra(spectra, circuit=circuit)
    assert fits["converged"].values.all(), fits["message"].values
    cond = conductivity(fits, thickness_cm=THICKNESS_CM, diameter_cm=DIAMETER_CM,
                        thickness_stderr_cm=THICKNESS_STDERR_CM)
    return cond, arrhenius_by_component(cond, breakpoints=0)


def _true_sigma_25c(model: PelletModel) -> dict[str, float]:
    p = model.parameters(ROOM_TEMPERATURE_K)
    return {"bulk": p["bulk_conductivity_S_cm"], "grain_boundary": p["gb_conductivity_S_cm"],
            "total": p["total_conductivity_S_cm"]}


@pytest.fixture(scope="module")
def resolved_runs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[xr.Dataset,
                                                                           xr.Dataset]]:
    runs = []
    for seed in RESOLVED_SEEDS:
        folder = tmp_path_factory.mktemp(f"resolved{seed}")
        runs.append(_analyse(_measure(RESOLVED, folder, 7e6, seed),
                             "bulk-gb-electrode-inductance"))
    return runs


def _z_scores(runs: list[tuple[xr.Dataset, xr.Dataset]], model: PelletModel) -> np.ndarray:
    """(E_a - E_a,true) / stderr for bulk and grain boundary over every run."""
    laws = {"bulk": model.bulk, "grain_boundary": model.grain_boundary}
    z = [(float(arr.activation_energy.sel(component=c)[0]) - law.activation_energy_eV)
         / float(arr.activation_energy_stderr.sel(component=c)[0])
         for _, arr in runs for c, law in laws.items()]
    return np.asarray(z)


def test_resolved_arcs_recover_activation_energy_within_stated_error(resolved_runs) -> None:
    z = _z_scores(resolved_runs, RESOLVED)
    assert z.size == 2 * len(RESOLVED_SEEDS) and np.isfinite(z).all()
    # Each E_a within 3 standard errors of the truth ...
    assert np.all(np.abs(z) <= 3.0), z
    # ... and the errors are honest over 32 estimates: ~95 % expected within 2σ (>= 80 %
    # fails with probability < 1e-3 for calibrated errors), and the RMS z-score is near 1
    # (neither underestimated, > 1.6, nor grossly inflated, < 0.4).
    assert np.mean(np.abs(z) <= 2.0) >= 0.8, z
    assert 0.4 <= math.sqrt(float(np.mean(z**2))) <= 1.6, z


def test_resolved_arcs_recover_room_temperature_conductivity(resolved_runs) -> None:
    truth = _true_sigma_25c(RESOLVED)
    for cond, arr in resolved_runs:
        assert set(cond["bulk_source"].values) == {"arc"}
        assert not cond["role_ambiguous"].values.any(), cond["role_flags"].values
        eps = cond["relative_permittivity"].values
        np.testing.assert_allclose(eps, RESOLVED.bulk_permittivity, rtol=0.05)
        for component, sigma in truth.items():
            got = arr.sel(component=component)
            assert not bool(got["sigma_25C_extrapolated"])
            assert abs(float(got["sigma_25C"]) / sigma - 1.0) <= 0.05, component
            # the geometry error (1 % on L) is part of the stated σ(25 °C) error
            assert float(got["sigma_25C_stderr"]) >= 0.0099 * float(got["sigma_25C"])


def test_bulk_above_window_comes_from_the_intercept(tmp_path: Path) -> None:
    truth = _true_sigma_25c(FAST_BULK)
    z = []
    for seed in FAST_BULK_SEEDS:
        folder = tmp_path / str(seed)
        cond, arr = _analyse(_measure(FAST_BULK, folder, 1e6, seed), "hf-intercept-gb-electrode")
        # marked as such, per spectrum and in the attributes
        assert set(cond["bulk_source"].values) == {"high_frequency_intercept"}
        assert cond.attrs["bulk_from_intercept"] == 1
        assert "intercept" in cond["conductivity"].attrs["bulk_source"]
        assert np.isnan(cond["capacitance"].sel(component="bulk").values).all()
        for component, sigma in truth.items():
            assert abs(float(arr["sigma_25C"].sel(component=component)) / sigma - 1) <= 0.05
        for component, law in (("bulk", FAST_BULK.bulk),
                               ("grain_boundary", FAST_BULK.grain_boundary)):
            ea = float(arr.activation_energy.sel(component=component)[0])
            err = float(arr.activation_energy_stderr.sel(component=component)[0])
            z.append((ea - law.activation_energy_eV) / err)
    assert np.all(np.abs(np.asarray(z)) <= 3.0), z
