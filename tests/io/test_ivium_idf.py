"""Ivium .idf/.ids importer against pyimpspec's control spectrum and the files' own headers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from eis_pipeline.exceptions import FormatError, ParseError
from eis_pipeline.io.registry import read_spectra
from tests.io._helpers import control_expected, impedance_py_values


@pytest.mark.parametrize("name, sweeps", [("data.idf", 1), ("data.ids", 2)])
def test_matches_control(shared_formats: Path, name: str, sweeps: int) -> None:
    f, z = control_expected(shared_formats)
    spectra = read_spectra(shared_formats / "pyimpspec" / name)
    assert len(spectra) == sweeps
    for i, ds in enumerate(spectra):
        assert ds.attrs["source_format"] == "ivium-idf"
        assert ds.attrs["sweep"] == i
        # Six significant digits in the file: agreement to 5e-6 relative.
        np.testing.assert_allclose(ds.frequency.values, f, rtol=1e-5)
        np.testing.assert_allclose(ds.impedance.values, z, rtol=1e-5)
        assert json.loads(ds.attrs["original_metadata"])["Method"] == "Impedance"


def test_example_ivium_against_its_own_header(shared_formats: Path) -> None:
    path = shared_formats / "impedance_py" / "exampleDataIvium.idf"
    # impedance.py has no Ivium reader, so its reference JSON lists no values for this file.
    assert impedance_py_values(shared_formats, "exampleDataIvium.idf") is None
    (ds,) = read_spectra(path)
    meta = json.loads(ds.attrs["original_metadata"])
    assert meta["Title"] == "New Test"
    # Independent check: the method's frequency list (I_Frequencies.freq[k]) in the header.
    text = path.read_bytes().decode("latin-1")
    planned = np.array([float(v) for v in re.findall(r"I_Frequencies\.freq\[\d+\]=(\S+)", text)])
    assert ds.sizes["frequency"] == planned.size == 26
    np.testing.assert_allclose(ds.frequency.values, planned, rtol=1e-5)
    # First and last rows of primary_data, as written in the file (Z', Z'', f).
    np.testing.assert_allclose(ds.impedance.values[[0, -1]],
                               [13.7548 - 1.87976j, 92.8463 - 16.7393j], rtol=1e-12)


def _dataset(rows: list[tuple[float, float, float]], nrows: int | None = None,
             method: str = "Impedance") -> bytes:
    head = (b"\x00" * 16 + b"H\x00\x00\x00\r\nPeaks=false\r\nCorrosion=false\r\nLevels=false\r\n"
            b"ECN=false\r\nSolarcell=false\r\n<\x07\x00\x00\r\nMethod=" + method.encode()
            + b"\r\nTitle=Synthetic\r\n>\x0c\x01\x00\r\n2         \r\nData Objects    \r\n0      "
            b"   \r\nprimary_data    \r\n3         \r\n")
    body = f"{len(rows) if nrows is None else nrows}        \r\n".encode()
    body += b"".join(f"{a:.5E}  {b:.5E}\t{c:.5E} \r\n".encode() for a, b, c in rows)
    return head + body + b"\x00\x00\x00\x00\r\n"


def test_synthetic_and_sweeps(tmp_path: Path) -> None:
    rows = [(10.0, -1.5, 1e4), (12.5, -3.25, 1e2), (20.0, -8.0, 1.0)]
    path = tmp_path / "s.ids"
    timing = b"timing=2\r\ntiming.time[1]=2.5\r\ntiming.time[2]=4.0\r\n"
    second = _dataset(rows[:2]).replace(b"Title=", timing + b"Title=")
    path.write_bytes(_dataset(rows) + second)
    a, b = read_spectra(path)
    np.testing.assert_allclose(a.impedance.values, [10 - 1.5j, 12.5 - 3.25j, 20 - 8j])
    assert b.sizes["frequency"] == 2 and b.attrs["sweep"] == 1 and b.attrs["title"] == "Synthetic"
    # Acquisition times only when the timing list has one entry per point.
    assert "time" not in a
    np.testing.assert_array_equal(b.time.values, [2.5, 4.0])


def test_truncated_block_names_line(tmp_path: Path) -> None:
    path = tmp_path / "t.idf"
    path.write_bytes(_dataset([(1.0, -1.0, 10.0)], nrows=4)[:-14])
    with pytest.raises(ParseError, match=r"t\.idf:\d+: .*announces 4 rows"):
        read_spectra(path)


def test_ids_cut_inside_second_data_set(tmp_path: Path) -> None:
    one = _dataset([(1.0, -1.0, 10.0)])
    path = tmp_path / "cut.ids"
    path.write_bytes(one + one[:120])
    with pytest.raises(ParseError, match=r"cut\.ids:\d+: data set 1 .*no 'primary_data'"):
        read_spectra(path)


def test_non_impedance_method_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "cv.idf"
    path.write_bytes(_dataset([(1.0, -1.0, 10.0)], method="CyclicVoltammetry"))
    with pytest.raises(FormatError, match="not Impedance"):
        read_spectra(path)


def test_line_split_is_the_pattern_split() -> None:
    """The replace-based split gives what ``re.split`` on the same separators gives, on every
    string of CR, LF, NUL and text up to 8 characters long (the separators' combinations)."""
    import itertools
    import re

    from eis_pipeline.io.importers.ivium_idf import _split_lines

    for n in range(9):
        for chars in itertools.product("a\r\n\x00", repeat=n):
            text = "".join(chars)
            assert _split_lines(text) == re.split(r"\r\n|\r\x00|\n|\r", text), repr(text)
