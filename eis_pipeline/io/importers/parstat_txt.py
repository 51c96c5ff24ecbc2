"""Princeton Applied Research (Parstat / VersaStudio) tab-separated text exports.

Layout: one title line, e.g. ``Potential (V)  Current (A)  Elapsed Time (s)  Frequency (Hz)
Zre (ohms)  Zim (ohms)  |Vac| (V)  |Iac| (A)`` (tab-separated, with a trailing tab), then rows.
The export holds the whole experiment: DC steps (open circuit, holds) are rows with frequency 0
and impedance 0, interleaved with the impedance sweeps. Only rows with a positive frequency are
impedance data; each contiguous run of them is one sweep, cut again where the frequency jumps
back (a new sweep started without DC rows between), in file order. ``Zim`` is Z'' with the
physical sign. Potential, current and elapsed time of each point are kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import FormatError
from eis_pipeline.io.importers._common import (
    check_impedance_columns,
    data_span,
    decimal_of,
    find_column,
    first_lines,
    head_text,
    optional_column,
    require_rows,
    sweep_bounds,
)
from eis_pipeline.io.registry import Importer
from eis_pipeline.io.source import Source
from eis_pipeline.io.text import parse_table

NAME = "parstat-txt"
_REQUIRED = ("frequency (hz)", "zre (ohms)", "zim (ohms)")


def _names(line: str) -> list[str]:
    names = [n.strip() for n in line.split("\t")]
    while names and not names[-1]:
        names.pop()  # the trailing tab
    return names


def sniff(path: Path, head: bytes) -> float:
    """Confidence that ``head`` starts a Parstat/VersaStudio text export."""
    lines = [s for s in first_lines(head_text(head), 5) if s.strip()]
    if not lines:
        return 0.0
    lowered = [n.lower() for n in _names(lines[0])]
    return 0.9 if all(r in lowered for r in _REQUIRED) else 0.0


def read(path: Path | Source) -> list[xr.Dataset]:
    """Read every impedance sweep of a Parstat/VersaStudio text export."""
    source = Source.of(path)
    path = source.path
    lines = source.lines()
    at = next((i for i, s in enumerate(lines) if s.strip()), None)
    if at is None:
        raise FormatError(f"{path}: file has no text; expected a Parstat/VersaStudio export")
    names = _names(lines[at])
    col_f = find_column(names, ["Frequency (Hz)"], path=path, line=at + 1, what="frequency")
    col_zr = find_column(names, ["Zre (ohms)"], path=path, line=at + 1, what="Z' (Zre)")
    col_zi = find_column(names, ["Zim (ohms)"], path=path, line=at + 1, what="Z'' (Zim)")
    col_v = optional_column(names, ["Potential (V)"])
    col_i = optional_column(names, ["Current (A)"])
    col_t = optional_column(names, ["Elapsed Time (s)"])
    first, stop = data_span(lines, at + 1)
    rows = lines[first:stop]
    decimal = decimal_of(rows, "\t")
    table = parse_table(rows, path=path, first_line=first + 1, delimiter="\t", decimal=decimal,
                        ncols=len(names))
    check_impedance_columns(table, (col_f, col_zr, col_zi), path=path, first_line=first + 1,
                            names=names, dc_rows=True, kept=(col_v, col_i, col_t))
    require_rows(table, path=path, line=at + 1, what="table")
    runs = sweep_bounds(table[:, col_f])
    if not runs:
        raise FormatError(f"{path}: every row has frequency 0: this export holds DC data "
                          "only, no impedance sweep")
    meta = {"columns": names, "dc_rows_skipped": int(np.sum(table[:, col_f] <= 0))}
    spectra = []
    for sweep, (a, b) in enumerate(runs):
        part = table[a:b]
        spectra.append(make_spectrum(
            part[:, col_f], part[:, col_zr] + 1j * part[:, col_zi], sweep=sweep,
            instrument="Princeton Applied Research", metadata={**meta, "first_line": first + 1 + a},
            potential=None if col_v is None else part[:, col_v],
            current=None if col_i is None else part[:, col_i],
            time=None if col_t is None else part[:, col_t]))
    return spectra


IMPORTERS = (
    Importer(
        name=NAME,
        description="Princeton Applied Research Parstat/VersaStudio text export (Frequency "
                    "(Hz), Zre (ohms), Zim (ohms); DC rows skipped)",
        suffixes=(".txt",),
        sniff=sniff,
        read=read,
        read_source=read,
        max_score=0.9,   # sniff's best: skipped when another format scored more
    ),
)
