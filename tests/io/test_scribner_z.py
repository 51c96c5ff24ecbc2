import json

import numpy as np
import pytest

from eis_pipeline.exceptions import FormatError, ParseError
from eis_pipeline.io.importers.scribner_z import sniff
from eis_pipeline.io.registry import read_spectra
from tests.io._helpers import (
    drop_column,
    lines_of,
    write,
)

pytestmark = pytest.mark.shared_formats


def _first_row(lines: list[str]) -> int:
    """0-based index of the first data row of either layout."""
    if lines[0].startswith("ZPLOT2"):
        return next(i for i, s in enumerate(lines) if s.strip() == "End Comments") + 1
    return next(i for i, s in enumerate(lines) if "Freq(Hz)" in s) + 1


def test_complete_zplot_file_and_header(shared_formats):
    ds = read_spectra(shared_formats / "impedance_py" / "Circuit1_EIS_1.z")[0]
    meta = json.loads(ds.attrs["original_metadata"])
    assert ds.sizes["frequency"] == meta["data_points_declared"] == 48
    assert ds.attrs["instrument"] == "Scribner ZPlot 3.2c"
    assert meta["Date"] == "10-12-2018"
    assert meta["Experiment.vs Freq-Initial"] == 50000.0
    # First row: 5.000000E+04 ... 2.590000E+00 2.9036E+01 6.3662E-01 (an inductive point).
    assert ds.frequency.values[0] == 5e4
    assert ds.time.values[0] == 2.59
    assert ds.impedance.values[0] == pytest.approx(29.036 + 0.63662j)


def test_stopped_sweeps_keep_declared_count(shared_formats):
    folder = shared_formats / "impedance_py"
    meta = json.loads(read_spectra(folder / "exampleDataZPlot.z")[0].attrs["original_metadata"])
    assert (meta["data_points_declared"], meta["data_points_read"]) == (56, 21)
    ds = read_spectra(folder / "exampleDataZPlot_noComments.z")[0]
    meta = json.loads(ds.attrs["original_metadata"])
    assert (meta["data_points_declared"], meta["data_points_read"]) == (79, 31)
    assert meta["Date"] == "12-17-2019" and meta["Open Circuit Potential (V)"] == 0.0
    assert ds.attrs["instrument"] == "Scribner ZPlotW 3.2c"


def test_removed_column_is_reported(shared_formats, tmp_path):
    lines = lines_of(shared_formats / "impedance_py" / "exampleDataZPlot.z")
    first = _first_row(lines)
    # Without its title, the Z'' column is gone: the titles no longer name it.
    broken = drop_column(lines, range(first - 2, len(lines)), 5)
    with pytest.raises(ParseError, match=r"no Z'' \(Z''\(b\)\) column"):
        read_spectra(write(tmp_path, "no.z", broken))
    # Removed from the rows only: rows are shorter than the titles.
    broken = drop_column(lines, range(first, len(lines)), 5)
    with pytest.raises(ParseError, match="expected 9 columns, found 8") as info:
        read_spectra(write(tmp_path, "short.z", broken))
    assert info.value.line == first + 1


def test_other_channels_are_rejected_not_misread(shared_formats, tmp_path):
    lines = lines_of(shared_formats / "impedance_py" / "exampleDataZPlot.z")
    title = _first_row(lines) - 2
    lines[title] = lines[title].replace("Z'(a)", "|Z|(a)").replace("Z''(b)", "Theta(b)")
    with pytest.raises(ParseError, match="does not hold impedance"):
        read_spectra(write(tmp_path, "polar.z", lines))


def test_sniff_needs_the_signature_line(tmp_path):
    assert sniff(tmp_path, b"ZPLOT2 ASCII\r\n  Measured Data") == 0.95
    assert sniff(tmp_path, b"Freq(Hz)\tAmpl\n1\t2\n") == 0.0
    path = tmp_path / "notes.z"
    path.write_text("some notes\n1 2 3\n")
    with pytest.raises(FormatError, match="no importer recognises"):
        read_spectra(path)
    np.testing.assert_equal(sniff(tmp_path, b""), 0.0)
