"""Autolab importers: FRA ASCII (.txt), .dfr and .P00, against the source projects' values."""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import pytest

from eis_pipeline.exceptions import ParseError
from eis_pipeline.io.registry import read_spectra
from tests.io._helpers import control_expected, impedance_py_values


def test_txt_matches_impedance_py(shared_formats: Path) -> None:
    path = shared_formats / "impedance_py" / "exampleDataAutolab.txt"
    assert path.read_bytes().startswith(codecs.BOM_UTF8)
    expected = impedance_py_values(shared_formats, "exampleDataAutolab.txt")
    assert expected is not None
    (ds,) = read_spectra(path)
    assert ds.attrs["source_format"] == "autolab-txt"
    assert ds.sizes["frequency"] == 41
    # The reference JSON keeps 8 decimals (e.g. -0.00026718 for -0.000267175834...), so a
    # half-unit absolute tolerance in that last place accompanies rtol.
    np.testing.assert_allclose(ds.frequency.values, expected[0], rtol=1e-5)
    np.testing.assert_allclose(ds.impedance.values.real, expected[1].real, rtol=1e-5, atol=5e-9)
    np.testing.assert_allclose(ds.impedance.values.imag, expected[1].imag, rtol=1e-5, atol=5e-9)


def test_dfr_matches_control(shared_formats: Path) -> None:
    f, z = control_expected(shared_formats)
    (ds,) = read_spectra(shared_formats / "pyimpspec" / "data.dfr")
    assert ds.attrs["source_format"] == "autolab-dfr"
    np.testing.assert_allclose(ds.frequency.values, f, rtol=1e-5)
    np.testing.assert_allclose(ds.impedance.values, z, rtol=1e-5)
    assert np.all(ds.impedance.values.imag < 0)  # -Z'' column negated


def test_p00_matches_control_at_reduced_precision(shared_formats: Path) -> None:
    f, z = control_expected(shared_formats)
    (ds,) = read_spectra(shared_formats / "pyimpspec" / "data.P00")
    assert ds.attrs["source_format"] == "autolab-p00"
    # Reduced precision: some frequencies keep four significant digits ("37.280e+01" for
    # 372.759...), so f agrees to 5e-4 relative; Z to 0.1 ohm absolute.
    np.testing.assert_allclose(ds.frequency.values, f, rtol=5e-4)
    np.testing.assert_allclose(ds.impedance.values.real, z.real, atol=0.1)
    np.testing.assert_allclose(ds.impedance.values.imag, z.imag, atol=0.1)
    assert set(ds.data_vars) >= {"time", "potential", "current"}
    assert ds.current.attrs["units"] == "A"
    np.testing.assert_allclose(ds.potential.values, 0.30981)


def _txt(rows: list[str], count: int | None = None) -> str:
    lines = ['"Z60W Data File: Version 1.1"', *['""'] * 7, "0,2,0,1,0.1,10000",
             str(len(rows) if count is None else count),
             '"  Freq (Hz)    Ampl     Bias   Time(Sec)   Z\'(a)    Z\'\'(b)    GD   Err   Range"']
    return "\n".join(lines + rows) + "\n"


def test_txt_synthetic_roundtrip(tmp_path: Path, rng: np.random.Generator) -> None:
    f = np.logspace(5, -1, 13)
    z = rng.uniform(1, 100, 13) - 1j * rng.uniform(0, 50, 13)
    rows = [f"{float(a)!r},0,0,{i}.5,{float(b.real)!r},{float(b.imag)!r},0,0,0"
            for i, (a, b) in enumerate(zip(f, z, strict=True))]
    path = tmp_path / "x.txt"
    path.write_bytes(codecs.BOM_UTF8 + _txt(rows).encode())
    (ds,) = read_spectra(path)
    np.testing.assert_array_equal(ds.impedance.values, z)
    np.testing.assert_array_equal(ds.time.values, np.arange(13) + 0.5)


def test_txt_truncated_names_line(tmp_path: Path) -> None:
    path = tmp_path / "short.txt"
    path.write_text(_txt(["1000,0,0,0,1,-1,0,0,0"], count=5))
    with pytest.raises(ParseError, match=r"short\.txt:\d+: .*announces 5 points") as info:
        read_spectra(path)
    assert info.value.line is not None


def test_dfr_bad_number_names_line(tmp_path: Path) -> None:
    values = ["VERSION8.0", " 1", " 1", " 100.0", " 5.0", " abc", *[" 0.0"] * 6]
    path = tmp_path / "bad.dfr"
    path.write_text("\n".join(values) + "\n")
    with pytest.raises(ParseError, match=r"bad\.dfr:6: expected a number"):
        read_spectra(path)
