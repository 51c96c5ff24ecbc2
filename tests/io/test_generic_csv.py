
import numpy as np
import pytest

from eis_pipeline.exceptions import EisError, ParseError
from eis_pipeline.io.importers.generic_csv import read_generic_csv, split_sweeps
from eis_pipeline.io.registry import read_spectra
from tests.io._helpers import (
    EOLS,
    decimal_comma,
)

F = np.array([1e5, 1e4, 1e3, 1e2, 10.0, 1.0])
Z = 100 / (1 + 1j * F / 1e3) + 5


def _write(path, text, newline="\n", encoding="utf-8"):
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def _table(f, z, fmt="{:.10g},{:.10g},{:.10g}", imag_sign=1.0):
    return "\n".join(fmt.format(a, b.real, imag_sign * b.imag) for a, b in zip(f, z, strict=True))


@pytest.mark.parametrize(
    ("header", "imag_sign", "fmt"),
    [
        ("f,Z',Z''", 1.0, "{:.10g},{:.10g},{:.10g}"),
        ("Frequency (Hz),Z' (Ohm),-Z'' (Ohm)", -1.0, "{:.10g},{:.10g},{:.10g}"),
        ("freq/Hz;Re(Z)/Ohm;-Im(Z)/Ohm", -1.0, "{:.10g};{:.10g};{:.10g}"),
        ("", 1.0, "{:.10g}\t{:.10g}\t{:.10g}"),
        ("", 1.0, "  {:.10e}  {:.10e}  {:.10e}"),
    ],
)
def test_header_variants_give_physical_sign(tmp_path, header, imag_sign, fmt):
    text = (header + "\n" if header else "") + _table(F, Z, fmt, imag_sign) + "\n"
    (ds,) = read_spectra(_write(tmp_path / "a.csv", text))
    np.testing.assert_allclose(ds.frequency, F)
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-9)
    assert ds.attrs["source_format"] == "generic-csv"


def test_units_in_header_are_converted(tmp_path):
    text = "f (kHz),Z' (kOhm),Z'' (kOhm)\n" + _table(F / 1e3, Z / 1e3) + "\n"
    (ds,) = read_spectra(_write(tmp_path / "k.csv", text))
    np.testing.assert_allclose(ds.frequency, F)
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-9)


def test_modulus_phase_columns(tmp_path):
    text = "frequency,|Z|,-phase\n" + "\n".join(
        f"{a:.17g},{abs(b):.17g},{-np.angle(b, deg=True):.17g}" for a, b in zip(F, Z, strict=True))
    (ds,) = read_spectra(_write(tmp_path / "p.csv", text))
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-12)


@pytest.mark.parametrize("eol", EOLS)
@pytest.mark.parametrize("comma", [False, True])
def test_line_endings_and_decimal_comma_read_identically(tmp_path, eol, comma):
    text = "f\tZ'\tZ''\n" + _table(F, Z, "{:.17g}\t{:.17g}\t{:.17g}") + "\n"
    if comma:
        text = "\n".join(decimal_comma(text.split("\n")))
    (ds,) = read_spectra(_write(tmp_path / "v.tsv", text, EOLS[eol]))
    np.testing.assert_array_equal(ds.frequency, F)
    np.testing.assert_array_equal(ds.impedance, Z)


def test_several_sweeps_split_where_frequency_restarts(tmp_path):
    text = "f,Z',Z''\n" + _table(np.r_[F, F, F[:3]], np.r_[Z, 2 * Z, Z[:3]]) + "\n"
    spectra = read_spectra(_write(tmp_path / "m.csv", text))
    assert [ds.sizes["frequency"] for ds in spectra] == [6, 6, 3]
    assert [ds.attrs["sweep"] for ds in spectra] == [0, 1, 2]
    np.testing.assert_allclose(spectra[1].impedance, 2 * Z, rtol=1e-9)


def test_split_sweeps_ascending():
    assert split_sweeps(np.array([1.0, 10, 100, 1, 10])) == [slice(0, 3), slice(3, 5)]


def test_explicit_columns(tmp_path):
    text = "a,b,c,d\n" + "\n".join(
        f"0,{a:.17g},{b.real:.17g},{-b.imag:.17g}" for a, b in zip(F, Z, strict=True))
    path = _write(tmp_path / "x.csv", text)
    with pytest.raises(ParseError, match="does not name a frequency column"):
        read_spectra(path, format="generic-csv")
    (ds,) = read_generic_csv(path, columns={"frequency": "b", "real": 2, "neg_imag": "d"})
    np.testing.assert_allclose(ds.impedance, Z, rtol=1e-12)


def test_bad_row_names_line(tmp_path):
    text = "f,Z',Z''\n" + _table(F, Z) + "\n1.0,2.0,oops\n"
    with pytest.raises(ParseError) as info:
        read_spectra(_write(tmp_path / "bad.csv", text))
    assert info.value.line == 8
    assert "oops" in str(info.value)


def test_truncated_row_names_line(tmp_path):
    text = "f,Z',Z''\n" + _table(F, Z) + "\n1.0,2.0\n"
    with pytest.raises(ParseError, match=r"bad\.csv:8: expected 3 columns"):
        read_spectra(_write(tmp_path / "bad.csv", text), format="generic-csv")


def test_negative_frequency_rejected(tmp_path):
    text = "f,Z',Z''\n1,2,3\n-1,2,3\n"
    with pytest.raises(EisError, match="positive frequency"):
        read_spectra(_write(tmp_path / "neg.csv", text), format="generic-csv")


def test_not_impedance_table_is_not_detected(tmp_path):
    text = "time,voltage\n0,1\n1,2\n"
    with pytest.raises(EisError, match="no importer recognises"):
        read_spectra(_write(tmp_path / "t.csv", text))


def test_novocontrol_headerless_csv_with_leading_spaces(shared_formats):
    (ds,) = read_spectra(shared_formats / "novocontrol" / "CSV_Example.csv")
    assert ds.sizes["frequency"] == 50
    assert ds.frequency.values[0] == pytest.approx(1e6)
    assert ds.impedance.values[0] == pytest.approx(2369.7656 - 6737.6167j)


def test_a_headerless_table_with_impossible_signs_warns(tmp_path):
    """A file written as f,-Z',-Z'' that lost its header line is read by position (as
    impedance.py writes CSV): Z' < 0 everywhere, so the read says the columns are a guess."""
    import warnings

    from eis_pipeline.exceptions import DataQualityWarning
    from eis_pipeline.io.registry import read_spectra

    f = np.logspace(4, 0, 9)
    z = 100 / (1 + 1j * f / 1e2)
    good = tmp_path / "good.csv"
    good.write_text("".join(f"{a:.10g},{b.real:.10g},{b.imag:.10g}\n"
                            for a, b in zip(f, z, strict=True)))
    lost = tmp_path / "lost_header.csv"
    lost.write_text("".join(f"{a:.10g},{-b.real:.10g},{-b.imag:.10g}\n"
                            for a, b in zip(f, z, strict=True)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_spectra(good, format="generic-csv")   # impedance.py's layout: no warning
    with pytest.warns(DataQualityWarning, match="no header row.*Z' < 0 at most points"):
        read_spectra(lost, format="generic-csv")


def test_exchanged_column_names_warn(tmp_path):
    """A file written as f, Z', -Z'' whose two impedance names were exchanged (data not)
    reads Z' as Z'': inductive at every point of a capacitive arc, which the read says. (An
    exchange that also swaps the signs, f, -Z'', Z', mirrors the arc into a plausible one
    and cannot be told from the data.)"""
    from eis_pipeline.exceptions import DataQualityWarning
    from eis_pipeline.io.registry import read_spectra

    f = np.logspace(4, 0, 9)
    z = 100 / (1 + 1j * f / 1e2)
    path = tmp_path / "swapped.csv"
    path.write_text("f,Z'',-Z'\n" + "".join(f"{a:.10g},{b.real:.10g},{-b.imag:.10g}\n"
                                            for a, b in zip(f, z, strict=True)))
    with pytest.warns(DataQualityWarning, match="two column names exchanged"):
        read_spectra(path, format="generic-csv")
