"""CH Instruments (CHI 6xx/7xx...) text exports of A.C. Impedance runs.

Layout: a date line, the technique (``A.C. Impedance``), ``Key: value`` lines (``File``,
``Instrument Model``...), parameter lines ``Name (unit) = value``, then the column titles
``Freq/Hz, Z'/ohm, Z"/ohm, Z/ohm, Phase/deg``, a blank line, and comma-separated rows.
Z'' is written with the physical sign; a ``-Z"/ohm`` title is negated. Because the delimiter is
a comma, the numbers always use a decimal point.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import FormatError
from eis_pipeline.io.importers._common import (
    check_impedance_columns,
    data_span,
    find_column,
    first_lines,
    head_text,
    number,
    optional_column,
    require_consistent_polar,
    require_rows,
    split_pair,
)
from eis_pipeline.io.registry import Importer
from eis_pipeline.io.source import Source
from eis_pipeline.io.text import parse_table

NAME = "chi-txt"
#: agreement required of the Z/ohm and Phase/deg columns with Z' and Z'' (see read)
CHI_POLAR_RTOL = 2e-3
CHI_POLAR_DEG = 0.15
_TITLE_START = "freq/hz"


def _title_index(lines: list[str]) -> int | None:
    # Only the line's first characters are lower-cased, and only on lines holding the '/'
    # of "freq/hz" (a test in C): the sniffer runs on every text file.
    n = len(_TITLE_START)
    return next((i for i, s in enumerate(lines[:80])
                 if "/" in s and s.lstrip()[:n].lower() == _TITLE_START), None)


def sniff(path: Path, head: bytes) -> float:
    """Confidence that ``head`` starts a CH Instruments impedance export."""
    lines = first_lines(head_text(head), 80)
    at = _title_index(lines)
    if at is None:
        return 0.0
    title = lines[at].lower()
    if "z'/ohm" not in title or not ('z"/ohm' in title or "z''/ohm" in title):
        return 0.0
    header = "\n".join(lines[:at])
    if "A.C. Impedance" in header or "Instrument Model:  CHI" in header:
        return 0.95
    return 0.7


_DATE = re.compile(r"^[A-Z][a-z]{2}\.? \d{1,2}, \d{4}\s+\d{1,2}:\d{2}(:\d{2})?$")


def _header(lines: list[str]) -> dict[str, Any]:
    """Header lines as metadata. The date line and the technique line (``A.C. Impedance``)
    are optional: "Convert to txt" without the header writes only the parameters."""
    meta: dict[str, Any] = {}
    flags: list[str] = []
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if _DATE.match(text) and "date" not in meta:
            meta["date"] = text
        elif (pair := split_pair(text, " = ")) is not None:
            meta[pair[0]] = number(pair[1])
        elif (pair := split_pair(text, ":")) is not None:
            meta[pair[0]] = pair[1]
        elif len(meta) <= 1 and not flags and "technique" not in meta:
            meta["technique"] = text  # before any parameter: the technique name
        else:
            flags.append(text)  # switches such as "Imp SF"
    if flags:
        meta["options"] = flags
    return meta


def read(path: Path | Source) -> list[xr.Dataset]:
    """Read the impedance table of a CH Instruments export; see the module docstring."""
    source = Source.of(path)
    path = source.path
    lines = source.lines()
    at = _title_index(lines)
    if at is None:
        raise FormatError(f"{path}: no 'Freq/Hz, Z'/ohm, Z\"/ohm, ...' title line in the "
                          "first 80 lines; not a CH Instruments impedance export")
    names = [n.strip() for n in lines[at].split(",")]
    col_f = find_column(names, ["Freq/Hz"], path=path, line=at + 1, what="frequency (Freq/Hz)")
    col_zr = find_column(names, ["Z'/ohm"], path=path, line=at + 1, what="Z' (Z'/ohm)")
    col_zi = find_column(names, ['Z"/ohm', "Z''/ohm", '-Z"/ohm', "-Z''/ohm"], path=path,
                         line=at + 1, what='Z" (Z"/ohm)')
    first, stop = data_span(lines, at + 1)
    table = parse_table(lines[first:stop], path=path, first_line=first + 1, delimiter=",",
                        ncols=len(names))
    check_impedance_columns(table, (col_f, col_zr, col_zi), path=path, first_line=first + 1,
                            names=names)
    require_rows(table, path=path, line=at + 1, what="impedance table")
    sign = -1.0 if names[col_zi].startswith("-") else 1.0
    col_mod = optional_column(names, ("Z/ohm", "|Z|/ohm"))
    col_ph = optional_column(names, ("Phase/deg",))
    # |Z| and phase are redundant with Z' and Z'': a header with two names exchanged shows
    # as rows that disagree. CHI prints four significant digits and the phase to 0.1°
    # (measured on the real export: 8.3e-4 relative, 0.053°): twice that is required.
    require_consistent_polar(
        table[:, col_zr], sign * table[:, col_zi],
        None if col_mod is None else table[:, col_mod],
        None if col_ph is None else table[:, col_ph], path=path, first_line=first + 1,
        names=[names[c] if c is not None else "" for c in (col_zr, col_zi, col_mod, col_ph)],
        rtol=CHI_POLAR_RTOL, deg=CHI_POLAR_DEG)
    meta = _header(lines[:at])
    meta["columns"] = names
    model = str(meta.get("Instrument Model", "")).strip()
    return [make_spectrum(table[:, col_f], table[:, col_zr] + 1j * sign * table[:, col_zi],
                          instrument=f"CH Instruments {model}".strip(), metadata=meta)]


IMPORTERS = (
    Importer(
        name=NAME,
        description="CH Instruments A.C. Impedance text export (Freq/Hz, Z'/ohm, Z\"/ohm)",
        suffixes=(".txt", ".csv"),
        sniff=sniff,
        read=read,
        read_source=read,
        max_score=0.95,   # sniff's best: skipped when another format scored more
    ),
)
