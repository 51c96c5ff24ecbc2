"""Solartron / Princeton Applied Research PowerSuite text exports of impedance sweeps.

Layout: one title line ``Frequency<TAB> Zre<TAB> Zimg`` then tab-separated rows. Quirks: the
lines end in ``CR CR LF`` (a ``CRLF`` written through a text-mode stream, which turns its
``LF`` into another ``CRLF``), read here as one line end so line numbers match the rows; the
sweep runs from low to high frequency and that acquisition order is kept. ``Zimg`` is Z'' with
the physical sign (negative for a capacitive response).
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import FormatError
from eis_pipeline.io.importers._common import (
    check_impedance_columns,
    data_span,
    decimal_of,
    find_column,
    head_text,
    require_rows,
)
from eis_pipeline.io.registry import Importer
from eis_pipeline.io.source import Source
from eis_pipeline.io.text import parse_table

NAME = "powersuite-txt"
_TITLES = ("frequency", "zre", "zimg")


def _lines(text: str) -> list[str]:
    # "\r\r\n" is one line end (see the module docstring); any other ending is handled by
    # splitlines.
    return text.replace("\r\r\n", "\n").splitlines()


def _is_title(line: str) -> bool:
    names = [n.strip().lower() for n in line.split("\t")]
    return tuple(names[:3]) == _TITLES


def sniff(path: Path, head: bytes) -> float:
    """Confidence that ``head`` starts a PowerSuite impedance export."""
    text = head_text(head)
    first = next((s for s in _lines(text[:2000]) if s.strip()), "")
    return 0.8 if _is_title(first) else 0.0


def read(path: Path | Source) -> list[xr.Dataset]:
    """Read the sweep of a PowerSuite text export; see the module docstring."""
    source = Source.of(path)
    path = source.path
    lines = _lines(source.text)
    at = next((i for i, s in enumerate(lines) if s.strip()), None)
    if at is None or not _is_title(lines[at]):
        found = lines[at].strip()[:60] if at is not None else ""
        raise FormatError(f"{path}: expected the title line 'Frequency<TAB>Zre<TAB>Zimg' of a "
                          f"PowerSuite export, found {found!r}")
    names = [n.strip() for n in lines[at].split("\t")]
    col_f = find_column(names, ["Frequency"], path=path, line=at + 1, what="frequency")
    col_zr = find_column(names, ["Zre"], path=path, line=at + 1, what="Z' (Zre)")
    col_zi = find_column(names, ["Zimg"], path=path, line=at + 1, what="Z'' (Zimg)")
    first, stop = data_span(lines, at + 1)
    rows = lines[first:stop]
    decimal = decimal_of(rows, "\t")
    table = parse_table(rows, path=path, first_line=first + 1, delimiter="\t", decimal=decimal,
                        ncols=len(names))
    check_impedance_columns(table, (col_f, col_zr, col_zi), path=path, first_line=first + 1,
                            names=names)
    require_rows(table, path=path, line=at + 1, what="impedance table")
    return [make_spectrum(table[:, col_f], table[:, col_zr] + 1j * table[:, col_zi],
                          instrument="Solartron PowerSuite", metadata={"columns": names})]


IMPORTERS = (
    Importer(
        name=NAME,
        description="Solartron PowerSuite text export (Frequency, Zre, Zimg; CR CR LF lines)",
        suffixes=(".txt",),
        sniff=sniff,
        read=read,
        read_source=read,
        max_score=0.8,   # sniff's best: skipped when another format scored more
    ),
)
