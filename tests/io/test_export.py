"""Exports: ZView .z files read back identically, BDF columns, impedance.py parameter tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.io.export import export_results, zview_text
from eis_pipeline.io.registry import read_spectra
from eis_pipeline.packing import pack_spectra, unpack_spectra
from eis_pipeline.testing.simulate import add_proportional_noise, log_frequencies, pellet_impedance

PARAMS = {"L0": 2.5e-7, "R1": 1234.5678901, "CPE1_0": 3.3e-11, "CPE1_1": 0.93,
          "R2": 987.654321, "CPE2_0": 2.1e-9, "CPE2_1": 0.81, "CPE3_0": 4.4e-6,
          "CPE3_1": 0.87}
CIRCUIT = "L0-p(R1,CPE1)-p(R2,CPE2)-CPE3"


def _tree(rng: np.random.Generator) -> xr.DataTree:
    f = log_frequencies(1e6, 1, 10)
    fit = pellet_impedance(f, PARAMS)
    spectrum = make_spectrum(f, add_proportional_noise(fit, 0.01, rng),
                             time=np.cumsum(1 / f))
    spectrum["impedance_fit"] = ("frequency", fit)
    spectrum["impedance_residual"] = spectrum["impedance"] - spectrum["impedance_fit"]
    fits = xr.Dataset({"value": (("spectrum", "param"), [list(PARAMS.values())]),
                       "converged": ("spectrum", [True])},
                      coords={"param": list(PARAMS), "spectrum_id": ("spectrum", ["run 1:s0"]),
                              "temperature": ("spectrum", [298.15])},
                      attrs={"circuit": CIRCUIT})
    spectrum.attrs["spectrum_id"] = "run 1:s0"
    return xr.DataTree.from_dict({"s1/spectra": pack_spectra([spectrum]), "s1/fit": fits})


def test_zview_round_trip_is_exact(tmp_path: Path, rng: np.random.Generator) -> None:
    tree = _tree(rng)
    written = export_results(tree, tmp_path, "zview")
    z_file = next(p for p in written if p.suffix == ".z")
    assert z_file.parent == tmp_path / "s1"
    back = read_spectra(z_file)
    assert len(back) == 1
    original = unpack_spectra(tree["s1/spectra"].ds)[0]
    np.testing.assert_array_equal(back[0]["frequency"].values, original["frequency"].values)
    np.testing.assert_array_equal(back[0]["impedance"].values, original["impedance"].values)
    np.testing.assert_array_equal(back[0]["time"].values, original["time"].values)
    assert back[0].attrs["source_format"] == "zplot-z"


def test_zview_text_keeps_the_physical_sign() -> None:
    text = zview_text([1e3, 1e2], [10 - 5j, 20 - 8j])
    rows = text.split("End Comments\r\n")[1].splitlines()
    assert float(rows[0].split("\t")[5]) == -5.0       # Z''(b): capacitive < 0, as ZView


def test_bdf_and_csv_columns(tmp_path: Path, rng: np.random.Generator) -> None:
    tree = _tree(rng)
    (bdf,) = [p for p in export_results(tree, tmp_path / "b", "bdf") if p.name.endswith(".bdf.csv")]
    rows = list(csv.DictReader(bdf.open(encoding="utf-8")))
    assert list(rows[0]) == ["frequency_hertz", "real_impedance_ohm",
                             "imaginary_impedance_ohm", "test_time_second"]
    z = unpack_spectra(tree["s1/spectra"].ds)[0]["impedance"].values
    assert float(rows[3]["imaginary_impedance_ohm"]) == z[3].imag
    (plain,) = [p for p in export_results(tree, tmp_path / "c", "csv")
                if p.parent.name == "s1"]
    header = plain.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:3] == ["frequency_Hz", "impedance_real_ohm", "impedance_imag_ohm"]
    assert "impedance_residual_imag_ohm" in header


@pytest.mark.filterwarnings("ignore:Simulating circuit based on initial parameters")
def test_impedance_py_table_pastes_into_custom_circuit(tmp_path: Path,
                                                       rng: np.random.Generator) -> None:
    circuits = pytest.importorskip("impedance.models.circuits")
    tree = _tree(rng)
    table = next(p for p in export_results(tree, tmp_path, "csv")
                 if p.name == "s1_impedance_py.csv")
    (row,) = list(csv.DictReader(table.open(encoding="utf-8")))
    assert row["circuit"] == CIRCUIT
    assert "R1 (Ohm)" in row and "CPE1_0 (Ohm^-1 sec^a)" in row and "CPE1_1" in row
    model = circuits.CustomCircuit(row["circuit"], initial_guess=json.loads(row["initial_guess"]))
    f = unpack_spectra(tree["s1/spectra"].ds)[0]["frequency"].values
    np.testing.assert_allclose(model.predict(f), pellet_impedance(f, PARAMS), rtol=1e-8)


def test_unknown_format(tmp_path: Path, rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="csv, zview, bdf"):
        export_results(_tree(rng), tmp_path, "xlsx")
