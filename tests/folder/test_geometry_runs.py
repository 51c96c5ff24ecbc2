"""Geometry inputs through a whole run: cell constants from samples.csv and flags, the unit
slip and the implausible temperature warned about in the console, HDF5 and CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from eis_pipeline.cli.main import cli
from eis_pipeline.io.hdf5.read import read_results
from tests.folder.test_folder_runs import rc_csv

EPS0 = 8.8541878128e-14   # F/cm
#: a 1 mm x 10 mm pellet whose bulk has ε_r = 20: C = ε_r ε0 A / L
AREA = np.pi / 4
C_BULK = 20 * EPS0 * AREA / 0.1
R25 = 1e5


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two samples: 'cell' (measured in a cell of constant 0.1273 cm⁻¹, one thermocouple
    glitch at 1395 °C) and 'slip' (thickness typed as 10 mm instead of 1 mm)."""
    root = tmp_path / "data"
    for sample in ("cell", "slip"):
        for t in (25, 50, 75):
            rc_csv(root / sample / f"{sample}_{t}C.csv", r_ohm=R25 * np.exp(-(t - 25) / 30),
                   c_f=C_BULK)
    rc_csv(root / "cell" / "cell_1395C.csv", r_ohm=R25 / 10, c_f=C_BULK)
    (root / "samples.csv").write_text("sample,cell_constant_per_cm,thickness_mm,diameter_mm\n"
                                      f"cell,{0.1 / AREA:.6f},,\nslip,,10,10\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("eis_pipeline.folder.DEFAULT_CIRCUIT", "single-arc-electrode")
    return root


def test_cell_constant_slip_and_temperature_recorded_everywhere(lab: Path) -> None:
    r = CliRunner().invoke(cli, ["run", str(lab), "-o", "out.h5", "--plots", "none"])
    assert r.exit_code == 0, r.output
    assert "cell_constant_per_cm = 0.127324 [samples.csv]" in r.output   # the inference
    tree = read_results("out.h5")
    cell, slip = tree["cell"], tree["slip"]
    # σ = κ / R (PHYSICS.md 5) with the fitted R, and ≈ κ / R_true
    cond = cell["conductivity"].ds
    kappa = cell.attrs["cell_constant_per_cm"]
    bulk = cond["conductivity"].sel(component="bulk")
    np.testing.assert_allclose(bulk, kappa / cond["resistance"].sel(component="bulk"),
                               rtol=1e-12)
    at25 = bulk.values[np.argmin(abs(cond["temperature"].values - 298.15))]
    assert at25 == pytest.approx(kappa / R25, rel=1e-3)
    assert cell.attrs["geometry_source"] == "samples.csv"
    assert kappa == pytest.approx(0.1 / AREA, rel=1e-6)
    assert "thickness_cm" not in cell.attrs
    # the thermocouple glitch: a flag per spectrum and a warning with the sample
    flagged = cond["temperature_implausible"].values.astype(bool)
    assert flagged.sum() == 1 and cond["temperature"].values[flagged][0] > 1600
    assert "cell_1395C.csv: 1395 °C is outside" in cell.attrs["warnings"]
    # the slip: named in the HDF5 attrs, the printed summary and the CSV
    assert slip.attrs["geometry_source"] == "samples.csv"
    named = "thickness 10 mm? did you mean 1 mm"
    assert named in slip.attrs["warnings"] and "ε_r" in slip.attrs["warnings"]
    assert "warning: slip: bulk relative permittivity" in r.output and named in r.output
    assert "warning: cell: cell_1395C.csv: 1395 °C" in r.output
    with open("out.csv", encoding="utf-8") as fh:
        rows = {row["sample"]: row for row in csv.DictReader(fh)}
    assert named in rows["slip"]["warnings"] and "1395" in rows["cell"]["warnings"]


def test_cell_constant_flag_for_every_sample_and_fit(lab: Path) -> None:
    (lab / "samples.csv").unlink()
    kappa = 0.1 / AREA
    r = CliRunner().invoke(cli, ["init", str(lab), "--cell-constant-per-cm", f"{kappa:.6f}"])
    assert r.exit_code == 0, r.output
    assert r.stdout.count("cell_constant_per_cm = 0.127324") == 2
    r = CliRunner().invoke(cli, ["fit", str(lab / "slip" / "slip_25C.csv"), "--preset",
                                 "single-arc-electrode", "--cell-constant-per-cm",
                                 f"{kappa:.6f}"])
    assert r.exit_code == 0, r.output
    assert "conductivity (S/cm)   cell constant 0.127324 cm⁻¹" in r.output
    (line,) = [x for x in r.output.splitlines() if x.startswith("  bulk ")]
    sigma = float(line.split()[1])
    assert sigma == pytest.approx(kappa / R25, rel=1e-3)
    r = CliRunner().invoke(cli, ["fit", str(lab / "slip" / "slip_25C.csv"),
                                 "--cell-constant-per-cm", "1", "--thickness-mm", "1"])
    assert r.exit_code == 2 and "give it alone" in r.output
