"""Regression tests for the parser findings of issue 10, each on a file written here.

Every test builds a small export in ``tmp_path`` (never a copy of a shared file), damages it
the way the issue found, and asserts a clear :class:`EisError` naming the file and the line,
or, for the hangs, a read well inside a time bound on adversarial input. The bounds are
generous (the fixed code takes milliseconds; the old regexes took 10-120 s).
"""

from __future__ import annotations

import codecs
import contextlib
import time
from pathlib import Path

import numpy as np
import pytest

from eis_pipeline.exceptions import EisError, ParseError
from eis_pipeline.io.importers import biologic_mpt, elchemea_i2b, zahner_ism
from eis_pipeline.io.importers._common import parse_count
from eis_pipeline.io.registry import importers, read_spectra

F = np.array([1000.0, 100.0, 10.0, 1.0])
Z = np.array([10 - 2j, 12 - 5j, 20 - 8j, 35 - 3j])
#: Seconds a sniff or read of a few hundred KiB may take (measured: a few milliseconds).
FAST = 2.0


def _timed(func, *args):
    start = time.perf_counter()
    try:
        return func(*args)
    finally:
        assert time.perf_counter() - start < FAST, f"{func.__name__} took too long"


# --- fixtures ---------------------------------------------------------------------------------

def autolab_txt(rows: list[str] | None = None, count: int | None = None) -> str:
    rows = rows if rows is not None else [
        f"{f:g},0,0,0,{z.real:g},{z.imag:g},0,0,0" for f, z in zip(F, Z, strict=True)]
    return "\n".join(['"Z60W Data File: Version 1.1"', *['""'] * 7, "0,2,0,1,0.1,10000",
                      str(len(rows) if count is None else count),
                      '"  Freq (Hz)    Ampl     Bias   Time(Sec)   Z\'(a)    Z\'\'(b)    GD   '
                      'Err   Range"', *rows]) + "\n"


def dfr_lines() -> list[str]:
    values = []
    for f, z in zip(F, Z, strict=True):
        values += [f" {float(f)!r}", f" {float(z.real)!r}", f" {float(-z.imag)!r}", *[" 0.0"] * 6]
    return ["VERSION8.0", f" {F.size}", " 1", *values, " 1.0", " 1.0", " 1.0",
            "13.07.2022 22:32:00", "12.11.2018 22:33:00", " 2.0"]


def mpt_text(rows: list[str], header: list[str] | None = None) -> str:
    names = "freq/Hz\tRe(Z)/Ohm\t-Im(Z)/Ohm\ttime/s\t<Ewe>/V\t<I>/mA\tcycle number"
    header = header or ["Potentio Electrochemical Impedance Spectroscopy", "",
                        "Run on channel : 1", "Electrode material : "]
    n = len(header) + 3
    return "\n".join(["EC-Lab ASCII FILE", f"Nb header lines : {n}", *header, names,
                      *rows]) + "\n"


def mpt_rows() -> list[str]:
    return [f"{f:.7E}\t{z.real:.7E}\t{-z.imag:.7E}\t{k:.3f}\t0.1\t0.0\t0"
            for k, (f, z) in enumerate(zip(F, Z, strict=True))]


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("latin-1"))
    return path


def assert_parse_error(path: Path, line: int | None, match: str) -> ParseError:
    with pytest.raises(ParseError, match=match) as info:
        read_spectra(path)
    assert info.value.path == str(path)
    if line is not None:
        assert info.value.line == line, str(info.value)
    return info.value


# --- the fixtures themselves read ------------------------------------------------------------

def test_fixtures_read_as_written(tmp_path: Path) -> None:
    for name, text in (("a.txt", autolab_txt()), ("a.dfr", "\n".join(dfr_lines()) + "\n"),
                       ("a.mpt", mpt_text(mpt_rows()))):
        (ds,) = read_spectra(write(tmp_path, name, text))
        np.testing.assert_allclose(ds.frequency.values, F)
        np.testing.assert_allclose(ds.impedance.values, Z)


# --- hangs: linear parsing --------------------------------------------------------------------

def test_elchemea_like_header_of_64_kib_sniffs_fast(tmp_path: Path) -> None:
    """Was ~120 s: the row regex backtracked over long digit runs."""
    head = ("1" * 4000 + " ") * 16 + "\n" + "29\n" + ("1" * 20000 + " 2 3x\n")
    data = head.encode()[:65536]
    assert _timed(elchemea_i2b.sniff, Path("x.i2b"), data) == 0.0
    path = write(tmp_path, "x.i2b", data)
    with pytest.raises(EisError):
        _timed(read_spectra, path)


def test_eclab_header_lines_with_long_runs_of_spaces_parse_fast(tmp_path: Path) -> None:
    """Was ~10 s per line: the 'key : value' regex backtracked on runs of spaces."""
    spaces = " " * 100_000
    header = [f"Comment{spaces}x", f"Key{spaces}: value{spaces}", f"{spaces}:"]
    path = write(tmp_path, "a.mpt", mpt_text(mpt_rows(), header))
    (ds,) = _timed(read_spectra, path)
    assert ds.sizes["frequency"] == F.size
    assert biologic_mpt._key_value(f"Key{spaces}: value{spaces}") == ("Key", "value")


def test_zahner_unit_search_is_bounded() -> None:
    assert _timed(zahner_ism._value, "9" * 30_000, "V") is None
    assert zahner_ism._value("0.9995mV, Ampl: 10mV", "V") == pytest.approx(0.9995e-3)


@pytest.mark.parametrize("digits", [4300, 5000, 20_000])
def test_a_header_count_of_thousands_of_digits_is_not_a_value_error(tmp_path: Path,
                                                                     digits: int) -> None:
    """A sniffer raised Python's int-string ValueError on a 4,300-digit number."""
    big = "9" * digits
    text = f"header\n\n{big}\n1000 10 -2\n100 12 -5\n"
    for importer in importers().values():  # no sniffer raises
        assert 0.0 <= importer.sniff(Path("a.i2b"), text.encode()) <= 1.0
    for name, content in (("a.i2b", text), ("b.txt", autolab_txt(count=0).replace(
            "\n0\n", f"\n{big}\n")), ("c.dfr", "VERSION8.0\n" + big + "\n1\n1.0\n")):
        with pytest.raises(EisError):
            read_spectra(write(tmp_path, name, content))


def test_parse_count_takes_ascii_digits_only() -> None:
    assert parse_count("٣") is None and parse_count("３") is None  # Arabic-Indic, full-width
    assert parse_count("123456789") == 123456789 and parse_count("1234567890") is None


def test_deeply_nested_session_json_is_a_parse_error(tmp_path: Path) -> None:
    body = '{"Type": "PalmSens.DataFiles.SessionFile", "Measurements": ' + "[" * 100_000
    path = write(tmp_path, "a.pssession", codecs.BOM_UTF16_LE + body.encode("utf-16-le"))
    with pytest.raises(ParseError):
        read_spectra(path)


# --- silently wrong spectra -------------------------------------------------------------------

def test_dfr_with_one_line_deleted_is_an_error_not_shifted_values(tmp_path: Path) -> None:
    lines = dfr_lines()
    # A value of record 0, the frequency of record 1, a value of record 2.
    for deleted in (5, 3 + 9, 4 + 9 * 2):
        damaged = lines[:deleted] + lines[deleted + 1:]
        path = write(tmp_path, "a.dfr", "\n".join(damaged) + "\n")
        assert_parse_error(path, None, "breaks the (de|a)scending sweep|positive frequency")


@pytest.mark.parametrize("offset", range(9))
@pytest.mark.parametrize("change", ["deleted", "added"])
def test_dfr_line_changed_inside_the_last_record_is_an_error(tmp_path: Path, offset: int,
                                                             change: str) -> None:
    """Every value of the last record: the frequency checks see only a changed frequency
    line (offset 0), the trailer's dates (three numbers after the last record) every other."""
    lines = dfr_lines()
    k = 3 + 9 * (F.size - 1) + offset  # 0-based line of the value
    damaged = (lines[:k] + lines[k + 1:] if change == "deleted"
               else [*lines[:k], " 0.0", *lines[k:]])
    path = write(tmp_path, "a.dfr", "\n".join(damaged) + "\n")
    first_date = 3 + 9 * F.size + 3 + (-1 if change == "deleted" else 1)
    if offset == 0:
        assert_parse_error(path, 3 + 9 * (F.size - 1) + 1, "breaks the descending sweep|"
                           "expected a positive frequency")
        return
    error = assert_parse_error(path, first_date + 1, f"a value line above it was {change}")
    assert f"put it at line {first_date + 1 + (1 if change == 'deleted' else -1)}" in str(error)


@pytest.mark.parametrize("case", ["short last row", "duplicated last row", "extra row"])
def test_autolab_txt_rows_must_match_width_and_count(tmp_path: Path, case: str) -> None:
    rows = [f"{f:g},0,0,0,{z.real:g},{z.imag:g},0,0,0" for f, z in zip(F, Z, strict=True)]
    if case == "short last row":
        text = autolab_txt([*rows[:-1], rows[-1].rsplit(",", 2)[0]])
        match, line = "expected 9 columns, found 7", 15
    elif case == "duplicated last row":
        text = autolab_txt(rows + rows[-1:], count=len(rows))
        match, line = "unexpected content after the 4 rows", 16
    else:
        text = autolab_txt([*rows, "0.5,0,0,0,40,-2,0,0,0"], count=len(rows))
        match, line = "unexpected content after the 4 rows", 16
    assert_parse_error(write(tmp_path, "a.txt", text), line, match)


def test_eclab_peis_row_at_frequency_zero_is_an_error_naming_the_line(tmp_path: Path) -> None:
    rows = mpt_rows()
    rows[2] = "0.0000000E+00" + rows[2][rows[2].index("\t"):]
    assert_parse_error(write(tmp_path, "a.mpt", mpt_text(rows)), 10,
                       "frequency is 0 Hz but the row holds an impedance")


def test_eclab_dc_records_are_skipped_and_counted(tmp_path: Path) -> None:
    rows = mpt_rows()
    rows.insert(2, "0.0\t0.0\t0.0\t1.5\t0.1\t0.0\t0")
    (ds,) = read_spectra(write(tmp_path, "a.mpt", mpt_text(rows)))
    np.testing.assert_allclose(ds.frequency.values, F)
    assert '"dc_rows_skipped": 1' in ds.attrs["original_metadata"]


@pytest.mark.parametrize("value", ["1.0E+308", "-1.0E+02", "5.0E+12"])
def test_an_impossible_frequency_is_an_error_not_a_split_sweep(tmp_path: Path,
                                                               value: str) -> None:
    rows = mpt_rows()
    rows[1] = value + rows[1][rows[1].index("\t"):]
    assert_parse_error(write(tmp_path, "a.mpt", mpt_text(rows)), 9, "expected a positive "
                       "frequency below 1e\\+12 Hz")


@pytest.mark.parametrize("column", [3, 4, 5, 6])  # time, potential, current, cycle
@pytest.mark.parametrize("value", ["NaN", "inf"])
def test_nan_or_inf_in_time_potential_or_current_is_not_stored(tmp_path: Path, column: int,
                                                               value: str) -> None:
    rows = mpt_rows()
    fields = rows[1].split("\t")
    fields[column] = value
    rows[1] = "\t".join(fields)
    with pytest.raises(EisError, match=r"must be finite|not a finite number"):
        read_spectra(write(tmp_path, "a.mpt", mpt_text(rows)))


def test_versastudio_par_cut_before_its_closing_tag_is_an_error(tmp_path: Path) -> None:
    rows = [f"1,{k},0.1,1e-6,{k}.0,0,0,{f},0,0,0,0,{z.real},{z.imag}"
            for k, (f, z) in enumerate(zip(F, Z, strict=True))]
    text = "\n".join(["<Application>", "Name=VersaStudio", "</Application>", "<Segment1>",
                      "Definition=Segment #, Point #, E(V), I(A), Elapsed Time(s), ADC Sync "
                      "Input(V), Current Range, Frequency(Hz), E Real, E Imag, I Real, I Imag, "
                      "Z Real, Z Imag", *rows, "</Segment1>"]) + "\n"
    (ds,) = read_spectra(write(tmp_path, "a.par", text))
    assert ds.sizes["frequency"] == F.size
    cut = text[:text.index("</Segment1>")]
    assert_parse_error(write(tmp_path, "b.par", cut), None, "no closing </Segment1> tag")


# --- every sniffer and importer on large adversarial headers ----------------------------------

_ADVERSARIAL = {
    "digits": "9" * 65_536, "spaces": " " * 65_535 + "x", "tabs": "\t" * 65_535 + "x",
    "key-colon": "a :" * 21_845, "numbers": "1.0 " * 16_384, "commas": "1,5;" * 16_384,
    "tags": "<" * 65_536, "equals": "=" * 65_536, "quotes": '"' * 65_536,
    "digit-words": ("1" * 4000 + " ") * 16, "words": "Freq Z' Z'' " * 5_000,
}


@pytest.mark.parametrize("pattern", sorted(_ADVERSARIAL))
def test_every_sniffer_and_importer_is_fast_on_adversarial_headers(tmp_path: Path,
                                                                   pattern: str) -> None:
    """Issue 10: sniffers and header parsers took 10-120 s on such 64 KiB headers."""
    line = _ADVERSARIAL[pattern]
    head = (line + "\n").encode()[:65_536]
    for importer in importers().values():
        score = _timed(importer.sniff, Path("a.txt"), head)
        assert 0.0 <= score <= 1.0, importer.name
    body = (line + "\n" + mpt_text(mpt_rows())).encode("latin-1")
    path = write(tmp_path, "a.mpt", body)
    for importer in importers().values():
        with contextlib.suppress(EisError):
            _timed(read_spectra, path, importer.name)


@pytest.mark.parametrize("column", [2, 9, 10])   # Time, Idc, Vdc of a Gamry ZCURVE row
def test_non_finite_time_potential_or_current_names_the_line(tmp_path: Path, column) -> None:
    demo = Path(__file__).resolve().parents[2] / "sample_data" / "mill015min"
    lines = (demo / "mill015_run01.DTA").read_bytes().decode("latin-1").splitlines(True)
    table = next(i for i, s in enumerate(lines) if s.startswith("ZCURVE"))
    row = table + 3 + 4                                     # ZCURVE point 4
    fields = lines[row].split("\t")
    fields[column] = "nan"
    lines[row] = "\t".join(fields)
    path = write(tmp_path, "run.DTA", "".join(lines).encode("latin-1"))
    error = assert_parse_error(path, row + 1, "not a finite number")
    assert "point" not in str(error)


# --- swapped header: names exchanged, data not --------------------------------------------

def _swap_names(line: str, a: str, b: str, sep: str = "\t") -> str:
    names = line.split(sep)
    i, j = names.index(a), names.index(b)
    names[i], names[j] = names[j], names[i]
    return sep.join(names)


@pytest.mark.parametrize(("a", "b", "flagged"), [
    ("Zreal", "Zimag", "Zphz"), ("Zreal", "Zmod", "Zmod"), ("Zimag", "Zmod", "Zmod")])
def test_gamry_swapped_header_is_detected(tmp_path: Path, a, b, flagged) -> None:
    demo = Path(__file__).resolve().parents[2] / "sample_data" / "mill015min"
    lines = (demo / "mill015_run01.DTA").read_bytes().decode("latin-1").splitlines(True)
    names = next(i for i, s in enumerate(lines) if s.startswith("ZCURVE")) + 1
    lines[names] = _swap_names(lines[names], a, b)
    path = write(tmp_path, "run.DTA", "".join(lines).encode("latin-1"))
    error = assert_parse_error(path, names + 3, "column names do not match the data")
    assert str(error).count(flagged) >= 1


@pytest.mark.parametrize(("a", "b"), [("Re(Z)/Ohm", "-Im(Z)/Ohm"), ("Re(Z)/Ohm", "|Z|/Ohm")])
def test_ec_lab_swapped_header_is_detected(tmp_path: Path, a, b) -> None:
    demo = Path(__file__).resolve().parents[2] / "sample_data" / "mill045min"
    lines = (demo / "mill045_25C.mpt").read_bytes().decode("latin-1").splitlines(True)
    names = next(i for i, s in enumerate(lines) if s.startswith("freq/Hz"))
    lines[names] = _swap_names(lines[names], a, b)
    path = write(tmp_path, "run.mpt", "".join(lines).encode("latin-1"))
    assert_parse_error(path, names + 2, "column names do not match the data")


def test_an_infinite_gamry_temperature_names_its_line(tmp_path: Path) -> None:
    """Was "temperature must be finite; point 14 ... is inf" from the spectrum contract."""
    demo = Path(__file__).resolve().parents[2] / "sample_data" / "mill015min"
    lines = (demo / "mill015_run01.DTA").read_bytes().decode("latin-1").splitlines(True)
    start = next(i for i, s in enumerate(lines) if s.startswith("ZCURVE"))
    names = lines[start + 1].rstrip("\r\n").split("\t")
    temp = names.index("Temp")
    row = start + 3 + 5
    fields = lines[row].rstrip("\r\n").split("\t")
    fields[temp] = "inf"
    lines[row] = "\t".join(fields) + "\n"
    path = write(tmp_path, "run.DTA", "".join(lines).encode("latin-1"))
    assert_parse_error(path, row + 1, "Temp is inf, not a finite number")


def test_a_duplicated_gamry_row_names_its_line(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parents[2] / "sample_data" / "mill015min"
    lines = (demo / "mill015_run01.DTA").read_bytes().decode("latin-1").splitlines(True)
    row = next(i for i, s in enumerate(lines) if s.startswith("ZCURVE")) + 3 + 5
    lines.insert(row + 1, lines[row])
    path = write(tmp_path, "run.DTA", "".join(lines).encode("latin-1"))
    assert_parse_error(path, row + 2, "repeats the row above")
