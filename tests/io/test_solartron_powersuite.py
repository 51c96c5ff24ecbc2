import numpy as np
import pytest

from eis_pipeline.exceptions import FormatError, ParseError
from eis_pipeline.io.importers.solartron_powersuite import NAME, sniff
from eis_pipeline.io.registry import read_spectra
from tests.io._helpers import (
    assert_matches,
    drop_column,
    impedance_py_expected,
    read_both,
    write,
)

pytestmark = pytest.mark.shared_formats
FILE = "exampleDataPowersuite.txt"


@pytest.fixture
def example(shared_formats):
    return shared_formats / "impedance_py" / FILE


def logical_lines(path):
    """The file's rows: its CR CR LF is one line end."""
    return path.read_bytes().decode("latin-1").replace("\r\r\n", "\n").splitlines()


def test_matches_impedance_py_in_acquisition_order(shared_formats, example):
    assert b"\r\r\n" in example.read_bytes()
    spectra = read_both(example, NAME)
    assert len(spectra) == 1
    ds = spectra[0]
    assert_matches(ds, *impedance_py_expected(shared_formats, FILE))
    assert np.all(np.diff(ds.frequency.values) > 0)   # ascending, as measured
    assert ds.attrs["instrument"] == "Solartron PowerSuite"


def test_removed_column(example, tmp_path):
    lines = logical_lines(example)
    broken = drop_column(lines, range(len(lines)), 2)
    assert sniff(tmp_path, "\n".join(broken).encode()) == 0.0
    with pytest.raises(FormatError, match="expected the title line"):
        read_spectra(write(tmp_path, "no.txt", broken), format=NAME)
    broken = drop_column(lines, range(1, len(lines)), 2)   # rows only
    with pytest.raises(ParseError, match="expected 3 columns, found 2") as info:
        read_spectra(write(tmp_path, "short.txt", broken))
    assert info.value.line == 2


def test_sniff_wants_the_exact_titles(tmp_path):
    assert sniff(tmp_path, b"Frequency\t Zre\t Zimg\r\r\n1\t2\t3") == 0.8
    assert sniff(tmp_path, b"Frequency\tZ'\tZ''\n1\t2\t3") == 0.0
    assert sniff(tmp_path, b"Time\tCurrent\n1\t2\n") == 0.0
