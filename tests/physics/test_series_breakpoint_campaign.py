"""The campaign path of the breakpoint search: `arrhenius_breakpoints = "auto"` with
`series_fit = "global"` searches the global fit for the transition the per-spectrum
Arrhenius fit found, and stores where it is."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.pipeline import run
from eis_pipeline.testing.simulate import (
    ArrheniusLaw,
    PelletModel,
    log_frequencies,
    simulate_spectrum,
)
from eis_pipeline.testing.writers import write_mpt

T_B = 308.15    # the transition (35 °C, between two measured temperatures), K: σ continuous
LOW = PelletModel(0.1, 1.0, bulk=ArrheniusLaw.from_sigma_at(1e-3, 0.35),
                  grain_boundary=ArrheniusLaw.from_sigma_at(5e-4, 0.45), inductance_H=0.0)

#: above the transition: the same σ at T_B, smaller activation energies
HIGH = PelletModel(
    0.1, 1.0, bulk=ArrheniusLaw.from_sigma_at(float(LOW.bulk.conductivity(T_B)), 0.25, T_B),
    grain_boundary=ArrheniusLaw.from_sigma_at(float(LOW.grain_boundary.conductivity(T_B)), 0.30,
                                              T_B), inductance_H=0.0)

CONFIG = """
[campaign]
name = "transition"
output = "results.h5"

[defaults]
circuit = "bulk-gb-electrode"
series_fit = "global"
arrhenius_breakpoints = {breakpoints}

[[samples]]
name = "pellet"
files = ["data/*.mpt"]
temperature = {{from = "filename", pattern = "_(?P<celsius>-?\\\\d+)C\\\\.mpt$"}}
thickness_mm = 1.0
diameter_mm = 10.0
"""


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    folder = tmp_path_factory.mktemp("transition")
    (folder / "data").mkdir()
    rng = np.random.default_rng(5)
    for celsius in range(-40, 101, 10):     # 15: AICc needs points to charge a breakpoint
        t = celsius + 273.15
        ds = simulate_spectrum(LOW if t < T_B else HIGH, t, log_frequencies(1e6, 0.1, 10),
                               noise=0.005, rng=rng)
        z = ds.impedance.values.ravel()
        write_mpt(folder / "data" / f"pellet_{celsius}C.mpt", ds.frequency.values, z)
    return folder


def _run(folder, breakpoints):
    config = folder / f"campaign_{breakpoints.strip(chr(34))}.toml"
    config.write_text(CONFIG.format(breakpoints=breakpoints), encoding="utf-8")
    return run(config, write=False, progress=False, plots=False)


def test_auto_breakpoint_is_searched_in_the_global_fit(campaign):
    tree = _run(campaign, '"auto"')
    per_spectrum = tree["pellet"]["arrhenius"].to_dataset()
    assert set(per_spectrum["model"].values.astype(str)) != {"line"}   # the premise
    series = tree["pellet"]["series_fit"].to_dataset()
    assert series.attrs["breakpoint_temperature_K"] == pytest.approx(T_B)
    assert "breakpoint_search" in series.attrs
    ea = series.activation_energy.sel(component=["bulk", "grain_boundary"]).values
    np.testing.assert_allclose(ea, [[0.35, 0.25], [0.45, 0.30]], atol=0.01)


def test_no_breakpoint_asked_gives_one_global_law(campaign):
    series = _run(campaign, "0")["pellet"]["series_fit"].to_dataset()
    assert "segment" not in series.activation_energy.dims
    assert np.isnan(series.attrs.get("breakpoint_temperature_K", np.nan))
