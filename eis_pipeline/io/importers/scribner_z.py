"""Scribner ZPlot / ZView ``.z`` files, in their two text layouts.

``ZPLOT2 ASCII`` (ZPlot 2/3, also what ZView and other programs write): a header of
``Key: value`` lines with nested ``Begin X:``/``End X:`` blocks, then the column titles, then a
line ``End Comments``; data rows follow, tab-separated. The header can be almost empty (only
the version line and the titles), as in files written by third-party programs.

``ZPlotW`` (older ZPlot for Windows), and the ZView template other programs fill in (EC-Lab:
first line ``"ZView Calculated Data File: Version 1.1"``): quoted header lines (title,
experiment, free comment, open circuit potential), a line with the declared number of points,
the quoted column titles, then comma-separated rows.

Columns follow the ZPlot convention, by position: ``Freq(Hz), Ampl, Bias, Time(Sec), Z'(a),
Z''(b), GD, Err, Range``. Z' and Z'' are impedance in ohm with the physical sign. When a title
line is present the columns are located by name and must be Z' and Z'' (ZPlot's ``(a)``/``(b)``
channels can hold other quantities in other experiment types; those are rejected, not
misread). The declared point count is not trusted (stopped sweeps hold fewer rows, template
headers keep the template's count): every row is read and both counts go to the metadata.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import FormatError, ParseError
from eis_pipeline.io.importers._common import (
    check_impedance_columns,
    data_span,
    decimal_of,
    first_lines,
    head_text,
    number,
    require_rows,
    split_pair,
)
from eis_pipeline.io.registry import Importer
from eis_pipeline.io.source import Source
from eis_pipeline.io.text import parse_table

NAME = "zplot-z"

#: ZPlot column positions: frequency, time, Z', Z''.
_POSITIONS = {"f": 0, "t": 3, "zr": 4, "zi": 5}
_TITLES = {"f": r"freq.*\(hz\)", "t": r"time.*", "zr": r"z'(\(a\))?", "zi": r"z''(\(b\))?"}


#: First lines of the quoted (ZPlotW-style) layout: ZPlot for Windows, and the ZView template
#: that EC-Lab and other programs fill in ("ZView Calculated Data File: Version 1.1").
_QUOTED_LAYOUTS = ("ZPlotW Data File", "ZView Calculated Data File", "ZView Data File")


def sniff(path: Path, head: bytes) -> float:
    """Confidence that ``head`` starts a ZPlot/ZView ``.z`` file."""
    lines = first_lines(head_text(head), 1)
    if not lines:
        return 0.0
    first = lines[0].strip().strip('"').strip()
    if first == "ZPLOT2 ASCII" or first.startswith(_QUOTED_LAYOUTS):
        return 0.95
    return 0.0


def _columns(names: list[str] | None, *, path: Path, line: int) -> dict[str, int]:
    """Column indices by title when titles exist, else by the ZPlot positions."""
    if not names:
        return dict(_POSITIONS)
    lowered = [n.strip().lower() for n in names]
    cols: dict[str, int] = {}
    for key, pos in _POSITIONS.items():
        if pos < len(lowered) and re.fullmatch(_TITLES[key], lowered[pos]):
            cols[key] = pos  # the usual layout
            continue
        found = [i for i, n in enumerate(lowered) if re.fullmatch(_TITLES[key], n)]
        if found:
            cols[key] = found[0]
        elif key != "t":
            what = {"f": "frequency (Freq(Hz))", "zr": "Z' (Z'(a))", "zi": "Z'' (Z''(b))"}[key]
            raise ParseError(f"no {what} column among the titles {names}; this .z file does "
                             "not hold impedance (or a column was removed)", path, line)
    return cols


def _zplot2_header(lines: list[str]) -> dict[str, Any]:
    """``Key: value`` lines of a ZPLOT2 header; keys inside ``Begin X``/``End X`` blocks are
    prefixed with ``X.`` because block keys repeat (e.g. ``Error Beep``)."""
    meta: dict[str, Any] = {}
    section = ""
    for line in lines:
        pair = split_pair(line, ":")
        if pair is None:
            continue
        key, value = pair
        if key.startswith("Begin "):
            section = key[6:]
            continue
        if key.startswith("End "):
            section = ""
            continue
        meta[f"{section}.{key}" if section else key] = number(value)
    return meta


def _split(rows: list[str]) -> tuple[str | None, str]:
    """Delimiter and decimal mark of the data rows: tab, comma or whitespace."""
    if "\t" in rows[0]:
        return "\t", decimal_of(rows, "\t")
    if "," in rows[0]:
        return ",", "."
    return None, decimal_of(rows, None)


def _read_zplot2(lines: list[str], path: Path) -> tuple[dict[str, Any], list[str] | None, int]:
    end = next((i for i, s in enumerate(lines) if s.strip() == "End Comments"), None)
    if end is None:
        raise ParseError("ZPLOT2 file without an 'End Comments' line before the data "
                         "(truncated header?)", path, len(lines))
    title = lines[end - 1] if end >= 1 else ""
    names = title.strip().split("\t") if "freq" in title.lower() else None
    meta = _zplot2_header(lines[1:end - 1] if names else lines[1:end])
    label = next((k for k in meta if k.startswith("Measured Data")), "")
    version = meta.get(label, "")
    if label.endswith("ZPlot"):
        meta["instrument"] = f"Scribner ZPlot {version}".strip()
    declared = meta.get("Data Points")
    if isinstance(declared, float):
        meta["data_points_declared"] = int(declared)
    return meta, names, end + 1


def _read_zplotw(lines: list[str], path: Path) -> tuple[dict[str, Any], list[str] | None, int]:
    title_at = next((i for i, s in enumerate(lines[:50]) if "freq" in s.lower()
                     and "z'" in s.lower()), None)
    if title_at is None:
        raise ParseError("ZPlotW file without a column-title line (Freq(Hz) ... Z'(a) Z''(b)) "
                         "in its first 50 lines", path, 1)
    meta: dict[str, Any] = {}
    comments: list[str] = []
    first = lines[0].strip().strip('"')
    version = first.partition("Version")[2].strip()
    program = "ZView" if first.startswith("ZView") else "ZPlotW"
    meta["instrument"] = f"Scribner {program} {version}".strip()
    declared = number(lines[title_at - 1]) if title_at >= 1 else ""
    header_end = title_at - 1 if isinstance(declared, float) else title_at
    for line in lines[1:header_end]:
        text = line.strip().strip('"').strip()
        if not text:
            continue
        # "Date: 12-17-2019    Time: 16:24:35": pairs separated by runs of spaces.
        chunks = re.split(r"\s{2,}(?=[A-Za-z][^:]*:)", text)
        pairs = [p for p in (split_pair(c, ":") for c in chunks) if p is not None]
        if len(pairs) == len(chunks):
            meta.update((key, number(value)) for key, value in pairs)
        else:
            comments.append(text)
    if comments:
        meta["comments"] = comments
    if isinstance(declared, float):
        meta["data_points_declared"] = int(declared)
    names = lines[title_at].strip().strip('"').split()
    return meta, names, title_at + 1


def read(path: Path | Source) -> list[xr.Dataset]:
    """Read the single sweep of a ZPlot/ZView ``.z`` file; see the module docstring."""
    source = Source.of(path)
    path = source.path
    lines = source.lines()
    first = lines[0].strip().strip('"').strip() if lines else ""
    if first == "ZPLOT2 ASCII":
        meta, names, data_at = _read_zplot2(lines, path)
    elif first.startswith(_QUOTED_LAYOUTS):
        meta, names, data_at = _read_zplotw(lines, path)
    else:
        raise FormatError(f"{path}: not a ZPlot .z file: the first line is {first[:40]!r}, "
                          "expected 'ZPLOT2 ASCII', '\"ZPlotW Data File...\"' or '\"ZView "
                          "Calculated Data File...\"'")
    cols = _columns(names, path=path, line=data_at)
    # Blank lines before the first row and at the end are tolerated; one inside the table
    # is reported by parse_table with its line number.
    first_row, stop = data_span(lines, data_at)
    rows = lines[first_row:stop]
    delimiter, decimal = _split(rows) if rows else ("\t", ".")
    ncols = max(len(names or ()), max(cols.values()) + 1)
    table = parse_table(rows, path=path, first_line=first_row + 1, delimiter=delimiter,
                        decimal=decimal, ncols=ncols)
    check_impedance_columns(table, (cols["f"], cols["zr"], cols["zi"]), path=path,
                            first_line=first_row + 1, names=names, kept=(cols.get("t"),))
    require_rows(table, path=path, line=data_at, what="data table")
    meta["data_points_read"] = int(table.shape[0])
    instrument = str(meta.pop("instrument", ""))
    return [make_spectrum(
        table[:, cols["f"]], table[:, cols["zr"]] + 1j * table[:, cols["zi"]],
        instrument=instrument, metadata=meta,
        time=table[:, cols["t"]] if "t" in cols else None)]


IMPORTERS = (
    Importer(
        name=NAME,
        description="Scribner ZPlot/ZView .z (ZPLOT2 ASCII with or without comment block, "
                    "and the older quoted ZPlotW layout)",
        suffixes=(".z",),
        sniff=sniff,
        read=read,
        read_source=read,
        max_score=0.95,   # sniff's best: skipped when another format scored more
    ),
)
