"""Zahner .ism importer: overlap trimming and agreement with the vendor's own fits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import least_squares

from eis_pipeline.exceptions import ParseError
from eis_pipeline.io.importers import zahner_ism
from eis_pipeline.io.registry import detect_format, read_spectra


def _expected(shared: Path, stem: str) -> dict[str, dict[str, float]]:
    data = json.loads((shared / "zahner" / "expected" / f"{stem}_fit_result.json").read_text())
    return {element: {name: p["value"] for name, p in params.items()}
            | {"significance": min(p["significance"] for p in params.values())}
            for element, params in data["model"].items()}


def _fit_parallel_rc(f: np.ndarray, z: np.ndarray, r0: float, c0: float) -> tuple[float, float]:
    """Least-squares fit of Z = R / (1 + jωRC), relative residuals, log parameters."""
    w = 2 * np.pi * f

    def residual(logp: np.ndarray) -> np.ndarray:
        r, c = np.exp(logp)
        rel = (r / (1 + 1j * w * r * c) - z) / np.abs(z)
        return np.concatenate([rel.real, rel.imag])

    sol = least_squares(residual, np.log([r0, c0]), method="lm")
    r, c = np.exp(sol.x)
    return float(r), float(c)


@pytest.mark.parametrize("stem", ["rc-data", "000_mvdc"])
def test_parallel_rc_fit_matches_vendor(shared_formats: Path, stem: str) -> None:
    expected = _expected(shared_formats, stem)
    # Both vendor models are R0 || C0, plus for 000_mvdc an inductance L0 that the vendor fit
    # itself rates insignificant; it is left out here.
    assert {k for k, v in expected.items() if v["significance"] > 0.01} == {"R0", "C0"}
    (ds,) = read_spectra(shared_formats / "zahner" / f"{stem}.ism")
    f, z = ds.frequency.values, ds.impedance.values
    # Start far from the answer: closed-form guesses from the data, not from the JSON.
    r_guess = float(np.abs(z[np.argmin(f)]))
    f_apex = float(f[np.argmin(z.imag)])
    r, c = _fit_parallel_rc(f, z, r_guess, 1 / (2 * np.pi * f_apex * r_guess))
    assert r == pytest.approx(expected["R0"]["R"], rel=0.02)
    assert c == pytest.approx(expected["C0"]["C"], rel=0.02)


def test_rc_closed_form(shared_formats: Path) -> None:
    (ds,) = read_spectra(shared_formats / "zahner" / "rc-data.ism")
    f, z = ds.frequency.values, ds.impedance.values
    r, c = 9.887e7, 1.478e-10
    # Low-frequency limit: Re Z -> R (at 0.2 Hz, ωRC = 0.018, so Re Z = R / (1 + 3e-4)).
    assert z.real[np.argmin(f)] == pytest.approx(r, rel=0.02)
    # Apex of the arc at f = 1 / (2π R C) = 10.9 Hz; sampled points bracket it within 30 %.
    assert f[np.argmin(z.imag)] == pytest.approx(1 / (2 * np.pi * r * c), rel=0.3)


def test_li_ion_high_frequency_inductance(shared_formats: Path) -> None:
    expected = _expected(shared_formats, "li-ion-battery")
    (ds,) = read_spectra(shared_formats / "zahner" / "li-ion-battery.ism")
    f, z = ds.frequency.values, ds.impedance.values
    # High-frequency limit: the series inductance dominates Im Z = ωL.
    top = np.argmax(f)
    assert z.imag[top] / (2 * np.pi * f[top]) == pytest.approx(expected["L0"]["L"], rel=0.1)


@pytest.mark.parametrize("stem, kept, dropped", [("rc-data", 55, 20),
                                                 ("500uR_measurement_pro", 160, 90),
                                                 ("000_mvdc", 38, 0),
                                                 ("li-ion-battery", 128, 0)])
def test_overlap_trimmed_to_monotonic_sweep(shared_formats: Path, stem: str, kept: int,
                                            dropped: int) -> None:
    (ds,) = read_spectra(shared_formats / "zahner" / f"{stem}.ism")
    f = ds.frequency.values
    assert f.size == kept
    steps = np.diff(f)
    assert np.all(steps < 0) or np.all(steps > 0)
    assert np.unique(f).size == f.size
    meta = json.loads(ds.attrs["original_metadata"])
    assert meta["overlap_points_dropped"] == dropped
    assert meta["points_in_file"] == kept + dropped
    assert np.all(np.diff(ds.time.values) >= 0)


def test_metadata(shared_formats: Path) -> None:
    (ds,) = read_spectra(shared_formats / "zahner" / "rc-data.ism")
    meta = json.loads(ds.attrs["original_metadata"])
    assert meta["date_iso"] == "2024-07-16"
    assert meta["system"] == "RC HIZ"
    assert meta["potential_V"] == pytest.approx(0.9995)
    assert meta["temperature_celsius"] == pytest.approx(23.8)
    assert meta["comment_1"] == "First Line"
    assert meta["amplitude_V"] == pytest.approx(0.010)
    (ds,) = read_spectra(shared_formats / "zahner" / "500uR_measurement_pro.ism")
    meta = json.loads(ds.attrs["original_metadata"])  # galvanostatic: "3.8076mA, Ampl: 1A"
    assert meta["current_A"] == pytest.approx(3.8076e-3)
    assert meta["amplitude_A"] == pytest.approx(1.0)
    assert "amplitude_V" not in meta
    assert ds.attrs["instrument"] == "Zahner"


def _ism(f: np.ndarray, z: np.ndarray, strings: tuple[str, ...] = ("010203",)) -> bytes:
    n = f.size
    out = (0xFFFFFFFE).to_bytes(6, "big") + (n - 1).to_bytes(6, "big")
    t = 1.4e9 + np.arange(n, dtype=float)
    for arr in (f, np.abs(z), np.angle(z), t):
        out += np.asarray(arr, ">f8").tobytes()
    out += np.full(n, 1000, ">i2").tobytes()
    for s in strings + ("",) * (len(zahner_ism.STRING_FIELDS) - len(strings)):
        out += len(s).to_bytes(2, "big") + s.swapcase().encode("ascii")
    return out


def test_synthetic_roundtrip_and_truncation(tmp_path: Path) -> None:
    f = np.array([100.0, 1e3, 1e4, 1e3, 100.0, 10.0, 1.0])
    z = 50 / (1 + 1j * 2 * np.pi * f * 50 * 1e-5)
    path = tmp_path / "s.ism"
    path.write_bytes(_ism(f, z))
    (ds,) = read_spectra(path)
    np.testing.assert_allclose(ds.frequency.values, [1e4, 1e3, 100.0, 10.0, 1.0])
    np.testing.assert_allclose(ds.impedance.values, z[2:], rtol=1e-12)
    np.testing.assert_allclose(ds.time.values, np.arange(2, 7))
    path.write_bytes(_ism(f, z)[:100])
    with pytest.raises(ParseError, match=r"s\.ism: the header announces 7 points"):
        read_spectra(path, format="zahner-ism")


def test_sniffer_is_specific(shared_formats: Path) -> None:
    for path in sorted((shared_formats / "zahner").glob("*.ism")):
        assert detect_format(path).name == "zahner-ism"
    for name in ["pyimpspec/data.idf", "palmsens/eis_5freq.pssession", "pyimpspec/data.dfr",
                 "impedance_py/exampleDataBioLogic.mpr", "yadg/peis.mpr"]:
        path = shared_formats / name
        assert zahner_ism.sniff(path, path.read_bytes()[:65536]) == 0.0, name


@pytest.mark.parametrize(("array", "value", "expected"), [
    (0, 0.0, "a positive number"), (1, -1.0, "a non-negative number"),
    (2, float("nan"), "a finite number"), (3, float("inf"), "a finite number")])
def test_a_damaged_value_names_its_byte_offset(tmp_path: Path, array: int, value: float,
                                               expected: str) -> None:
    """A binary file has no lines: the error names the point and the value's byte offset
    (was: "phase of point 3 is not a finite number", no place to look)."""
    f = np.array([1e4, 1e3, 100.0, 10.0, 1.0])
    z = 50 / (1 + 1j * 2 * np.pi * f * 50 * 1e-5)
    data = bytearray(_ism(f, z))
    offset = zahner_ism.HEADER_BYTES + 8 * (array * f.size + 3)
    data[offset:offset + 8] = np.array(value, ">f8").tobytes()
    path = tmp_path / "d.ism"
    path.write_bytes(bytes(data))
    with pytest.raises(ParseError, match=rf"point 3 \(the 8 bytes at byte offset {offset}\) "
                                         rf"is .*, expected {expected}"):
        read_spectra(path, format="zahner-ism")
