"""Console and CSV summary tables: one unit per column, columns apart, extrapolation marked."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import xarray as xr

from eis_pipeline.report.tables import (
    format_summary,
    sigma_unit,
    value_with_error,
    write_csv_summary,
)


def _tree(sigma: list[list[float]], extrapolated: list[list[bool]]) -> xr.DataTree:
    sigma_a = np.array(sigma)
    campaign = xr.Dataset(
        {"sigma_25C": (("sample", "component"), sigma_a),
         "sigma_25C_stderr": (("sample", "component"), 0.03 * sigma_a),
         "sigma_25C_extrapolated": (("sample", "component"), np.array(extrapolated)),
         "activation_energy": (("sample", "component"), np.full(sigma_a.shape, 0.45)),
         "activation_energy_stderr": (("sample", "component"), np.full(sigma_a.shape, 0.01)),
         "milling_time_min": ("sample", np.array([15.0, 45.0]),
                              {"synthesis_parameter": 1}),
         "n_spectra": ("sample", [6, 6]), "n_converged": ("sample", [6, 5]),
         "n_kk_failed": ("sample", [0, 1])},
        coords={"sample": ["mill015", "mill045"],
                "component": ["bulk", "grain_boundary", "total"]})
    return xr.DataTree.from_dict({"campaign": campaign})


def test_sigma_unit_follows_the_median() -> None:
    assert sigma_unit([5.61e-6, 7e-6]) == (1e6, "µS/cm")
    assert sigma_unit([2e-3, 4e-3]) == (1e3, "mS/cm")
    assert sigma_unit([np.nan]) == (1e3, "mS/cm")


def test_value_with_error() -> None:
    assert value_with_error(5.61, 1.78) == "5.61 ± 1.78"
    assert value_with_error(0.4612, 0.0021) == "0.461 ± 0.002"
    assert value_with_error(float("nan"), 1.0) == "-"


def test_console_columns_never_touch_and_state_units() -> None:
    # the case: sub-µS/cm values used to print as 0.00000561 ± 0.000001780.0000000187
    tree = _tree([[5.61e-6, 1.9e-8, 1.87e-8], [6.0e-6, 2.2e-8, 2.1e-8]],
                 [[False, True, True], [False, False, False]])
    text = format_summary(tree)
    lines = text.splitlines()
    assert "σ25 bulk (µS/cm)" in lines[0] and "σ25 gb (nS/cm)" in lines[0]
    assert "5.61 ± 0.17" in text
    assert "0.0000" not in text
    row = lines[2]
    # every cell is separated from the next by at least two spaces
    cells = [c for c in row.split("  ") if c.strip()]
    assert len(cells) >= 9
    assert "*" in row and "*" not in lines[3]
    assert any("extrapolated" in line for line in lines)


def test_csv_has_si_units_in_header_and_flags(tmp_path: Path) -> None:
    tree = _tree([[5.61e-6, 1.9e-8, 1.87e-8], [6.0e-6, 2.2e-8, 2.1e-8]],
                 [[False, True, True], [False, False, False]])
    path = write_csv_summary(tree, tmp_path / "summary.csv")
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert float(rows[0]["sigma25_bulk_S_cm"]) == 5.61e-6
    assert rows[0]["sigma25_gb_extrapolated"] == "True"
    assert rows[1]["sigma25_gb_extrapolated"] == "False"


def test_series_columns_say_when_global_and_per_spectrum_disagree() -> None:
    from eis_pipeline.report.tables import format_series_lines, series_fit_columns

    comps = ["bulk", "grain_boundary", "total"]
    glob = xr.Dataset({"activation_energy": ("component", [0.350, 0.450, 0.40]),
                       "activation_energy_stderr": ("component", [0.001, 0.001, 0.002])},
                      coords={"component": comps}, attrs={"reason": ""})
    per = xr.Dataset({"activation_energy": (("component", "segment"), [[0.351], [0.47], [0.40]]),
                      "activation_energy_stderr": (("component", "segment"),
                                                   [[0.002], [0.003], [0.002]])},
                     coords={"component": comps})
    mf = xr.Dataset({"sigma_dc_disagrees": ("spectrum", [False, True, True])})
    node = xr.DataTree.from_dict({"series_fit": glob, "arrhenius": per, "model_free": mf})
    cols = series_fit_columns(node)
    # bulk 0.001 apart with combined error 0.0022: agree; gb 0.02 apart, 0.0032: disagree
    assert cols["Ea_bulk_disagree"] is False and cols["Ea_gb_disagree"] is True
    assert cols["Ea_gb_global_eV"] == 0.45 and cols["n_sigma_dc_disagree"] == 2
    lines = format_series_lines([{"sample": "s1", **cols, "Ea_gb_eV": 0.47,
                                  "Ea_gb_stderr_eV": 0.003}])
    assert "DISAGREE" in lines[1] and "gb 0.450 ± 0.001 (per spectrum 0.470 ± 0.003)" in lines[1]
    assert "2 spectra" in lines[1]
    assert series_fit_columns(xr.DataTree()) == {}
