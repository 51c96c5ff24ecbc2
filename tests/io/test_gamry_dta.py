import json

import numpy as np
import pytest

from eis_pipeline.exceptions import FormatError, ParseError
from eis_pipeline.io.importers.gamry_dta import NAME, sniff
from eis_pipeline.io.registry import read_spectra
from tests.io._helpers import (
    assert_matches,
    drop_column,
    impedance_py_expected,
    lines_of,
    read_both,
    write,
)

pytestmark = pytest.mark.shared_formats


def _zcurve_rows(lines: list[str]) -> range:
    """Indices of the ZCURVE data rows (after the TABLE, names and units lines)."""
    start = next(i for i, s in enumerate(lines) if s.startswith("ZCURVE\t"))
    stop = start + 3
    while stop < len(lines) and lines[stop].startswith("\t"):
        stop += 1
    return range(start + 3, stop)


@pytest.mark.parametrize("name", ["exampleDataGamry.DTA", "exampleDataGamryABORT.DTA"])
def test_matches_impedance_py(shared_formats, name):
    spectra = read_both(shared_formats / "impedance_py" / name, NAME)
    assert len(spectra) == 1
    assert_matches(spectra[0], *impedance_py_expected(shared_formats, name))
    assert spectra[0].attrs["drift_corrected"] == 0


def test_header_and_optional_variables(shared_formats):
    ds = read_spectra(shared_formats / "impedance_py" / "exampleDataGamry.DTA")[0]
    meta = json.loads(ds.attrs["original_metadata"])
    assert meta["TAG"] == "EISPOT"
    assert meta["DATE"] == "4/23/2018"
    assert meta["AREA"] == 1.0
    assert meta["VDC"] == -0.05
    assert meta["NOTES"] == "-50mV +5.66X10^-4 D8"
    assert meta["INSTRUMENTVERSION"] == "4.21"   # LABEL values stay text
    assert ds.attrs["instrument"] == "Gamry REF3000-34128"
    # Row 0: Pt 0, Time 1 s, Vdc -0.3413299 V, Idc -5.89286E-006 A.
    assert ds.time.values[0] == 1.0
    assert ds.potential.values[0] == pytest.approx(-0.3413299)
    assert ds.current.values[0] == pytest.approx(-5.89286e-6)
    assert "temperature" not in ds


def test_aborted_run_is_flagged_in_metadata(shared_formats):
    ds = read_spectra(shared_formats / "impedance_py" / "exampleDataGamryABORT.DTA")[0]
    assert json.loads(ds.attrs["original_metadata"])["EXPERIMENTABORTED"] is True


def test_drift_corrected_file_gives_two_sweeps(shared_formats):
    path = shared_formats / "pyimpspec" / "drift-corrected-data.dta"
    raw, corrected = read_spectra(path)
    assert (raw.attrs["drift_corrected"], corrected.attrs["drift_corrected"]) == (0, 1)
    assert (raw.attrs["sweep"], corrected.attrs["sweep"]) == (0, 1)
    np.testing.assert_array_equal(raw.frequency, corrected.frequency)
    # Last row: Zreal 163443,2  Zimag -207897,9  ZrealDrCor 163521,3  ZimagDrCor -207613,7.
    assert raw.impedance.values[-1] == pytest.approx(163443.2 - 207897.9j)
    assert corrected.impedance.values[-1] == pytest.approx(163521.3 - 207613.7j)
    assert json.loads(raw.attrs["original_metadata"])["AREA"] == 0.02


def test_temperature_column_in_celsius_becomes_kelvin(shared_formats, tmp_path):
    lines = lines_of(shared_formats / "impedance_py" / "exampleDataGamry.DTA")
    rows = _zcurve_rows(lines)
    lines[rows[0] - 2] += "\tTemp"
    lines[rows[0] - 1] += "\tdeg C"
    for k, i in enumerate(rows):
        lines[i] += "\t-327.67" if k == 0 else f"\t{20 + k / 10:.1f}"
    ds = read_spectra(write(tmp_path, "t.DTA", lines))[0]
    assert np.isnan(ds.temperature.values[0])   # Gamry's "no thermocouple" filler
    np.testing.assert_allclose(ds.temperature.values[1:3], [293.25, 293.35])


def test_removed_column_is_named(shared_formats, tmp_path):
    lines = lines_of(shared_formats / "impedance_py" / "exampleDataGamry.DTA")
    rows = _zcurve_rows(lines)
    index = lines[rows[0] - 2].split("\t").index("Zimag")
    broken = drop_column(lines, range(rows[0] - 2, rows[-1] + 1), index)
    with pytest.raises(ParseError, match=r"no\.DTA:\d+: no Z'' \(Zimag\) column"):
        read_spectra(write(tmp_path, "no.DTA", broken))


def test_non_impedance_gamry_file_is_not_detected(tmp_path):
    text = ("EXPLAIN\nTAG\tCV\nTITLE\tLABEL\tCyclic Voltammetry\tTest &Identifier\n"
            "CURVE1\tTABLE\t2\n\tPt\tT\tVf\tIm\n\t#\ts\tV\tA\n\t0\t0.1\t0.2\t1E-6\n"
            "\t1\t0.2\t0.3\t2E-6\n")
    path = tmp_path / "cv.DTA"
    path.write_text(text)
    assert sniff(path, path.read_bytes()) == 0.0
    with pytest.raises(FormatError, match="no importer recognises"):
        read_spectra(path)
    with pytest.raises(FormatError, match=r"cv\.DTA: Gamry file \(TAG 'CV'\) has no ZCURVE"):
        read_spectra(path, format=NAME)


def test_sniff_rejects_other_text():
    assert sniff(None, b"Frequency\tZre\tZimg\n1\t2\t3\n") == 0.0  # type: ignore[arg-type]
    assert sniff(None, b"") == 0.0  # type: ignore[arg-type]


def test_impedance_agrees_with_the_polar_columns(shared_formats):
    """Independent check of columns and sign: Zreal + j Zimag = Zmod exp(j Zphz) (degrees)."""
    path = shared_formats / "impedance_py" / "exampleDataGamry.DTA"
    lines = lines_of(path)
    rows = _zcurve_rows(lines)
    names = lines[rows[0] - 2].split("\t")
    table = np.array([[float(x) for x in lines[i].split("\t")[1:]] for i in rows])
    zmod, zphz = table[:, names.index("Zmod") - 1], table[:, names.index("Zphz") - 1]
    ds = read_spectra(path)[0]
    np.testing.assert_allclose(ds.impedance.values, zmod * np.exp(1j * np.deg2rad(zphz)),
                               rtol=1e-5)


def test_run_aborted_before_the_first_point(shared_formats, tmp_path):
    lines = lines_of(shared_formats / "impedance_py" / "exampleDataGamryABORT.DTA")
    rows = _zcurve_rows(lines)
    path = write(tmp_path, "empty.DTA", [*lines[:rows[0]], *lines[rows[-1] + 1:]])
    with pytest.raises(FormatError, match=r"empty\.DTA: .*no impedance data points"):
        read_spectra(path)
