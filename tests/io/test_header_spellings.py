"""Columns recognised by meaning: header spellings, unit prefixes and preambles that
instruments write, each read back to the same values (issue 13)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eis_pipeline.exceptions import ParseError
from eis_pipeline.io.importers.generic_csv import read_generic_csv
from eis_pipeline.io.registry import read_spectra

F = np.array([1e6, 1e5, 1e4, 1e3, 1e2, 10.0])
Z = 1e4 / (1 + 1j * F / 1e4) + 50 - 1j * 1e5 / F

FREQUENCY = ["f", "Freq. [Hz]", "Frequency (Hz)", "freq/Hz", "Frequency [kHz]", "f (MHz)",
             "FREQUENCY", "Freq"]
REAL = ["Z'", "Zs' [Ohms]", "Z' (Ω)", "Re(Z)/Ohm", "Z' [kOhm]", "Zreal (kΩ)", "Z_re",
        "real", "Re(Z) / Ohm"]
IMAG = ["Z''", "Zs'' [Ohms]", "-Z'' (Ω)", "-Im(Z)/Ohm", "Z\" [kOhm]", "-Zimag (kΩ)", "Im(Z)",
        "-Z'' [MOhm]"]
PREFIX = {"k": 1e3, "M": 1e6, "": 1.0}


def scale(header: str, base: str) -> float:
    for prefix in ("k", "M"):
        if prefix + base in header or prefix + ("Ω" if base == "Ohm" else base) in header:
            return PREFIX[prefix]
    return 1.0


def negated(header: str) -> bool:
    return header.lstrip().startswith("-")


def table(headers: list[str], delimiter: str) -> str:
    fh, rh, ih = headers
    rows = [delimiter.join(f"{v:.15e}" for v in (
        f / scale(fh, "Hz"), z.real / scale(rh, "Ohm"),
        (-1 if negated(ih) else 1) * z.imag / scale(ih, "Ohm"))) for f, z in zip(F, Z, strict=True)]
    return delimiter.join(headers) + "\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize(("fh", "rh", "ih"), list(zip(
    FREQUENCY * 2, REAL * 2, IMAG * 2, strict=False)) + list(itertools.islice(
    itertools.product(FREQUENCY, REAL, IMAG), 0, None, 37)))
@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_header_spellings_read_the_same_values(tmp_path, fh, rh, ih, delimiter):
    path = tmp_path / "s.csv"
    path.write_text(table([fh, rh, ih], delimiter), encoding="utf-8")
    # read_generic_csv: a tab table headed freq/Hz is claimed by the EC-Lab sniffer
    (ds,) = read_generic_csv(path)
    np.testing.assert_allclose(ds.frequency, F, rtol=1e-12)
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-12)


@pytest.mark.parametrize(("mod", "phase", "k", "rad"), [
    ("|Z| [kOhm]", "Phase (deg)", 1e3, False), ("|Z|/Ohm", "-Phase/deg", 1.0, False),
    ("Zmod (Ω)", "phase (rad)", 1.0, True), ("Mod(Z) [kΩ]", "θ", 1e3, False)])
def test_modulus_and_phase_spellings(tmp_path, mod, phase, k, rad):
    sign = -1.0 if phase.startswith("-") else 1.0
    ang = np.angle(Z) if rad else np.angle(Z, deg=True)
    rows = "\n".join(f"{f:.15e},{abs(z) / k:.15e},{sign * a:.15e}"
                     for f, z, a in zip(F, Z, ang, strict=True))
    path = tmp_path / "p.csv"
    path.write_text(f"Frequency (Hz),{mod},{phase}\n{rows}\n", encoding="utf-8")
    (ds,) = read_spectra(path)
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-12)


@pytest.mark.parametrize("n_preamble", [1, 2, 7, 40])
def test_preamble_is_skipped_and_kept(tmp_path, n_preamble):
    preamble = [f"Comment line {i}: operator A, 2025-01-0{i % 9 + 1}" for i in range(n_preamble)]
    path = tmp_path / "pre.txt"
    path.write_text("\n".join(preamble) + "\n\n" + table(["Freq. [Hz]", "Zs' [Ohms]",
                                                         "Zs'' [Ohms]"], "\t"))
    (ds,) = read_generic_csv(path)
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-12)
    assert '"preamble"' in ds.attrs["original_metadata"]
    assert ds.sizes["frequency"] == F.size


def test_whitespace_table_with_spaced_header_names(tmp_path):
    rows = "\n".join(f"{f:.8e}  {z.real:.8e}  {z.imag:.8e}" for f, z in zip(F, Z, strict=True))
    path = tmp_path / "w.txt"
    path.write_text("Freq. [Hz]  Zs' [Ohms]  Zs'' [Ohms]\n" + rows + "\n")
    (ds,) = read_spectra(path)
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-8)


def test_novocontrol_export_with_spaces_and_ohms(tmp_path):
    """Issue 13: `Freq. [Hz]  Zs' [Ohms]  Zs'' [Ohms]` after two free-text lines."""
    rows = "\n".join(f" {f:.7e}  {z.real:.7e}  {z.imag:.7e}" for f, z in zip(F, Z, strict=True))
    path = tmp_path / "novo.txt"
    path.write_text("LLZO pellet 3, 25 C\nmeasured with Alpha-A\n"
                    "Freq. [Hz]  Zs' [Ohms]  Zs'' [Ohms]\n" + rows + "\n")
    (ds,) = read_spectra(path)
    assert ds.attrs["source_format"] == "novocontrol-txt"
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-7)
    (forced,) = read_spectra(path, format="generic-csv")
    np.testing.assert_allclose(forced.impedance, ds.impedance)


def test_numeric_row_is_never_taken_for_preamble(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("f,Z',Z''\n1e5,1,-1\nnot a row\n1e3,3,-3\n")
    with pytest.raises(ParseError, match=r"bad\.csv:3"):
        read_generic_csv(path)


def test_unknown_unit_prefix_is_named(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("f (Hz),Z' (xOhm),Z'' (Ohm)\n1,2,3\n2,3,4\n")
    for read in (read_generic_csv, read_spectra):   # also when detecting the format
        with pytest.raises(ParseError, match=r"u\.csv:1: column \"Z' \(xOhm\)\": unit prefix "
                                             r"'x' not understood"):
            read(path)


def test_preamble_over_a_named_table_is_detected(tmp_path):
    path = tmp_path / "pre.csv"
    path.write_text("Sample pellet 3\nmeasured by AB, 2025-01-02\n"
                    + table(["f", "Z'", "Z''"], ","))
    (ds,) = read_spectra(path)
    assert ds.attrs["source_format"] == "generic-csv"
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-12)


@pytest.mark.parametrize("headers", [["freq/Hz", "Re(Z)/kOhm", "-Im(Z)/kOhm"],
                                     ["freq/Hz", "Re(Z)/Ohm", "-Im(Z)/MOhm"]])
def test_tab_table_headed_freq_hz_is_generic_unless_ec_lab_columns(tmp_path, headers):
    """A tab table headed freq/Hz was claimed by the EC-Lab sniffer, whose importer then
    refused its kOhm columns; it is generic-csv's unless it has EC-Lab's own columns."""
    path = tmp_path / "t.txt"
    path.write_text(table(headers, "\t"))
    (ds,) = read_spectra(path)
    assert ds.attrs["source_format"] == "generic-csv"
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-12)
    path.write_text(table(["freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm"], "\t"))
    assert read_spectra(path)[0].attrs["source_format"] == "biologic-mpt"


# -- property: any spelling, unit prefix, delimiter and preamble reads the same values -----

_UNITS_HZ = {"": 1.0, " [Hz]": 1.0, " (Hz)": 1.0, "/Hz": 1.0, " [kHz]": 1e3, " (MHz)": 1e6}
_UNITS_OHM = {"": 1.0, " [Ohms]": 1.0, " (Ω)": 1.0, "/Ohm": 1.0, " [kOhm]": 1e3,
              " (kΩ)": 1e3, "/MOhm": 1e6, " [mOhm]": 1e-3}
_PREAMBLE_LINE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ:_-=#", min_size=1,
                         max_size=40).filter(lambda t: t.strip() != "")


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(f_name=st.sampled_from(["f", "freq", "Freq.", "Frequency", "FREQUENCY", "frequency"]),
       f_unit=st.sampled_from(sorted(_UNITS_HZ)),
       re_name=st.sampled_from(["Z'", "Zs'", "Re(Z)", "Zreal", "z_re", "real"]),
       re_unit=st.sampled_from(sorted(_UNITS_OHM)),
       im_name=st.sampled_from(["Z''", "-Z''", "Zs''", "-Im(Z)", "Im(Z)", "Zimag", "-Zimag"]),
       im_unit=st.sampled_from(sorted(_UNITS_OHM)),
       delimiter=st.sampled_from([",", "\t", ";"]),
       preamble=st.lists(_PREAMBLE_LINE, max_size=5))
def test_property_spellings_prefixes_and_preambles_keep_the_values(
        tmp_path_factory, f_name, f_unit, re_name, re_unit, im_name, im_unit, delimiter,
        preamble):
    headers = [f_name + f_unit, re_name + re_unit, im_name + im_unit]
    sign = -1.0 if im_name.startswith("-") else 1.0
    rows = [delimiter.join(f"{v:.15e}" for v in (
        f / _UNITS_HZ[f_unit], z.real / _UNITS_OHM[re_unit], sign * z.imag / _UNITS_OHM[im_unit]))
        for f, z in zip(F, Z, strict=True)]
    path = tmp_path_factory.mktemp("prop") / "t.csv"
    path.write_text("".join(line + "\n" for line in preamble)
                    + delimiter.join(headers) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    (ds,) = read_spectra(path)   # detected, not forced
    np.testing.assert_allclose(ds.frequency, F, rtol=1e-12)
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-12)
