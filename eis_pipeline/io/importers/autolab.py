"""Metrohm Autolab exports: FRA ASCII table (``.txt``), FRA data file (``.dfr``), ``.P00``.

Three layouts, three importers:

``autolab-txt``
    The FRA "Z60W Data File" ASCII export (UTF-8, often with a BOM)::

        "Z60W Data File: Version 1.1"
        ""  (seven quoted comment lines)
        0,2,0,1,0.1,10000              <- sweep settings
        41                             <- number of points
        "  Freq (Hz)    Ampl     Bias   Time(Sec)   Z'(a)    Z''(b)    GD   Err   Range"
        10000,0,0,0,0.0137,0.0071,0,0,0

    ``Z''(b)`` already carries the physical sign (capacitive negative).
``autolab-dfr``
    The FRA binary-free data file: ``VERSION<n>``, the point count, a block count, then nine
    numbers per point, one per line (frequency, Z', -Z'', six further channels), then a
    trailer: three numbers, the measurement dates (``dd.mm.yyyy hh:mm:ss``, one per line) and
    further numbers (the layout of the one real export, ``pyimpspec/data.dfr``; no public
    documentation of it was found). ``-Z''`` is negated on import.
``autolab-p00``
    The tab-separated ``.P00`` export: a short header (procedure, dates, description, total
    time), a column-name line (``f/Hz``, ``Z'/Ohm``, ``-Z''/Ohm``, ``time/s``, ``Edc/V``,
    ``Idc/A``), the point count and the rows. Numbers carry five significant digits only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import FormatError, ParseError
from eis_pipeline.io.importers._common import (
    announced_rows,
    check_impedance_columns,
    first_lines,
    head_text,
    parse_count,
    require_end,
    require_finite,
    require_monotone,
    require_positive,
)
from eis_pipeline.io.registry import Importer
from eis_pipeline.io.source import Source
from eis_pipeline.io.text import parse_table

INSTRUMENT = "Metrohm Autolab"

# --------------------------------------------------------------------------------------------
# FRA ASCII table (.txt)
# --------------------------------------------------------------------------------------------

#: Autolab's FRA writes the Z60W flavour of the ZPlot-for-Windows table; the "ZPlotW Data
#: File" flavour written by ZPlot itself belongs to the Scribner importer.
_TXT_SIGNATURE = re.compile(r'^\ufeff?"?Z60W Data File: Version')


def _find_txt_header(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if "Freq" in line and "Z'(a)" in line and "Z''(b)" in line:
            return i
    return None


def sniff_txt(path: Path, head: bytes) -> float:
    """Confidence that ``head`` starts an Autolab FRA ASCII table."""
    lines = first_lines(head_text(head), 40)
    # ZPlot writes the same column names: the Z60W title line and the point count right
    # above the header are what make it this export. The title is checked first (cheap).
    if not lines or not _TXT_SIGNATURE.match(lines[0]):
        return 0.0
    header = _find_txt_header(lines)
    if header is None or header < 2:
        return 0.0
    return 0.95 if parse_count(lines[header - 1]) is not None else 0.0


def read_txt(path: Path | Source) -> list[xr.Dataset]:
    """Read an Autolab FRA ASCII table: one sweep.

    Examples
    --------
    >>> from eis_pipeline.io.registry import get_importer
    >>> get_importer("autolab-txt").suffixes
    ('.txt',)
    """
    source = Source.of(path)
    path = source.path
    lines = source.lines()
    header = _find_txt_header(lines)
    if header is None:
        raise FormatError(f"{path}: no column header with 'Freq', \"Z'(a)\" and \"Z''(b)\"; "
                          "expected an Autolab FRA ASCII export")
    # The point count sits on the line just above the column names.
    count_line = lines[header - 1].strip() if header > 0 else ""
    n = parse_count(count_line)
    if n is None:
        raise ParseError(f"expected the number of points above the column header, found "
                         f"{count_line[:40]!r}", path, header)
    rows = announced_rows(lines, header + 1, n, path=path, what="the header")
    require_end(lines, header + 1 + n, path=path, n=n, what="the header")
    # Every row has the width of the first (nine fields; six at least are read): a short
    # row is a truncated one, not a point with fields to guess.
    width = len(rows[0].split(",")) if rows else 6
    if width < 6:
        raise ParseError(f"expected at least 6 comma-separated fields (Freq, Ampl, Bias, Time, "
                         f"Z'(a), Z''(b)), found {width}", path, header + 2)
    table = parse_table(rows, path=path, first_line=header + 2, delimiter=",", ncols=width,
                        exact=True)
    check_impedance_columns(table, (0, 4, 5, 3), path=path, first_line=header + 2)
    require_monotone(table[:, 0], path=path, first_line=header + 2)
    metadata: dict[str, Any] = {
        "title": lines[0].strip().strip('"').lstrip("\ufeff"),
        "comments": [line.strip().strip('"') for line in lines[1:header - 2]
                     if line.strip().strip('"')],
        "settings": lines[header - 2].strip() if header >= 2 else "",
        "columns": lines[header].strip().strip('"').split(),
        "bias": table[:, 2].tolist(),
        "amplitude": table[:, 1].tolist(),
    }
    time = table[:, 3]
    return [make_spectrum(table[:, 0], table[:, 4] + 1j * table[:, 5], instrument=INSTRUMENT,
                          metadata=metadata, time=time if np.any(time != 0) else None)]


# --------------------------------------------------------------------------------------------
# FRA data file (.dfr)
# --------------------------------------------------------------------------------------------

_DFR_VERSION = re.compile(r"^VERSION\s*\d+(\.\d+)?$")
_DFR_DATE = re.compile(r"^\d\d\.\d\d\.\d{4}")
#: Values per point in a .dfr record: f, Z', -Z'' and six further channels.
DFR_RECORD = 9
#: Numbers between the last record and the first measurement date.
DFR_TRAILER_NUMBERS = 3


def _check_dfr_trailer(lines: list[str], end: int, n: int, *, path: Path) -> None:
    """Raise :class:`ParseError` when the measurement dates are not where ``n`` records put
    them: a line deleted or added inside the records (even inside the last one, which no
    frequency check can see) moves the trailer. A file without dates is not checked."""
    date = next((i for i in range(end, len(lines)) if _DFR_DATE.match(lines[i].strip())), None)
    if date is None:
        return
    expected = end + DFR_TRAILER_NUMBERS
    if date != expected:
        raise ParseError(
            f"the measurement date {lines[date].strip()!r} stands at line {date + 1}, but "
            f"{n} records of {DFR_RECORD} values and {DFR_TRAILER_NUMBERS} trailer numbers "
            f"put it at line {expected + 1}: a value line above it was "
            f"{'deleted' if date < expected else 'added'} (or the point count on line 2 is "
            "wrong); re-export the file from the instrument software", path, date + 1)


def sniff_dfr(path: Path, head: bytes) -> float:
    """Confidence that ``head`` starts an Autolab ``.dfr`` file."""
    lines = first_lines(head_text(head), 4)
    if len(lines) < 4 or not _DFR_VERSION.match(lines[0].strip()):
        return 0.0
    if parse_count(lines[1]) is None or parse_count(lines[2]) is None:
        return 0.0
    try:
        float(lines[3])
    except ValueError:
        return 0.0
    return 0.9


def read_dfr(path: Path | Source) -> list[xr.Dataset]:
    """Read an Autolab ``.dfr`` file: one sweep."""
    source = Source.of(path)
    path = source.path
    lines = source.lines()
    if not lines or not _DFR_VERSION.match(lines[0].strip()):
        raise ParseError(f"expected 'VERSION<number>' on the first line, found "
                         f"{(lines or [''])[0][:40]!r}", path, 1)
    counts = []
    for lineno in (2, 3):
        text = lines[lineno - 1].strip() if len(lines) >= lineno else ""
        count = parse_count(text)
        if count is None:
            raise ParseError(f"expected an integer (point/block count), found {text[:40]!r}",
                             path, lineno)
        counts.append(count)
    n = counts[0]
    first = 4
    end = first - 1 + n * DFR_RECORD
    rows = announced_rows(lines, first - 1, n * DFR_RECORD, path=path,
                          what=f"the header ({n} points)", unit="values")
    values = parse_table(rows, path=path, first_line=first, ncols=1)
    records = values.reshape(n, DFR_RECORD)
    require_finite(values, (0,), path=path, first_line=first)
    require_positive(records[:, 0], path=path, first_line=first, step=DFR_RECORD)
    # One value per line: a deleted or repeated line shifts every later value into the wrong
    # field, which shows as frequencies out of sweep order.
    require_monotone(records[:, 0], path=path, first_line=first, step=DFR_RECORD)
    _check_dfr_trailer(lines, end, n, path=path)
    trailer = [line.strip() for line in lines[end:] if line.strip()]
    metadata = {"version": lines[0].strip(), "points": n, "blocks": counts[1],
                "dates": [t for t in trailer if _DFR_DATE.match(t)],
                "trailer": trailer}
    # Column 3 is -Z'': negate for the physical sign.
    return [make_spectrum(records[:, 0], records[:, 1] - 1j * records[:, 2],
                          instrument=INSTRUMENT, metadata=metadata)]


# --------------------------------------------------------------------------------------------
# .P00 export
# --------------------------------------------------------------------------------------------


def _p00_columns(line: str) -> list[str]:
    return [c.strip() for c in line.split("\t") if c.strip()]


def _find_p00_header(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if "f/Hz" not in line:
            continue  # cheap test first: no column can be named f/Hz
        cols = _p00_columns(line)
        if "f/Hz" in cols and "Z'/Ohm" in cols and any(c.endswith("Z''/Ohm") for c in cols):
            return i
    return None


def sniff_p00(path: Path, head: bytes) -> float:
    """Confidence that ``head`` starts an Autolab ``.P00`` export."""
    lines = first_lines(head_text(head), 30)
    if _find_p00_header(lines) is None:
        return 0.0
    return 0.95 if lines[0].startswith("Procedure") else 0.8


_P00_VARIABLES = {"time/s": ("time", 1.0), "Edc/V": ("potential", 1.0),
                  "Idc/A": ("current", 1.0)}


def read_p00(path: Path | Source) -> list[xr.Dataset]:
    """Read an Autolab ``.P00`` export: one sweep."""
    source = Source.of(path)
    path = source.path
    lines = source.lines()
    header = _find_p00_header(lines)
    if header is None:
        raise FormatError(f"{path}: no tab-separated column line with 'f/Hz', \"Z'/Ohm\" and "
                          "\"-Z''/Ohm\"; expected an Autolab .P00 export")
    cols = _p00_columns(lines[header])
    count = lines[header + 1].strip() if len(lines) > header + 1 else ""
    n = parse_count(count)
    if n is None:
        raise ParseError(f"expected the number of points below the column names, found "
                         f"{count[:40]!r}", path, header + 2)
    first = header + 3
    rows = announced_rows(lines, first - 1, n, path=path, what="the header")
    require_end(lines, first - 1 + n, path=path, n=n, what="the header")
    table = parse_table(rows, path=path, first_line=first, delimiter="\t", ncols=len(cols),
                        exact=True)
    check_impedance_columns(table, list(range(len(cols))), path=path, first_line=first,
                            names=cols)
    index = {c: j for j, c in enumerate(cols)}
    imag_name = next(c for c in cols if c.endswith("Z''/Ohm"))
    imag = table[:, index[imag_name]]
    if imag_name.startswith("-"):
        imag = -imag
    require_monotone(table[:, index["f/Hz"]], path=path, first_line=first)
    variables: dict[str, Any] = {name: table[:, index[col]] * scale
                 for col, (name, scale) in _P00_VARIABLES.items() if col in index}
    metadata = {"procedure": lines[0].split(":", 1)[-1].strip(),
                "header": [line.strip() for line in lines[1:header]], "columns": cols}
    return [make_spectrum(table[:, index["f/Hz"]], table[:, index["Z'/Ohm"]] + 1j * imag,
                          instrument=INSTRUMENT, metadata=metadata, **variables)]


IMPORTERS = (
    Importer(name="autolab-txt", description="Metrohm Autolab FRA ASCII table (Z60W, .txt)",
             suffixes=(".txt",), sniff=sniff_txt, read=read_txt, read_source=read_txt,
             max_score=0.95),
    Importer(name="autolab-dfr", description="Metrohm Autolab FRA data file (.dfr)",
             suffixes=(".dfr",), sniff=sniff_dfr, read=read_dfr, read_source=read_dfr,
             max_score=0.9),
    Importer(name="autolab-p00", description="Metrohm Autolab .P00 export (5 significant digits)",
             suffixes=(".p00",), sniff=sniff_p00, read=read_p00, read_source=read_p00,
             max_score=0.95),
)
