"""Two pellets' files in one sample (issue 10): repeated temperatures whose σ disagree beyond
their errors, or files whose headers give different geometries, are a warning with the
sample (HDF5 attrs, console summary, CSV), not a silent Arrhenius line through both."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from eis_pipeline.cli.main import cli
from eis_pipeline.io.hdf5.read import read_results
from eis_pipeline.physics.geometry import Geometry
from eis_pipeline.physics.plausibility import (
    geometry_mix_warnings,
    repeated_temperature_warnings,
)
from tests.folder.test_folder_runs import rc_csv

EPS0 = 8.8541878128e-14   # F/cm
C_BULK = 20 * EPS0 * (np.pi / 4) / 0.1
R25 = 1e5


def _cond(temps_c: list[float], sigma: list[float], rel_err: float) -> xr.Dataset:
    n = len(temps_c)
    s = np.array(sigma)[:, None] * np.ones((1, 3))
    return xr.Dataset(
        {"conductivity": (("spectrum", "component"), s),
         "conductivity_fit_stderr": (("spectrum", "component"), s * rel_err),
         "converged": ("spectrum", np.ones(n, bool))},
        coords={"component": ["bulk", "grain_boundary", "total"],
                "temperature": ("spectrum", np.array(temps_c) + 273.15),
                "source": ("spectrum", [f"f{k}.csv" for k in range(n)])})


def test_repeated_temperatures_that_disagree_are_named() -> None:
    # two pellets at 25 and 50 °C, the second one 3x less conductive
    (w25, w50) = repeated_temperature_warnings(
        _cond([25.0, 50.0, 25.2, 49.9], [1e-3, 3e-3, 3.3e-4, 1e-3], 0.01))
    assert "at 25.1 °C" in w25 and "f0.csv" in w25 and "f2.csv" in w25 and "3.03x" in w25
    assert "two pellets" in w50
    # a repeat of one pellet (2 % apart), distinct temperatures, or errors as large as the
    # difference: no warning
    assert repeated_temperature_warnings(_cond([25.0, 25.0], [1e-3, 1.02e-3], 1e-4)) == []
    assert repeated_temperature_warnings(_cond([25.0, 30.0], [1e-3, 3e-3], 1e-4)) == []
    assert repeated_temperature_warnings(_cond([25.0, 25.0], [1e-3, 3e-3], 0.5)) == []
    # unconverged spectra are not compared
    cond = _cond([25.0, 25.0], [1e-3, 3e-3], 0.01)
    cond["converged"][:] = [True, False]
    assert repeated_temperature_warnings(cond) == []


def test_different_header_geometries_are_named() -> None:
    a = Geometry(thickness_cm=0.075, diameter_cm=1.3)
    b = Geometry(thickness_cm=0.12, diameter_cm=1.3)
    (w,) = geometry_mix_warnings([a, a, b, None], ["x/a1.txt", "x/a2.txt", "x/b.txt", "c"])
    assert "2 different geometries" in w and "a1.txt" in w and "b.txt" in w
    assert geometry_mix_warnings([a, a, None], ["1", "2", "3"]) == []


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """'mixed': pellet a and pellet b (3x the resistance) at 25, 50, 75 °C in one folder;
    'repeat': one pellet with the 25 °C run measured twice (1 % apart)."""
    root = tmp_path / "data"
    for t in (25, 50, 75):
        r = R25 * np.exp(-(t - 25) / 30)
        rc_csv(root / "mixed" / f"a_{t}C.csv", r_ohm=r, c_f=C_BULK)
        rc_csv(root / "mixed" / f"b_{t}C.csv", r_ohm=3 * r, c_f=C_BULK)
        rc_csv(root / "repeat" / f"r_{t}C.csv", r_ohm=r, c_f=C_BULK)
    rc_csv(root / "repeat" / "r2_25C.csv", r_ohm=1.01 * R25, c_f=C_BULK)
    (root / "samples.csv").write_text("sample,thickness_mm,diameter_mm\nmixed,1,10\n"
                                      "repeat,1,10\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("eis_pipeline.folder.DEFAULT_CIRCUIT", "single-arc-electrode")
    return root


def test_two_pellets_in_one_sample_warn_everywhere(lab: Path) -> None:
    r = CliRunner().invoke(cli, ["run", str(lab), "-o", "out.h5", "--plots", "none"])
    assert r.exit_code == 0, r.output
    tree = read_results("out.h5")
    warned = tree["mixed"].attrs["warnings"]
    # (which temperatures: those where both fits converged; on this synthetic data 25 °C)
    assert "at 25.0 °C" in warned and "are two pellets mixed in this sample?" in warned
    assert "a_25C.csv" in warned and "b_25C.csv" in warned and "3x apart" in warned
    assert "are two pellets" not in tree["repeat"].attrs["warnings"]
    assert "warning: mixed: at 25.0 °C the sample's spectra disagree" in r.output
    with open("out.csv", encoding="utf-8") as fh:
        rows = {row["sample"]: row for row in csv.DictReader(fh)}
    assert "two pellets" in rows["mixed"]["warnings"]
    assert "two pellets" not in rows["repeat"]["warnings"]
