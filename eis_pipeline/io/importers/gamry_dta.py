"""Gamry Framework ``.DTA`` impedance files (EISPOT, EISGALV, ... experiments).

Layout: tab-separated lines. The header holds ``KEY<TAB>TYPE<TAB>value...`` lines (``TAG``,
``TITLE``, ``DATE``, ``PSTAT``, ``AREA``, ...; ``NOTES`` is followed by its count of indented
note lines). A table starts with ``NAME<TAB>TABLE[<TAB>count]``, then a column-name line and a
units line, then rows that begin with a tab; the first line that does not begin with a tab ends
it. The impedance table is ``ZCURVE`` (``Freq``, ``Zreal``, ``Zimag`` with the physical sign),
among others such as ``OCVCURVE``.

Quirks handled:

* aborted runs: the ZCURVE table ends early (``EXPERIMENTABORTED`` follows); the points that
  exist are returned.
* rows indented with spaces instead of a tab, or with space-separated fields (files re-saved
  by an editor): read like tab-separated rows; a data row found outside any table is an
  error naming its line, never skipped.
* decimal commas (European Windows locales), detected from the first data row.
* drift correction: when the table also has ``ZrealDrCor``/``ZimagDrCor``, each ZCURVE table
  gives **two sweeps, in this order**: first the data as measured (attribute
  ``drift_corrected=False``), then the drift-corrected data (``drift_corrected=True``). Files
  without drift correction give one sweep with ``drift_corrected=False``.
* temperature: a ``Temp`` column in °C is converted to K; Gamry's "no thermocouple" filler
  (-327.67 °C) and any value below absolute zero become NaN, and a column with no valid value
  is dropped.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline.conventions import celsius_to_kelvin, make_spectrum
from eis_pipeline.exceptions import FormatError, ParseError
from eis_pipeline.io.importers._common import (
    check_impedance_columns,
    decimal_of,
    find_column,
    first_lines,
    head_text,
    is_number,
    number,
    optional_column,
    require_consistent_polar,
)
from eis_pipeline.io.registry import Importer
from eis_pipeline.io.source import Source
from eis_pipeline.io.text import parse_table

NAME = "gamry-dta"
_NUMERIC_KINDS = frozenset({"QUANT", "IQUANT", "POTEN", "SELECTOR"})


def sniff(path: Path, head: bytes) -> float:
    """Confidence that ``head`` starts a Gamry impedance ``.DTA`` file."""
    lines = first_lines(head_text(head), 3)
    if len(lines) < 2 or lines[0].strip() != "EXPLAIN" or not lines[1].startswith("TAG\t"):
        return 0.0
    tag = lines[1].split("\t")[1].strip().upper() if "\t" in lines[1] else ""
    text = head_text(head)
    # A Gamry file of another technique (CV, chronoamperometry...) is not impedance data.
    if "EIS" in tag or "\nZCURVE\t" in text:
        return 0.95
    return 0.0


def _header_value(fields: list[str]) -> Any:
    """The value part of a ``KEY TYPE value ...`` header line, typed by its TYPE."""
    if len(fields) == 2:
        return fields[1].strip()  # e.g. ``TAG<TAB>EISPOT``: the second field is the value
    kind = fields[1].strip().upper() if len(fields) > 1 else ""
    values = [f.strip() for f in fields[2:5]]   # the most any kind reads (TWOPARAM: 3)
    if kind == "TOGGLE" and values:
        return values[0] == "T"
    if kind == "TWOPARAM" and len(values) >= 3:
        return {"enabled": values[0] == "T", "values": [number(values[1]), number(values[2])]}
    if not values:
        return ""
    # LABEL, PSTAT...: text even when it looks numeric (versions such as "4.60", dates).
    return number(values[0]) if kind in _NUMERIC_KINDS else values[0]


def _temperature_k(celsius: np.ndarray, unit: str) -> np.ndarray | None:
    """Temperature column in K; Gamry's -327.67 °C filler (no thermocouple) becomes NaN."""
    kelvin = celsius if unit.strip().upper() == "K" else celsius_to_kelvin(celsius)
    kelvin = np.where(kelvin > 0, kelvin, np.nan)
    return None if np.all(np.isnan(kelvin)) else kelvin


def _is_row(line: str) -> bool:
    """A table row: indented (by a tab, or spaces in re-saved files) or starting with its
    point number; a blank line or a header key ends the table."""
    if not line.strip():
        return False
    if line[0] in " \t":
        return True
    first = line.split(None, 1)[0]
    return is_number(first)


def _tab_row(line: str, ncols: int) -> str:
    """``line`` without its indent, fields tab-separated: a row whose fields are separated by
    spaces (an editor's re-save) is re-joined with tabs when it has one field per column."""
    row = line[1:] if line.startswith("\t") else line.lstrip(" ")
    if "\t" not in row:
        fields = row.split()
        if len(fields) == ncols:
            return "\t".join(fields)
    return row


def _tab_rows_end(lines: list[str], start: int) -> int:
    """Index of the first line from ``start`` on that is not a usual table row: a tab, then
    fields with another tab among them (for those, :func:`_is_row` is True and
    :func:`_tab_row` only drops the tab)."""
    i, n = start, len(lines)
    while i < n:
        line = lines[i]
        if line[:1] != "\t" or line.find("\t", 1) < 0 or not line.strip():
            break
        i += 1
    return i


def _read_zcurve(lines: list[str], start: int, path: Path) -> tuple[dict[str, Any], int]:
    """Parse the ZCURVE table whose ``TABLE`` line is ``lines[start]``.

    Returns the columns needed for spectra and the index of the first line after the table.
    """
    if start + 2 >= len(lines):
        raise ParseError("ZCURVE table ends before its column-name and units lines "
                         "(truncated file?)", path, start + 1)
    names = lines[start + 1].split("\t")[1:]
    units = lines[start + 2].split("\t")[1:]
    first = start + 3
    ncols = len(names)
    # Fast scan over the usual rows (a tab, then tab-separated fields): what _is_row and
    # _tab_row give for them, without two calls per row; any other line takes those.
    stop = _tab_rows_end(lines, first)
    rows = [line[1:] for line in islice(lines, first, stop)]
    for line in islice(lines, stop, None):
        if not _is_row(line):
            break  # the next header key (or EXPERIMENTABORTED) ends the table
        rows.append(_tab_row(line, ncols))
    stop = first + len(rows)
    name_line = start + 2  # 1-based number of the column-name line
    col = {
        "f": find_column(names, ["Freq"], path=path, line=name_line, what="frequency (Freq)"),
        "zr": find_column(names, ["Zreal"], path=path, line=name_line, what="Z' (Zreal)"),
        "zi": find_column(names, ["Zimag"], path=path, line=name_line, what="Z'' (Zimag)"),
    }
    for key, name in (("t", "Time"), ("v", "Vdc"), ("i", "Idc"), ("temp", "Temp"),
                      ("mod", "Zmod"), ("phase", "Zphz"),
                      ("zr_dc", "ZrealDrCor"), ("zi_dc", "ZimagDrCor")):
        idx = optional_column(names, [name])
        if idx is not None:
            col[key] = idx
    decimal = decimal_of(rows, "\t")
    table = parse_table(rows, path=path, first_line=first + 1, delimiter="\t",
                        decimal=decimal, ncols=len(names))
    check_impedance_columns(table, [col[k] for k in ("f", "zr", "zi", "zr_dc", "zi_dc")
                                    if k in col], path=path, first_line=first + 1, names=names,
                            kept=[col.get(k) for k in ("t", "v", "i", "temp")])
    out: dict[str, Any] = {key: table[:, idx] for key, idx in col.items()}
    require_consistent_polar(out["zr"], out["zi"], out.pop("mod", None), out.pop("phase", None),
                             path=path, first_line=first + 1,
                             names=("Zreal", "Zimag", "Zmod", "Zphz"))
    if "temp" in col:
        unit = units[col["temp"]] if col["temp"] < len(units) else ""
        out["temp"] = _temperature_k(out["temp"], unit)
    return out, stop


def read(path: Path | Source) -> list[xr.Dataset]:
    """Read every ZCURVE table of a Gamry ``.DTA`` file; see the module docstring."""
    source = Source.of(path)
    path = source.path
    lines = source.lines()
    metadata: dict[str, Any] = {}
    tables: list[str] = []
    curves: list[dict[str, Any]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        fields = line.split("\t")
        key = fields[0].strip()
        kind = fields[1].strip().upper() if len(fields) > 1 else ""
        if not key or line.startswith("\t"):
            if len(fields) > 2 and all(is_number(f) for f in fields[1:3]):
                raise ParseError("a data row outside any table (rows belong after a TABLE "
                                 "line and its column-name and units lines)", path, i + 1)
            i += 1  # an indented note or an empty field outside any table
            continue
        if kind == "TABLE":
            tables.append(key)
            if key.upper().startswith("ZCURVE"):
                declared = number(fields[2]) if len(fields) > 2 else None
                data, stop = _read_zcurve(lines, i, path)
                curves.append(data)
                if isinstance(declared, float):
                    metadata[f"{key}_points_declared"] = int(declared)
                i = stop
            else:
                i = _tab_rows_end(lines, i + 3)  # name and units lines, then the rows
                while i < len(lines) and _is_row(lines[i]):
                    i += 1
            continue
        if kind == "NOTES":
            # The declared count is not always the number of note lines (seen: 3 for 1), so
            # take the indented lines that follow, at most that many.
            count = number(fields[2]) if len(fields) > 2 else 0.0
            limit = int(count) if isinstance(count, float) else 0
            n = 0
            while n < limit and i + 1 + n < len(lines) and lines[i + 1 + n].startswith("\t"):
                n += 1
            metadata[key] = "\n".join(s.strip() for s in lines[i + 1:i + 1 + n]).strip()
            i += 1 + n
            continue
        if len(fields) > 1:
            metadata[key] = _header_value(fields)
        i += 1
    metadata["tables"] = tables
    if not curves:
        raise FormatError(f"{path}: Gamry file (TAG {metadata.get('TAG', '?')!r}) has no "
                          "ZCURVE table, so it holds no impedance data; tables found: "
                          f"{tables or 'none'}")
    pstat = metadata.get("PSTAT")
    instrument = f"Gamry {pstat}" if pstat else "Gamry"
    spectra: list[xr.Dataset] = []
    for data in curves:
        if data["f"].size == 0:
            continue  # aborted before the first point: nothing to return for this table
        variables = {"time": data.get("t"), "potential": data.get("v"),
                     "current": data.get("i"), "temperature": data.get("temp")}
        versions = [(data["zr"], data["zi"], False)]
        if "zr_dc" in data and "zi_dc" in data:
            versions.append((data["zr_dc"], data["zi_dc"], True))
        for zr, zi, corrected in versions:
            spectra.append(make_spectrum(
                data["f"], zr + 1j * zi, sweep=len(spectra), instrument=instrument,
                metadata=metadata, attrs={"drift_corrected": int(corrected)}, **variables))
    return spectra


IMPORTERS = (
    Importer(
        name=NAME,
        description="Gamry Framework .DTA impedance (ZCURVE table; aborted runs, decimal "
                    "commas, drift-corrected data as a second sweep)",
        suffixes=(".dta",),
        sniff=sniff,
        read=read,
        read_source=read,
        max_score=0.95,   # sniff's best: skipped when another format scored more
    ),
)
