"""EC-Lab .mpt and Gamry .DTA writers: round trip through small independent parsers, and the
layout compared with real exports (../shared/formats/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eis_pipeline.testing.simulate import log_frequencies, rq_impedance
from eis_pipeline.testing.writers import write_gamry_dta, write_mpt


def read_mpt(path: Path) -> tuple[dict[str, str], list[str], np.ndarray]:
    """Minimal EC-Lab reader: header count from line 2, tab-separated table after it."""
    lines = path.read_bytes().decode("latin-1").split("\n")
    assert lines[0] == "EC-Lab ASCII FILE"
    n_header = int(lines[1].split(":")[1])
    header = {}
    for line in lines[2:n_header - 1]:
        if " : " in line:
            key, value = line.split(" : ", 1)
            header[key.strip()] = value
    columns = lines[n_header - 1].rstrip("\t").split("\t")
    rows = [line.split("\t") for line in lines[n_header:] if line]
    return header, columns, np.array(rows, dtype=float)


def read_dta(path: Path) -> tuple[dict[str, str], list[str], list[str], np.ndarray]:
    """Minimal Gamry reader: KEY<TAB>TYPE<TAB>value header, ZCURVE table with units line."""
    lines = path.read_bytes().decode("latin-1").split("\n")
    header = {}
    for line in lines:
        fields = line.split("\t")
        if len(fields) >= 3 and fields[0]:
            header[fields[0]] = fields[2]
    start = lines.index("ZCURVE\tTABLE")
    names = lines[start + 1].split("\t")[1:]
    units = lines[start + 2].split("\t")[1:]
    rows = [line.split("\t")[1:] for line in lines[start + 3:] if line]
    return header, names, units, np.array(rows, dtype=float)


@pytest.fixture
def sweep() -> tuple[np.ndarray, np.ndarray]:
    f = log_frequencies(7e6, 1.0, 10)
    z = 2j * np.pi * f * 4e-7 + rq_impedance(f, 120.0, 2e-10, 0.9) + 3.0
    return f, z


def test_mpt_round_trip(tmp_path: Path, sweep: tuple[np.ndarray, np.ndarray]) -> None:
    f, z = sweep
    path = tmp_path / "pellet_25C.mpt"
    write_mpt(path, f, z, time_s=np.arange(f.size) * 0.5, area_cm2=0.785)
    header, columns, data = read_mpt(path)
    assert columns[:6] == ["freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm", "|Z|/Ohm", "Phase(Z)/deg",
                           "time/s"]
    assert "Cs/µF" in columns                     # latin-1 µ, as EC-Lab writes it
    assert data.shape == (f.size, len(columns))
    np.testing.assert_allclose(data[:, 0], f, rtol=1e-7)
    # EC-Lab writes -Im(Z): positive for capacitive data; 8 significant digits
    np.testing.assert_allclose(data[:, 1] - 1j * data[:, 2], z, rtol=0, atol=1e-7 * np.abs(z).max())
    np.testing.assert_allclose(data[:, 3], np.abs(z), rtol=1e-7)
    np.testing.assert_allclose(data[:, 4], np.degrees(np.angle(z)), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(data[:, 5], np.arange(f.size) * 0.5)
    assert header["Electrode surface area"] == "0.785 cm²"
    assert path.read_bytes().decode("latin-1").count("\r") == 0


def test_dta_round_trip(tmp_path: Path, sweep: tuple[np.ndarray, np.ndarray]) -> None:
    f, z = sweep
    temp = np.linspace(24.9, 25.1, f.size)
    path = tmp_path / "run01.DTA"
    write_gamry_dta(path, f, z, temp, notes=["pellet A"])
    header, names, units, data = read_dta(path)
    assert path.read_bytes().startswith(b"EXPLAIN\nTAG\tEISPOT\n")
    assert names == ["Pt", "Time", "Freq", "Zreal", "Zimag", "Zsig", "Zmod", "Zphz", "Idc",
                     "Vdc", "IERange", "Temp"]
    assert units[names.index("Temp")] == "°C"
    col = {n: data[:, i] for i, n in enumerate(names)}
    np.testing.assert_array_equal(col["Pt"], np.arange(f.size))
    np.testing.assert_allclose(col["Freq"], f, rtol=1e-6)
    # Gamry's Zimag has the physical sign; 7 significant digits
    np.testing.assert_allclose(col["Zreal"] + 1j * col["Zimag"], z, rtol=0,
                               atol=1e-6 * np.abs(z).max())
    np.testing.assert_allclose(col["Temp"], temp, atol=0.005)
    assert float(header["FREQINIT"]) == pytest.approx(f.max())
    assert float(header["FREQFINAL"]) == pytest.approx(f.min())


def test_writers_are_deterministic(tmp_path: Path, sweep: tuple[np.ndarray, np.ndarray]) -> None:
    f, z = sweep
    for name in ("a", "b"):
        write_mpt(tmp_path / name / "x.mpt", f, z)
        write_gamry_dta(tmp_path / name / "x.DTA", f, z, 25.0)
    for suffix in (".mpt", ".DTA"):
        first = (tmp_path / "a" / f"x{suffix}").read_bytes()
        assert first == (tmp_path / "b" / f"x{suffix}").read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["x.DTA", "x.mpt"]


@pytest.mark.shared_formats
def test_mpt_layout_matches_real_export(tmp_path: Path, shared_formats: Path,
                                        sweep: tuple[np.ndarray, np.ndarray]) -> None:
    real = shared_formats / "impedance_py" / "exampleDataBioLogic.mpt"
    _, real_columns, _ = read_mpt(real)
    path = tmp_path / "x.mpt"
    write_mpt(path, *sweep)
    _, columns, _ = read_mpt(path)
    assert set(columns) <= set(real_columns)
    assert columns == [c for c in real_columns if c in columns]   # same order
    real_lines = real.read_bytes().decode("latin-1").split("\n")
    ours = path.read_bytes().decode("latin-1").split("\n")
    assert ours[1].split(":")[0] == real_lines[1].split(":")[0]   # "Nb header lines "


@pytest.mark.shared_formats
def test_dta_layout_matches_real_export(tmp_path: Path, shared_formats: Path,
                                        sweep: tuple[np.ndarray, np.ndarray]) -> None:
    real = shared_formats / "impedance_py" / "exampleDataGamry.DTA"
    _, real_names, _, _ = read_dta(real)
    path = tmp_path / "x.DTA"
    write_gamry_dta(path, *sweep, 25.0)
    _, names, _, _ = read_dta(path)
    assert names[:len(real_names)] == real_names and names[len(real_names):] == ["Temp"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_independent_reader_impedance_py(tmp_path: Path,
                                         sweep: tuple[np.ndarray, np.ndarray]) -> None:
    """impedance.py's own BioLogic and Gamry readers (written for real exports) read ours."""
    from impedance.preprocessing import readFile

    f, z = sweep
    write_mpt(tmp_path / "x.mpt", f, z)
    write_gamry_dta(tmp_path / "x.DTA", f, z, 25.0)
    for name, instrument, rtol in (("x.mpt", "biologic", 1e-7), ("x.DTA", "gamry", 1e-6)):
        f_read, z_read = readFile(str(tmp_path / name), instrument=instrument)
        np.testing.assert_allclose(f_read, f, rtol=rtol)
        np.testing.assert_allclose(z_read, z, rtol=0, atol=rtol * np.abs(z).max())
