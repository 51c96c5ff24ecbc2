import json

import numpy as np
import pytest

from eis_pipeline.exceptions import FormatError, ParseError
from eis_pipeline.io.importers.parstat_txt import NAME, sniff
from eis_pipeline.io.registry import read_spectra
from tests.io._helpers import (
    drop_column,
    lines_of,
    write,
)

pytestmark = pytest.mark.shared_formats
FILE = "exampleDataParstat.txt"
FIRST_EIS_ROW = 782  # 0-based line of the first row with a frequency


@pytest.fixture
def example(shared_formats):
    return shared_formats / "impedance_py" / FILE


def test_dc_rows_skipped_and_point_variables_kept(example):
    ds = read_spectra(example)[0]
    meta = json.loads(ds.attrs["original_metadata"])
    assert meta["dc_rows_skipped"] == 812 - 31
    assert meta["first_line"] == FIRST_EIS_ROW + 1
    # Row 783: 3.50029397010803  0.0245747901499271  7639.602  10000 ...
    assert ds.potential.values[0] == 3.50029397010803
    assert ds.current.values[0] == 0.0245747901499271
    assert ds.time.values[0] == 7639.602


def test_two_sweeps_separated_by_dc_rows(example, tmp_path):
    lines = lines_of(example)
    eis = lines[FIRST_EIS_ROW:]
    variant = write(tmp_path, "two.txt", [*lines, *lines[1:40], *eis])
    first, second = read_spectra(variant)
    assert (first.attrs["sweep"], second.attrs["sweep"]) == (0, 1)
    np.testing.assert_array_equal(first.impedance.values, second.impedance.values)


def test_removed_column(example, tmp_path):
    lines = lines_of(example)
    broken = drop_column(lines, range(len(lines)), 5)
    assert sniff(tmp_path, "\n".join(broken[:3]).encode()) == 0.0
    with pytest.raises(ParseError, match=r"no\.txt:1: no Z'' \(Zim\) column"):
        read_spectra(write(tmp_path, "no.txt", broken), format=NAME)


def test_dc_only_export_is_a_clear_error(example, tmp_path):
    lines = lines_of(example)[:FIRST_EIS_ROW]
    with pytest.raises(FormatError, match="DC data only"):
        read_spectra(write(tmp_path, "dc.txt", lines))


def test_back_to_back_sweeps_without_dc_rows(example, tmp_path):
    lines = lines_of(example)
    eis = lines[FIRST_EIS_ROW:]
    first, second = read_spectra(write(tmp_path, "b2b.txt", [*lines, *eis]))
    assert first.sizes["frequency"] == second.sizes["frequency"] == 31
    np.testing.assert_array_equal(first.frequency.values, second.frequency.values)
