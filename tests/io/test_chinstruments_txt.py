"""CH Instruments text: comma-delimited, so no decimal-comma variant exists for this format."""

import json

import numpy as np
import pytest

from eis_pipeline.exceptions import FormatError, ParseError
from eis_pipeline.io.importers.chinstruments_txt import NAME, sniff
from eis_pipeline.io.registry import read_spectra
from tests.io._helpers import (
    assert_same_spectra,
    drop_column,
    lines_of,
    write,
)

pytestmark = pytest.mark.shared_formats
FILE = "exampleDataCHInstruments.txt"
FIRST_ROW = 18  # 0-based line of the first data row


@pytest.fixture
def example(shared_formats):
    return shared_formats / "impedance_py" / FILE


def test_header(example):
    ds = read_spectra(example)[0]
    assert ds.attrs["instrument"] == "CH Instruments CHI660E"
    meta = json.loads(ds.attrs["original_metadata"])
    assert meta["technique"] == "A.C. Impedance"
    assert meta["High Frequency (Hz)"] == 2e6
    assert meta["Amplitude (V)"] == 0.025
    assert meta["options"] == ["Imp SF"]


def test_negated_column_title_flips_the_sign(example, tmp_path):
    lines = lines_of(example)
    title = FIRST_ROW - 2
    lines[title] = lines[title].replace('Z"/ohm', '-Z"/ohm')
    ds = read_spectra(write(tmp_path, "neg.txt", lines))[0]
    ref = read_spectra(example)[0]
    np.testing.assert_array_equal(ds.impedance.values, ref.impedance.values.conj())


def test_removed_column(example, tmp_path):
    lines = lines_of(example)
    broken = drop_column(lines, range(FIRST_ROW - 2, len(lines)), 2, sep=",")
    with pytest.raises(ParseError, match=r'no\.txt:17: no Z" \(Z"/ohm\) column'):
        read_spectra(write(tmp_path, "no.txt", broken), format=NAME)
    assert sniff(tmp_path, "\n".join(broken).encode()) == 0.0


def test_other_chi_technique_is_not_impedance(tmp_path):
    text = ("Feb. 20, 2020   15:55:08\nCyclic Voltammetry\nInstrument Model:  CHI660E\n\n"
            "Potential/V, Current/A\n\n0.1, 1e-6\n")
    path = tmp_path / "cv.txt"
    path.write_text(text)
    assert sniff(path, text.encode()) == 0.0
    with pytest.raises(FormatError, match="not a CH Instruments impedance export"):
        read_spectra(path, format=NAME)


def test_impedance_agrees_with_the_polar_columns(example):
    """Independent check of columns and sign against Z/ohm (4 digits) and Phase/deg (0.1°)."""
    rows = np.array([[float(x) for x in s.split(",")] for s in lines_of(example)[FIRST_ROW:]
                     if s.strip()])
    z = read_spectra(example)[0].impedance.values
    np.testing.assert_allclose(np.abs(z), rows[:, 3], rtol=1e-3)
    np.testing.assert_allclose(np.rad2deg(np.angle(z)), rows[:, 4], atol=0.06)


def test_export_without_the_descriptive_header(example, tmp_path):
    """"Convert to txt" can write only the parameters before the table."""
    lines = lines_of(example)
    params = lines.index("Init E (V) = 0")
    ds = read_spectra(write(tmp_path, "bare.txt", lines[params:]))[0]
    assert ds.attrs["source_format"] == NAME
    assert_same_spectra([read_spectra(example)[0]], [ds])
    meta = json.loads(ds.attrs["original_metadata"])
    assert "date" not in meta and "technique" not in meta
    assert meta["Init E (V)"] == 0.0 and meta["options"] == ["Imp SF"]
    assert ds.attrs["instrument"] == "CH Instruments"
