""".par rows are comma-delimited, so no decimal-comma variant exists for this format."""

import json

import numpy as np
import pytest

from eis_pipeline.exceptions import FormatError, ParseError
from eis_pipeline.io.importers.versastudio_par import NAME, sniff
from eis_pipeline.io.registry import read_spectra
from tests.io._helpers import (
    drop_column,
    read_both,
    write,
)

pytestmark = pytest.mark.shared_formats
FILE = "exampleDataVersaStudio.par"


def lines_utf8(path):
    return path.read_text(encoding="utf-8").splitlines()


def definition(lines):
    return next(i for i, s in enumerate(lines) if s.startswith("Definition="))


@pytest.fixture
def example(shared_formats):
    return shared_formats / "impedance_py" / FILE


def test_pyimpspec_file_instrument(shared_formats):
    ds = read_both(shared_formats / "pyimpspec" / "data.par", NAME)[0]
    assert ds.attrs["instrument"] == "Princeton Applied Research PMC-200"


def test_z_columns_not_the_phasors_and_header(example):
    ds = read_spectra(example)[0]
    # Row 0: ... Frequency 100000, E Real -0.003582465, ..., Z Real 55.31571, Z Imag 4.575431.
    assert ds.impedance.values[0] == 55.31571 + 4.575431j
    assert ds.time.values[0] == 1.812 and ds.current.values[0] == -3.282372e-06
    meta = json.loads(ds.attrs["original_metadata"])
    assert meta["Instrument"]["Type"] == "VersaSTAT4"
    assert meta["Application"]["Version"] == "2.52.3.0"
    assert meta["Action1"]["Start Frequency (Hz)"] == 100000.0
    assert meta["segment"] == "Segment1"
    assert "Graph1" not in meta
    assert ds.attrs["instrument"] == "Princeton Applied Research VersaSTAT4"


def test_dc_segment_is_skipped_and_two_sweeps_kept(example, tmp_path):
    lines = lines_utf8(example)
    d = definition(lines)
    end = lines.index("</Segment1>")
    dc = ["<Segment2>", "Type=1", "Definition=Segment #, Point #, E(V), I(A), Elapsed Time(s), 0",
          "0,0,0.1,1E-6,1", "0,1,0.1,1E-6,2", "</Segment2>"]
    again = [s.replace("Segment1", "Segment3") for s in lines[d - 3:end + 1]]
    variant = write(tmp_path, "three.par", [*lines[:end + 1], *dc, *again], encoding="utf-8")
    first, second = read_spectra(variant)
    assert json.loads(second.attrs["original_metadata"])["segment"] == "Segment3"
    np.testing.assert_array_equal(first.impedance.values, second.impedance.values)


def test_removed_column(example, tmp_path):
    lines = lines_utf8(example)
    d = definition(lines)
    end = lines.index("</Segment1>")
    # Z Imag is field 15 of the rows and item 15 of "Definition=..." once split on ", ".
    lines[d] = lines[d].replace(" Z Imag,", "")
    broken = drop_column(lines, range(d + 1, end), 15, sep=",")
    with pytest.raises(ParseError, match=r"no Z'' \(Z Imag\) column") as info:
        read_spectra(write(tmp_path, "no.par", broken, encoding="utf-8"))
    assert info.value.line == d + 1
    rows_only = drop_column(lines_utf8(example), range(d + 1, end), 15, sep=",")
    with pytest.raises(ParseError, match="expected 24 columns, found 23"):
        read_spectra(write(tmp_path, "short.par", rows_only, encoding="utf-8"))


def test_non_impedance_par_is_not_detected(tmp_path):
    text = ("<Application>\nName=VersaStudio\n</Application>\n<Segment1>\n"
            "Definition=Segment #, Point #, E(V), I(A), Elapsed Time(s), 0\n"
            "0,0,0.1,1E-6,1\n</Segment1>\n")
    path = tmp_path / "cv.par"
    path.write_text(text)
    assert sniff(path, text.encode()) == 0.0
    with pytest.raises(FormatError, match="no segment holds impedance rows"):
        read_spectra(path, format=NAME)


def test_impedance_is_the_ratio_of_the_phasors(example):
    """Independent check of column choice and sign: Z = E / I from the E and I phasors."""
    lines = lines_utf8(example)
    d = definition(lines)
    end = lines.index("</Segment1>")
    rows = np.array([[float(x) for x in s.split(",")] for s in lines[d + 1:end]])
    e, i = rows[:, 10] + 1j * rows[:, 11], rows[:, 12] + 1j * rows[:, 13]
    ds = read_spectra(example)[0]
    np.testing.assert_allclose(ds.impedance.values, e / i, rtol=1e-5)
