"""BioLogic EC-Lab .mpt importer: real exports, text variants made from them, broken files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eis_pipeline.exceptions import FormatError, ParseError, UnknownFormatError
from eis_pipeline.io.importers import biologic_mpt
from eis_pipeline.io.registry import detect_format, read_spectra
from tests.io._helpers import (
    assert_same_spectra,
    write,
)

# -- real files ---------------------------------------------------------------------------------

def test_units_and_metadata(shared_formats: Path):
    path = shared_formats / "impedance_py/exampleDataBioLogic.mpt"
    (ds,) = read_spectra(path)
    # First data row of the file: <I>/mA = -4.8041187E-002, <Ewe>/V = -2.8677555E-004.
    assert ds.current.values[0] == pytest.approx(-4.8041187e-5, rel=1e-12)
    assert ds.current.attrs["units"] == "A"
    assert ds.potential.values[0] == pytest.approx(-2.8677555e-4, rel=1e-12)
    assert ds.time.values[0] == pytest.approx(0.7836904905780102, rel=1e-12)
    meta = json.loads(ds.attrs["original_metadata"])
    assert meta["header_lines"] == 61
    assert meta["technique"] == "Potentio Electrochemical Impedance Spectroscopy"
    assert "freq/Hz" in meta["columns"]
    assert ds.attrs["instrument"].startswith("BioLogic EC-Lab")
    (peis,) = read_spectra(shared_formats / "yadg/peis.mpt")
    assert peis.attrs["instrument"] == "BioLogic EC-Lab 11.33, SP-240 (SN 0200)"
    assert json.loads(peis.attrs["original_metadata"])["parameters"]["fi"] == "200.000"


@pytest.mark.parametrize(("name", "n_sweeps", "points"), [
    ("yadg/vsp_peis_with.mpt", 32, {70}),
    ("yadg/geis.mpt", 61, {39, 41}),
    ("yadg/peis.issue_149.mpt", 4, {21}),
    ("yadg/zir.mpt", 1, {1}),
    ("yadg/peis.mpt", 1, {32}),
])
def test_loops_become_sweeps(shared_formats: Path, name: str, n_sweeps: int, points: set[int]):
    spectra = read_spectra(shared_formats / name)
    assert len(spectra) == n_sweeps
    assert {ds.sizes["frequency"] for ds in spectra} == points
    for ds in spectra:
        f = ds.frequency.values
        assert np.all(f > 0)
        assert np.all(np.diff(f) < 0)  # each sweep runs high -> low, no restart inside
    if len(spectra) > 1:
        cycles = [ds.attrs["cycle_number"] for ds in spectra]
        assert cycles == sorted(set(cycles))


def test_geis_zero_frequency_rows_are_dropped(shared_formats: Path):
    path = shared_formats / "yadg/geis.mpt"
    lines = path.read_bytes().decode("latin-1").splitlines()[76:]
    n_zero = sum(line.split("\t")[0] == "0.0000000E+000" for line in lines)
    assert n_zero > 0
    total = sum(ds.sizes["frequency"] for ds in read_spectra(path))
    assert total == len(lines) - n_zero


def test_column_named_after_an_empty_name_is_ignored(shared_formats: Path):
    # EC-Lab 11.61 names 63 columns ("", "Ewe-Ece/V" at the end) but writes 61 values.
    (ds,) = read_spectra(shared_formats / "yadg/peis.issue_225.with_ece.mpt")
    assert ds.sizes["frequency"] == 32
    # First data row: freq, Re(Z), -Im(Z) ... time/s, <Ewe>/V, <I>/mA.
    assert ds.frequency.values[0] == 1.9999814e5
    assert ds.impedance.values[0] == 1.2273843 - 0.11151811j
    assert ds.time.values[0] == 2.833530001196777
    assert ds.current.values[0] == pytest.approx(2.7926537e-4, rel=1e-12)


# -- non-impedance and damaged real files --------------------------------------------------------

@pytest.mark.parametrize("name", ["yadg/mb.issue_95.mpt", "yadg/mb.issue_95.de.mpt"])
def test_non_impedance_run_is_detected_then_rejected_clearly(shared_formats: Path, name: str):
    path = shared_formats / name
    assert detect_format(path).name == "biologic-mpt"
    with pytest.raises(ParseError, match="not an impedance measurement: no frequency column") \
            as info:
        read_spectra(path)
    assert info.value.path == str(path)
    assert info.value.line in (93, 94)  # the column names line
    assert "'Ewe/V'" in str(info.value)  # lists the columns it found


@pytest.mark.parametrize(("name", "missing"), [
    ("impedance_py/exampleDataBioLogic_MissingFreq.mpt", "'freq/Hz'"),
    ("impedance_py/exampleDataBioLogic_NoImZ.mpt", "'-Im(Z)/Ohm'"),
])
def test_missing_impedance_column(shared_formats: Path, name: str, missing: str):
    path = shared_formats / name
    with pytest.raises(ParseError) as info:
        read_spectra(path)
    err = info.value
    assert err.path == str(path) and err.line == 61
    assert missing in str(err) and "missing" in str(err)
    assert "'Re(Z)/Ohm'" in str(err)  # names the columns found


# -- variants made from a real file -----------------------------------------------------------

def _data_mpt(shared_formats: Path) -> tuple[list[str], int]:
    text = (shared_formats / "pyimpspec/data.mpt").read_bytes().decode("cp1252")
    return text.splitlines(), 68


def test_headerless_export(shared_formats: Path, tmp_path: Path):
    lines, n_header = _data_mpt(shared_formats)
    path = write(tmp_path, "bare.mpt", lines[n_header - 1:], encoding="cp1252")
    assert detect_format(path).name == "biologic-mpt"
    assert_same_spectra(read_spectra(path), read_spectra(shared_formats / "pyimpspec/data.mpt"))


def test_truncated_mid_row_names_the_line(shared_formats: Path, tmp_path: Path):
    lines, _ = _data_mpt(shared_formats)
    text = "\n".join(lines)
    path = tmp_path / "cut.mpt"
    cut = text.rindex("\t", 0, len(text) - 200)  # inside the last data row
    path.write_bytes(text[:cut].encode("cp1252"))
    with pytest.raises(ParseError, match="expected 30 columns") as info:
        read_spectra(path)
    assert info.value.path == str(path) and info.value.line == text[:cut].count("\n") + 1


def test_bad_number_names_line_and_column(shared_formats: Path, tmp_path: Path):
    lines, n_header = _data_mpt(shared_formats)
    fields = lines[n_header + 4].split("\t")
    fields[1] = "1.2.3"
    lines[n_header + 4] = "\t".join(fields)
    path = tmp_path / "bad.mpt"
    path.write_bytes("\n".join(lines).encode("cp1252"))
    with pytest.raises(ParseError, match=r"column 2, found '1\.2\.3'") as info:
        read_spectra(path)
    assert info.value.line == n_header + 5


def test_header_count_beyond_file(tmp_path: Path):
    path = tmp_path / "short.mpt"
    path.write_text("EC-Lab ASCII FILE\nNb header lines : 90\n\nPEIS\n")
    with pytest.raises(ParseError, match="header claims 90 lines") as info:
        read_spectra(path)
    assert info.value.line == 2


def test_missing_header_count_line(tmp_path: Path):
    path = tmp_path / "nocount.mpt"
    path.write_text("EC-Lab ASCII FILE\nsomething else\n")
    with pytest.raises(ParseError, match="Nb header lines") as info:
        read_spectra(path)
    assert info.value.line == 2


def test_header_only_file_has_no_spectra(shared_formats: Path, tmp_path: Path):
    lines, n_header = _data_mpt(shared_formats)
    path = tmp_path / "empty.mpt"
    path.write_bytes("\n".join(lines[:n_header]).encode("cp1252"))
    assert biologic_mpt.read(path) == []
    with pytest.raises(FormatError, match="no impedance data points"):
        read_spectra(path)


def test_names_and_values_disagree(tmp_path: Path):
    path = tmp_path / "shift.mpt"
    path.write_text("EC-Lab ASCII FILE\nNb header lines : 3\n"
                    "freq/Hz\tRe(Z)/Ohm\t-Im(Z)/Ohm\n1000\t1\t2\t3\n")
    with pytest.raises(ParseError, match="4 values but the header names 3") as info:
        read_spectra(path)
    assert info.value.line == 4


def test_garbage_is_not_detected(tmp_path: Path, rng: np.random.Generator):
    path = tmp_path / "noise.mpt"
    path.write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    assert biologic_mpt.sniff(path, path.read_bytes()) == 0.0
    with pytest.raises(UnknownFormatError):
        read_spectra(path)
    with pytest.raises(ParseError):
        read_spectra(path, format="biologic-mpt")


def test_other_text_is_not_claimed(tmp_path: Path):
    path = tmp_path / "other.txt"
    path.write_text("Freq\tZ'\tZ''\n1\t2\t3\n")
    assert biologic_mpt.sniff(path, path.read_bytes()) == 0.0


def test_synthetic_temperature_and_im_sign(tmp_path: Path):
    path = tmp_path / "temp.mpt"
    rows = ["1,0E+03\t10,0\t2,0\t25,0\t5,0", "1,0E+02\t11,0\t-3,0\t26,0\t6,0"]
    path.write_bytes(("EC-Lab ASCII FILE\r\nNb header lines : 4\r\n\r\n"
                      "freq/Hz\tRe(Z)/Ohm\t-Im(Z)/Ohm\tTemperature/°C\t<I>/mA\t\r\n"
                      + "\r\n".join(rows) + "\r\n").encode("cp1252"))
    (ds,) = read_spectra(path)
    np.testing.assert_array_equal(ds.impedance.values, [10 - 2j, 11 + 3j])
    np.testing.assert_allclose(ds.temperature.values, [298.15, 299.15], rtol=1e-15)
    np.testing.assert_allclose(ds.current.values, [5e-3, 6e-3], rtol=1e-15)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_unicode_encodings_read_identically(shared_formats: Path, tmp_path: Path, encoding: str):
    lines, _ = _data_mpt(shared_formats)
    path = tmp_path / "u.mpt"
    path.write_bytes("\n".join(lines).encode(encoding))
    spectra = read_spectra(path)
    assert_same_spectra(spectra, read_spectra(shared_formats / "pyimpspec/data.mpt"))
    assert "Cs/µF" in json.loads(spectra[0].attrs["original_metadata"])["columns"]
