"""Global temperature-series fit (issue 14): wall and CPU time for 8 and 15 temperatures,
with the sharing chosen by the data (``shared="auto"``, the default: four fits) and with it
given (one fit).

The simulated pellet of tests/physics/test_series_fit.py (bulk 0.35 eV, grain boundary
0.45 eV, -40 ... 100 °C, 1 MHz - 0.1 Hz at 10 points/decade, 0.5 % noise; the bulk arc lies
above the window). The time includes the per-spectrum fits that give the starting values.
Rows also show the E_a recovered and, for comparison, the per-spectrum fits + Arrhenius line.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import numpy as np


def run(quick: bool = False) -> str:
    from eis_pipeline.fitting.batch import fit_spectra
    from eis_pipeline.physics.arrhenius import arrhenius_by_component
    from eis_pipeline.physics.conductivity import conductivity
    from eis_pipeline.physics.series_fit import fit_temperature_series
    from eis_pipeline.testing.simulate import (
        ArrheniusLaw,
        PelletModel,
        log_frequencies,
        simulate_spectrum,
    )

    model = PelletModel(0.1, 1.0, bulk=ArrheniusLaw.from_sigma_at(1e-3, 0.35),
                        grain_boundary=ArrheniusLaw.from_sigma_at(5e-4, 0.45),
                        inductance_H=0.0)
    geometry: dict[str, Any] = {"thickness_cm": 0.1, "diameter_cm": 1.0}
    repeats = 1 if quick else 3
    lines = ["## Global temperature-series fit", "",
             "Simulated pellet: bulk 0.35 eV, grain boundary 0.45 eV, -40 ... 100 °C, "
             "1 MHz - 0.1 Hz (10/decade), 0.5 % noise, seed 20261204; best of "
             f"{repeats}; BLAS on one thread inside the fit. Times include the per-spectrum "
             "fits used as starting values. *shared*: `auto` fits the four choices and keeps "
             "the lowest BIC (the one chosen in brackets); a given choice is one fit. Load "
             f"average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.", "",
             "| temperatures | shared | parameters | wall s | CPU s | E_a bulk (eV) "
             "| E_a gb (eV) | per-spectrum + Arrhenius bulk / gb (eV) | converged |",
             "|---|---|---|---|---|---|---|---|---|"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in (8, 15):
            rng = np.random.default_rng(20261204)
            temps = np.linspace(233.15, 373.15, n)
            spectra = [simulate_spectrum(model, t, log_frequencies(1e6, 0.1, 10), noise=0.005,
                                         rng=rng) for t in temps]
            fits = fit_spectra(spectra, errors="ignore").assign_coords(
                temperature=("spectrum", temps))
            seq = arrhenius_by_component(conductivity(fits, **geometry), breakpoints=0)
            sb = float(seq.activation_energy.sel(component="bulk")[0])
            sg = float(seq.activation_energy.sel(component="grain_boundary")[0])
            for shared in ("auto", ("exponents", "capacitances")):
                wall = cpu = np.inf
                for _ in range(repeats):
                    t0, c0 = time.perf_counter(), time.process_time()
                    res = fit_temperature_series(spectra, shared=shared, **geometry)
                    wall = min(wall, time.perf_counter() - t0)
                    cpu = min(cpu, time.process_time() - c0)
                ea = res.activation_energy
                err = res.activation_energy_stderr
                label = (f"auto ({res.attrs['shared']})" if shared == "auto"
                         else ",".join(shared))
                lines.append(
                    f"| {n} | {label} | {res.attrs['n_global_params']} | {wall:.2f} "
                    f"| {cpu:.2f} | {float(ea.sel(component='bulk')):.4f} ± "
                    f"{float(err.sel(component='bulk')):.4f} "
                    f"| {float(ea.sel(component='grain_boundary')):.4f} ± "
                    f"{float(err.sel(component='grain_boundary')):.4f} "
                    f"| {sb:.3f} / {sg:.3f} | {bool(res.converged)} |")
    return "\n".join(lines)
