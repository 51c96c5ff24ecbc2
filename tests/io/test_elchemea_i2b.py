"""Elchemea .i2b importer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eis_pipeline.exceptions import ParseError, UnknownFormatError
from eis_pipeline.io.importers import elchemea_i2b
from eis_pipeline.io.registry import read_spectra


def _i2b(rows: list[str], count: int | None = None) -> str:
    return "\n".join(["sample A", "800 C", "", str(len(rows) if count is None else count),
                      *rows]) + "\n"


def test_synthetic_header_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.i2b"
    path.write_text(_i2b(["1e5 10 -1", "1e3 12 -4.5", "10 20 -0.5"]))
    (ds,) = read_spectra(path)
    np.testing.assert_allclose(ds.impedance.values, [10 - 1j, 12 - 4.5j, 20 - 0.5j])
    assert '"header": ["sample A", "800 C"]' in ds.attrs["original_metadata"]


def test_truncated_and_garbled(tmp_path: Path) -> None:
    path = tmp_path / "t.i2b"
    path.write_text(_i2b(["1e5 10 -1", "1e3 12 -4.5"], count=3))
    # The sniffer refuses an incomplete file; asked explicitly, the reader says why.
    with pytest.raises(UnknownFormatError):
        read_spectra(path)
    with pytest.raises(ParseError, match=r"t\.i2b:\d+: .*announces 3 points"):
        read_spectra(path, format="elchemea-i2b")
    path.write_text(_i2b(["1e5 10 -1", "1e3 1x2 -4.5"]))
    with pytest.raises(ParseError, match=r"t\.i2b:6: expected a number in column 2"):
        read_spectra(path, format="elchemea-i2b")


def test_sniff_needs_structure_not_just_suffix(tmp_path: Path) -> None:
    path = tmp_path / "x.i2b"
    assert elchemea_i2b.sniff(path, b"hello\nworld\n") == 0.0
    good = _i2b(["1e5 10 -1", "1e3 12 -4.5"]).encode()
    assert elchemea_i2b.sniff(path, good) > elchemea_i2b.sniff(tmp_path / "x.dat", good) > 0
