"""Helpers for the importer tests: reference values and variants of real exports.

* Reference values the source projects assert, from ``../shared/formats/``:
  :func:`impedance_py_expected` / :func:`impedance_py_values` (impedance.py's
  ``EXPECTED_parsed_values.json``) and :func:`control_expected` (pyimpspec's
  ``EXPECTED_control_data.json``), compared with :func:`assert_matches`.
* Variants of a real text export built in code: line endings (:data:`EOLS`), decimal commas,
  truncation, garbage, a dropped column. The real files stay in ../shared/formats/; tests
  write the variants to ``tmp_path``.
* :func:`assert_same_spectra` and :func:`read_both` (forced format == detected format).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xarray as xr

from eis_pipeline.io.registry import read_spectra

EOLS = {"LF": "\n", "CRLF": "\r\n", "CR": "\r"}
GARBAGE = b"\x00\xff\xfe#?!\x9d garbage \x81"

_POINT_IN_NUMBER = re.compile(r"(?<=\d)\.(?=\d)|(?<![\w.])\.(?=\d)")


def lines_of(path: Path, encoding: str = "latin-1") -> list[str]:
    """The file's lines (any line ending), decoded byte-for-byte."""
    return path.read_bytes().decode(encoding).splitlines()


def write(tmp: Path, name: str, lines: list[str], eol: str = "\n",
          encoding: str = "latin-1") -> Path:
    """Write ``lines`` joined by ``eol`` (with a final ``eol``) to ``tmp/name``."""
    out = tmp / name
    out.write_bytes((eol.join(lines) + eol).encode(encoding))
    return out


def decimal_comma(lines: list[str], rows: range | slice | None = None) -> list[str]:
    """Write every decimal point of a number as a comma, in the given rows (default all)."""
    out = list(lines)
    idx = range(len(out))[rows] if isinstance(rows, slice) else (rows or range(len(out)))
    for i in idx:
        out[i] = _POINT_IN_NUMBER.sub(",", out[i])
    return out


def truncated(lines: list[str], row: int) -> list[str]:
    """Lines up to ``row`` (0-based) with that row cut after its first half."""
    cut = lines[row][: max(1, len(lines[row]) // 2)]
    return [*lines[:row], cut]


def with_garbage(lines: list[str], row: int) -> bytes:
    """The file as bytes with garbage inserted in the middle of line ``row`` (0-based)."""
    text = lines[row]
    half = len(text) // 2
    before = "\n".join([*lines[:row], text[:half]]).encode("latin-1")
    after = "\n".join([text[half:], *lines[row + 1:]]).encode("latin-1")
    return before + GARBAGE + after + b"\n"


def drop_column(lines: list[str], rows: range, index: int, sep: str = "\t") -> list[str]:
    """Remove field ``index`` (0-based, after splitting on ``sep``) from the given rows."""
    out = list(lines)
    for i in rows:
        fields = out[i].split(sep)
        if index < len(fields):
            del fields[index]
        out[i] = sep.join(fields)
    return out


def assert_same_spectra(a: list[xr.Dataset], b: list[xr.Dataset]) -> None:
    """Both reads hold the same sweeps, frequencies, impedances and optional variables."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.frequency.values, y.frequency.values)
        np.testing.assert_array_equal(x.impedance.values, y.impedance.values)
        assert sorted(x.data_vars) == sorted(y.data_vars)
        for name in x.data_vars:
            np.testing.assert_array_equal(x[name].values, y[name].values)


def read_both(path: Path, fmt: str) -> list[xr.Dataset]:
    """Read with the format forced and detected; both must agree. Returns the spectra."""
    forced = read_spectra(path, format=fmt)
    detected = read_spectra(path)
    assert detected[0].attrs["source_format"] == fmt
    assert_same_spectra(forced, detected)
    return forced


Reader = Callable[[Path], list[xr.Dataset]]


def _impedance_py_entries(shared: Path) -> dict[str, dict]:
    path = shared / "impedance_py" / "EXPECTED_parsed_values.json"
    return json.loads(path.read_text())["files"]


def impedance_py_values(shared: Path, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """impedance.py's expected (f Hz, complex Z ohm) for ``name``, or None when it lists none."""
    entry = _impedance_py_entries(shared).get(name)
    if entry is None:
        return None
    f = np.asarray(entry["f_Hz"], dtype=float)
    z = np.asarray(entry["Zreal_ohm"], dtype=float) + 1j * np.asarray(entry["Zimag_ohm"],
                                                                       dtype=float)
    assert f.size == z.size == entry["n"]
    return f, z


def impedance_py_expected(shared: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Frequency (Hz) and complex impedance (ohm) that impedance.py's tests assert for a file."""
    values = impedance_py_values(shared, name)
    assert values is not None, f"{name} has no entry in EXPECTED_parsed_values.json"
    return values


def control_expected(shared: Path) -> tuple[np.ndarray, np.ndarray]:
    """pyimpspec's 29-point control spectrum every pyimpspec export must reproduce."""
    data = json.loads((shared / "pyimpspec" / "EXPECTED_control_data.json").read_text())
    f = np.asarray(data["frequency"], dtype=float)
    return f, np.asarray(data["real"], dtype=float) + 1j * np.asarray(data["imaginary"],
                                                                       dtype=float)


def assert_matches(ds: xr.Dataset, f: np.ndarray, z: np.ndarray, rtol: float = 1e-5, *,
                   atol: float = 0.0, f_rtol: float | None = None) -> None:
    """Frequencies and impedances equal the reference (order included).

    ``rtol`` (and ``atol``, ohm) for Z' and Z'' separately; ``f_rtol`` (default ``rtol``)
    for the frequencies, for exports that print them with fewer digits.
    """
    assert ds.sizes["frequency"] == f.size
    np.testing.assert_allclose(ds.frequency.values, f, rtol=rtol if f_rtol is None else f_rtol)
    np.testing.assert_allclose(ds.impedance.values.real, z.real, rtol=rtol, atol=atol)
    np.testing.assert_allclose(ds.impedance.values.imag, z.imag, rtol=rtol, atol=atol)
