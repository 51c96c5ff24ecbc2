"""Swapped column names (issue 10): the redundant columns of a text export (|Z| and phase
beside Z' and Z'') and the shape of a frequency column (log-spaced sweeps) give away a header
whose names were exchanged while the data were not. Every file is written here; the real
exports in ../shared/formats all read (tests/io/test_shared_catalogue.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eis_pipeline.exceptions import ParseError
from eis_pipeline.io.importers._common import require_frequency_column, step_irregularity
from eis_pipeline.io.registry import read_spectra

F = np.logspace(5, -1, 25)
#: R_s + R‖C (τ = 0.1 ms) with 0.1 % noise, as measured data have (no repeated values)
Z = (20.0 + 1000.0 / (1.0 + 2j * np.pi * F * 1000.0 * 1e-7)) * (
    1.0 + 1e-3 * np.random.default_rng(0).standard_normal(F.size))


def _chi(names: str, rows: np.ndarray) -> str:
    lines = ["A.C. Impedance", "Init E (V) = 0", "High Frequency (Hz) = 1e+5", "",
             names, ""]
    lines += [", ".join(f"{v:.4e}" for v in row[:4]) + f", {row[4]:.1f}" for row in rows]
    return "\n".join(lines) + "\n"


def _chi_rows() -> np.ndarray:
    return np.column_stack([F, Z.real, Z.imag, np.abs(Z), np.degrees(np.angle(Z))])


@pytest.mark.parametrize(("names", "flagged"), [
    ("Freq/Hz, Z'/ohm, Z\"/ohm, Z/ohm, Phase/deg", None),
    ("Freq/Hz, Z/ohm, Z\"/ohm, Z'/ohm, Phase/deg", "Z/ohm"),      # Z' and |Z| exchanged
    ("Freq/Hz, Z\"/ohm, Z'/ohm, Z/ohm, Phase/deg", "Phase/deg"),  # Z' and Z'' exchanged
])
def test_chi_names_exchanged_are_an_error_naming_line_and_column(tmp_path: Path, names: str,
                                                                 flagged: str | None) -> None:
    path = tmp_path / "run.txt"
    path.write_text(_chi(names, _chi_rows()))
    if flagged is None:
        (ds,) = read_spectra(path)
        np.testing.assert_allclose(ds.impedance.values, Z, rtol=1e-3)
        return
    with pytest.raises(ParseError, match="column names do not match the data") as info:
        read_spectra(path)
    assert info.value.path == str(path) and info.value.line == 7   # the first data row
    assert flagged in str(info.value)


def test_csv_with_polar_columns_beside_cartesian_ones_is_checked(tmp_path: Path) -> None:
    rows = np.column_stack([F, Z.real, Z.imag, np.abs(Z), np.degrees(np.angle(Z))])
    good = tmp_path / "good.csv"
    body = "\n".join(",".join(f"{v:.8g}" for v in row) for row in rows) + "\n"
    good.write_text("f,Z',Z'',|Z|,phase\n" + body)
    (ds,) = read_spectra(good)
    np.testing.assert_allclose(ds.impedance.values, Z, rtol=1e-7)
    bad = tmp_path / "bad.csv"
    bad.write_text("f,|Z|,Z'',Z',phase\n" + body)
    with pytest.raises(ParseError, match=r"bad\.csv:2: .*do not match the data"):
        read_spectra(bad)


@pytest.mark.parametrize("header", ["Z',f,Z''", "f,Z',Z''"])
def test_frequency_exchanged_with_z_real_is_an_error_naming_both(tmp_path: Path,
                                                                 header: str) -> None:
    """The data keep f first; a header naming the second column the frequency reads Z'
    values (20 ... 1020 Ω, far from log-spaced) as frequencies."""
    path = tmp_path / "run.csv"
    rows = "\n".join(f"{f:.8g},{z.real:.8g},{z.imag:.8g}" for f, z in zip(F, Z, strict=True))
    path.write_text(header + "\n" + rows + "\n")
    if header == "f,Z',Z''":
        (ds,) = read_spectra(path)
        np.testing.assert_allclose(ds.frequency.values, F)
        return
    with pytest.raises(ParseError, match="does not look like frequencies") as info:
        read_spectra(path)
    message = str(info.value)
    assert "are the column names exchanged" in message and info.value.line == 2
    assert "column 2" in message and "column 1" in message


def test_autolab_txt_with_frequency_and_z_real_exchanged(tmp_path: Path) -> None:
    rows = [f"{z.real:g},0,0,0,{f:g},{z.imag:g},0,0,0" for f, z in zip(F, Z, strict=True)]
    lines = ['"Z60W Data File: Version 1.1"', *['""'] * 7, "0,2,0,1,0.1,10000", str(F.size),
             '"  Freq (Hz)    Ampl     Bias   Time(Sec)   Z\'(a)    Z\'\'(b)    GD   '
             'Err   Range"', *rows]
    path = tmp_path / "a.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ParseError, match=r"column 1 does not look like frequencies .* but "
                                         r"column 5 does") as info:
        read_spectra(path)
    assert info.value.line == 12


def test_irregularity_measure() -> None:
    assert step_irregularity(F) == pytest.approx(1.0)
    # two sweeps, ascending then descending, a denser decade in the first
    two = np.concatenate([np.logspace(0, 2, 21), np.logspace(2, 5, 16)[1:], F[1:]])
    assert step_irregularity(two) == pytest.approx(2.0, rel=1e-9)
    assert step_irregularity(Z.real) > 10
    # a real frequency column is never flagged, whatever the other columns hold
    table = np.column_stack([two, np.sort(two), two])
    require_frequency_column(table, (0, 1, 2), path=Path("x"), first_line=1)
