"""Novocontrol (WinDETA / WinFIT) ASCII exports of impedance spectra.

Layout::

    s05751_25deg, 26.02.2025, 15:11                          <- sample, date, time
    Diameter[mm]: 1.300e+01  Thickness[mm]: 7.500e-01  ...   <- sample geometry
    Fixed value(s) :  AC Volt  [Vrms]=7.1000e-03             <- fixed parameters
         Freq.[Hz]      Zs'[ohm]     Zs''[ohm]               <- column titles (tab-separated)
     1.0000000e+06  3.8055903e+03 -6.3180615e+03             <- data

Every ``Name[unit]: value`` / ``Name [unit]=value`` of the header goes to the metadata. The
geometry becomes the attributes ``diameter_cm`` and ``thickness_cm`` (converted from the unit
given); a fixed temperature (``Temperature [°C]=...``) or a temperature column becomes the
``temperature`` variable in K. Columns are found by their titles: frequency ``Freq[...][Hz]``,
impedance ``Z'``/``Z''`` (any WinDETA subscript, e.g. ``Zs'``) in ohm (``[ohm]`` or
``[Ohms]``); titles are separated by tabs or, in re-saved files, by two or more spaces.
Novocontrol writes Z'' with the physical sign, and a title ``-Z''`` is negated. Exports of
a series (e.g. one sweep per temperature, with a temperature column) concatenate the sweeps:
a new sweep starts where the frequency jumps back to the start of the range. The temperature
in a sample *name* (``..._25deg``) is a label, not a measurement, and is not interpreted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline.conventions import celsius_to_kelvin, make_spectrum
from eis_pipeline.exceptions import FormatError
from eis_pipeline.io.importers._common import (
    check_impedance_columns,
    data_span,
    decimal_of,
    find_column,
    first_lines,
    head_text,
    require_rows,
    sweep_bounds,
)
from eis_pipeline.io.registry import Importer
from eis_pipeline.io.source import Source
from eis_pipeline.io.text import parse_float, parse_table

NAME = "novocontrol-txt"

_FREQ = r"freq[a-z.]*\s*\[hz\]"
_Z_REAL = r"-?z[a-z]*'\s*\[ohms?\]"
_Z_IMAG = r"-?z[a-z]*''\s*\[ohms?\]"
#: Column titles are tab-separated, or (re-saved exports) separated by two or more spaces:
#: one space sits inside a title (``Freq. [Hz]``).
_TITLE_SEPARATOR = re.compile(r"\t|  +")
_TEMP_COLUMN = r"t(emp[a-z.]*)?\s*\[(°c|c|k)\]"
#: ``Name[unit]: value`` or ``Name [unit]=value``; names are words joined by single spaces,
#: so two spaces end a name ("Edge Correction On  Electrode Thickness[mm]: 4.00e+00").
_PAIR = re.compile(r"([A-Za-z][\w.]*(?: [\w.()]+)*)\s*\[([^\]]*)\]\s*[:=]?\s*"
                   r"([-+]?(?:\d+[.,]?\d*|[.,]\d+)(?:[eE][-+]?\d+)?)")
_NOVOCONTROL_MARKERS = ("Diameter[mm]", "Thickness[mm]", "Fixed value(s)")
#: Lengths per centimetre (dividing keeps 0.75 mm -> 0.075 cm exact in binary rounding).
_PER_CM = {"mm": 10.0, "cm": 1.0, "m": 0.01, "um": 1e4, "µm": 1e4}


def _titles(line: str) -> list[str]:
    return [n.strip() for n in _TITLE_SEPARATOR.split(line) if n.strip()]


def _title_index(lines: list[str]) -> int | None:
    """Index of the column-title line among the first lines, or None."""
    for i, line in enumerate(lines[:40]):
        if "[hz]" not in line.lower():
            continue  # _FREQ needs "[Hz]": skip the regex on every other line (sniff speed)
        names = [n.lower() for n in _titles(line)]
        if any(re.fullmatch(_FREQ, n) for n in names):
            return i
    return None


def sniff(path: Path, head: bytes) -> float:
    """Confidence that ``head`` starts a Novocontrol ASCII impedance export."""
    lines = first_lines(head_text(head), 40)
    at = _title_index(lines)
    if at is None:
        return 0.0
    names = [n.lower() for n in _titles(lines[at])]
    if not (any(re.fullmatch(_Z_REAL, n) for n in names)
            and any(re.fullmatch(_Z_IMAG, n) for n in names)):
        return 0.0  # permittivity or conductivity only: not impedance
    header = "\n".join(lines[:at])
    return 0.9 if any(m in header for m in _NOVOCONTROL_MARKERS) else 0.6


def _header(lines: list[str], path: Path) -> tuple[dict[str, Any], dict[str, float]]:
    """Metadata and the attributes derived from it (geometry in cm, temperature in K)."""
    meta: dict[str, Any] = {}
    attrs: dict[str, float] = {}
    if lines:
        meta["title"] = lines[0].strip()
        parts = [p.strip() for p in lines[0].split(",")]
        if len(parts) == 3:
            meta.update(sample=parts[0], date=parts[1], time=parts[2])
    for lineno, line in enumerate(lines[1:], start=2):
        for name, unit, value in _PAIR.findall(line):
            val = parse_float(value, path=path, line=lineno, what=f"a value for {name}")
            meta[f"{name} [{unit}]"] = val
            key = name.strip().lower()
            unit_l = unit.strip().lower()
            if key in ("diameter", "thickness") and unit_l in _PER_CM:
                attrs[f"{key}_cm"] = val / _PER_CM[unit_l]
            elif re.fullmatch(r"temp[a-z.]*", key) and unit_l in ("°c", "c", "k"):
                attrs["temperature_K"] = val if unit_l == "k" else val + 273.15
    return meta, attrs


def read(path: Path | Source) -> list[xr.Dataset]:
    """Read the impedance spectrum of a Novocontrol ASCII export; see the module docstring."""
    source = Source.of(path)
    path = source.path
    lines = source.lines()
    at = _title_index(lines)
    if at is None:
        raise FormatError(f"{path}: no column-title line with a frequency column "
                          "('Freq.[Hz]') in the first 40 lines; not a Novocontrol export")
    names = _titles(lines[at])
    col_f = find_column(names, [_FREQ], path=path, line=at + 1, what="frequency (Freq.[Hz])",
                        pattern=True)
    col_zr = find_column(names, [_Z_REAL], path=path, line=at + 1, what="Z' [ohm]",
                         pattern=True)
    col_zi = find_column(names, [_Z_IMAG], path=path, line=at + 1, what="Z'' [ohm]",
                         pattern=True)
    col_t = next((i for i, n in enumerate(names)
                  if re.fullmatch(_TEMP_COLUMN, n, flags=re.IGNORECASE)), None)
    meta, attrs = _header(lines[:at], path)
    meta["columns"] = names
    first, stop = data_span(lines, at + 1)
    rows = lines[first:stop]
    decimal = decimal_of(rows, None)
    table = parse_table(rows, path=path, first_line=first + 1, delimiter=None, decimal=decimal,
                        ncols=len(names))
    check_impedance_columns(table, (col_f, col_zr, col_zi), path=path, first_line=first + 1,
                            names=names)
    require_rows(table, path=path, line=at + 1, what="data table")
    sign = [-1.0 if names[c].startswith("-") else 1.0 for c in (col_zr, col_zi)]
    impedance = sign[0] * table[:, col_zr] + 1j * sign[1] * table[:, col_zi]
    temperature: np.ndarray | None = None
    if col_t is not None:
        values = table[:, col_t]
        temperature = values if names[col_t].lower().endswith("[k]") else \
            celsius_to_kelvin(values)
    elif "temperature_K" in attrs:
        temperature = np.full(table.shape[0], attrs["temperature_K"])
    attrs.pop("temperature_K", None)  # carried by the temperature variable
    frequency = table[:, col_f]
    return [make_spectrum(frequency[a:b], impedance[a:b], sweep=k, instrument="Novocontrol",
                          metadata=meta, attrs=attrs,
                          temperature=None if temperature is None else temperature[a:b])
            for k, (a, b) in enumerate(sweep_bounds(frequency))]


IMPORTERS = (
    Importer(
        name=NAME,
        description="Novocontrol WinDETA ASCII export (Freq.[Hz], Z'/Z'' [ohm]; pellet "
                    "geometry from the header)",
        suffixes=(".txt", ".asc", ".dat"),
        sniff=sniff,
        read=read,
        read_source=read,
        max_score=0.9,   # sniff's best: skipped when another format scored more
    ),
)
