"""Variants of every text format's real export: line endings, decimal marks, damage.

Every text importer reads a real export identically whatever its line endings and decimal
mark, and a table cut inside a row, or with garbage inside a row, raises a ParseError naming
the file and that row's line. One table instead of a copy of the same four tests per format:
each row names a real file, how to read its lines, where its numbers start (decimal commas
are written only there when the header must stay as it is, e.g. dates in the title) and which
table rows to damage. Variants are built with :mod:`tests.io._helpers` and written to
``tmp_path``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from eis_pipeline.exceptions import ParseError
from eis_pipeline.io.registry import read_spectra
from tests.io._helpers import (
    EOLS,
    assert_same_spectra,
    decimal_comma,
    truncated,
    with_garbage,
    write,
)

pytestmark = pytest.mark.shared_formats


def _after(marker: Callable[[str], bool]) -> Callable[[list[str]], int]:
    """Index of the line after the first one ``marker`` accepts."""
    return lambda lines: next(i for i, s in enumerate(lines) if marker(s)) + 1


def _zplot_first_row(lines: list[str]) -> int:
    if lines[0].startswith("ZPLOT2"):
        return _after(lambda s: s.strip() == "End Comments")(lines)
    return _after(lambda s: "Freq(Hz)" in s)(lines)


@dataclass(frozen=True)
class Case:
    """One real text export and how to rewrite it."""

    rel: str
    encoding: str = "latin-1"
    #: extra line ends the format itself writes, beyond LF/CRLF/CR
    eols: dict[str, str] = field(default_factory=dict)
    #: None: no decimal-comma variant (comma-delimited formats); else where numbers start
    data_from: Callable[[list[str]], int] | None = None
    #: line ends that are one line end in this format (PowerSuite's CR CR LF)
    joined: str | None = None
    #: the decimal-comma variant must hold at least this many commas (it really is one)
    min_commas: int = 1
    #: index of the first impedance row, and the offsets from it of the row cut in half and
    #: of the row garbage is written into (None: no damage cases)
    first_row: Callable[[list[str]], int] | None = None
    cut: int = 0
    junk: int = 0

    def lines(self, shared: Path) -> list[str]:
        text = (shared / self.rel).read_bytes().decode(self.encoding)
        if self.joined:
            text = text.replace(self.joined, "\n")
        return text.splitlines()


def _all(lines: list[str]) -> int:
    return 0


CASES = {
    "biologic-mpt": Case("pyimpspec/data.mpt", encoding="cp1252",
                         data_from=_after(lambda s: s.startswith("freq/Hz"))),
    "chi-txt": Case("impedance_py/exampleDataCHInstruments.txt",
                    first_row=_after(lambda s: s.startswith("Freq/Hz")), cut=41, junk=8),
    "gamry-dta": Case("impedance_py/exampleDataGamry.DTA", data_from=_all, min_commas=500,
                      first_row=lambda lines: _after(lambda s: s.startswith("ZCURVE\t"))(lines)
                      + 2, cut=30, junk=10),
    "novocontrol-txt": Case("novocontrol/Example2a.txt", data_from=_all,
                            first_row=_after(lambda s: "Freq.[Hz]" in s), cut=16, junk=6),
    "parstat-txt": Case("impedance_py/exampleDataParstat.txt", data_from=_all,
                        first_row=lambda lines: 782, cut=10, junk=3),  # the first EIS row
    "powersuite-txt": Case("impedance_py/exampleDataPowersuite.txt", eols={"CRCRLF": "\r\r\n"},
                           joined="\r\r\n", data_from=_all, first_row=_all, cut=12, junk=5),
    "versastudio-par": Case("impedance_py/exampleDataVersaStudio.par", encoding="utf-8",
                            first_row=_after(lambda s: s.startswith("Definition=")), cut=19,
                            junk=4),
    "zplot-z": Case("impedance_py/exampleDataZPlot.z", data_from=_zplot_first_row,
                    first_row=_zplot_first_row, cut=5, junk=3),
    "zplot-z (no comments)": Case("impedance_py/exampleDataZPlot_noComments.z",
                                  first_row=_zplot_first_row, cut=5, junk=3),
}
EOL_CASES = [(name, eol) for name, case in CASES.items() for eol in [*EOLS, *case.eols]]
COMMA_CASES = [name for name, case in CASES.items() if case.data_from is not None]
DAMAGE_CASES = [name for name, case in CASES.items() if case.first_row is not None]


def _assert_same_reading(original: Path, variant: Path) -> None:
    """Same sweeps, values and variables, and the same attributes apart from provenance and
    the raw header text (whose dates and versions a decimal-comma rewrite also changes)."""
    a, b = read_spectra(original), read_spectra(variant)
    assert_same_spectra(a, b)
    skip = {"source", "source_sha256", "original_metadata"}
    for x, y in zip(a, b, strict=True):
        assert {k: v for k, v in x.attrs.items() if k not in skip} == {
            k: v for k, v in y.attrs.items() if k not in skip}


@pytest.mark.parametrize(("name", "eol"), EOL_CASES)
def test_line_endings_read_identically(shared_formats: Path, tmp_path: Path, name: str,
                                       eol: str) -> None:
    case = CASES[name]
    src = shared_formats / case.rel
    variant = write(tmp_path, f"x{src.suffix}", case.lines(shared_formats),
                    {**EOLS, **case.eols}[eol], encoding=case.encoding)
    _assert_same_reading(src, variant)


@pytest.mark.parametrize("name", COMMA_CASES)
def test_decimal_comma_variant_reads_identically(shared_formats: Path, tmp_path: Path,
                                                 name: str) -> None:
    case = CASES[name]
    assert case.data_from is not None
    src = shared_formats / case.rel
    lines = case.lines(shared_formats)
    variant = write(tmp_path, f"x{src.suffix}",
                    decimal_comma(lines, slice(case.data_from(lines), None)),
                    encoding=case.encoding)
    commas = variant.read_bytes().count(b",") - src.read_bytes().count(b",")
    assert commas >= case.min_commas
    _assert_same_reading(src, variant)


@pytest.mark.parametrize("name", DAMAGE_CASES)
def test_truncated_table_names_file_and_line(shared_formats: Path, tmp_path: Path,
                                             name: str) -> None:
    case = CASES[name]
    assert case.first_row is not None
    lines = case.lines(shared_formats)
    row = case.first_row(lines) + case.cut
    path = write(tmp_path, f"cut{Path(case.rel).suffix}", truncated(lines, row),
                 next(iter(case.eols.values()), "\n"), encoding=case.encoding)
    with pytest.raises(ParseError) as info:
        read_spectra(path)
    assert info.value.line == row + 1 and path.name in str(info.value)


@pytest.mark.parametrize("name", DAMAGE_CASES)
def test_garbage_in_table_names_file_and_line(shared_formats: Path, tmp_path: Path,
                                              name: str) -> None:
    case = CASES[name]
    assert case.first_row is not None
    lines = case.lines(shared_formats)
    row = case.first_row(lines) + case.junk
    path = tmp_path / f"junk{Path(case.rel).suffix}"
    # with_garbage writes latin-1: re-spell the lines so the file keeps its own encoding.
    path.write_bytes(with_garbage([s.encode(case.encoding).decode("latin-1") for s in lines],
                                  row))
    with pytest.raises(ParseError) as info:
        read_spectra(path)
    assert info.value.line == row + 1 and path.name in str(info.value)
