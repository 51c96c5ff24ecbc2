"""Princeton Applied Research VersaStudio ``.par`` experiment files.

Layout: XML-like sections ``<Name>`` ... ``</Name>`` of ``key=value`` lines (``Application``,
``Instrument``, ``Experiment``, ``Action0``, ``Action1``...); each measured action has a
``<SegmentN>`` section whose ``Definition=`` line names the comma-separated columns of the rows
that follow (``Segment #, Point #, E(V), I(A), Elapsed Time(s), ..., Frequency(Hz), E Real,
E Imag, I Real, I Imag, Z Real, Z Imag, ..., 0``; the trailing number is not a column: the
rows have no field for it).

Impedance is read from ``Z Real`` and ``Z Imag`` (ohm, physical sign: ``Z Imag`` < 0 for a
capacitive response) — not from ``E Real``/``E Imag`` or ``I Real``/``I Imag``, which are the
excitation and response phasors, nor from ``Z2 Real``/``Z2 Imag`` (the auxiliary electrometer,
zero when unused). Rows with frequency 0 (DC points) are skipped; each contiguous run of
impedance rows in a segment is one sweep (cut again where the frequency jumps back to start
a new sweep), in file order.
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
    find_column,
    head_text,
    is_number,
    number,
    optional_column,
    split_pair,
    sweep_bounds,
)
from eis_pipeline.io.registry import Importer
from eis_pipeline.io.source import Source
from eis_pipeline.io.text import parse_table

NAME = "versastudio-par"
_OPEN = re.compile(r"^<([A-Za-z][\w]*)>$")
#: Sections that describe the experiment; the others (Graph1, DataView...) are window layout.
_KEEP = re.compile(r"^(Application|Instrument|Experiment|Action\d+|Segment\d+)$")


def sniff(path: Path, head: bytes) -> float:
    """Confidence that ``head`` starts a VersaStudio ``.par`` file holding impedance data."""
    text = head_text(head)
    if not text.lstrip().startswith("<Application>"):
        return 0.0
    if "Definition=" in text:
        # The first segment is within the head: impedance only if it has a frequency column.
        return 0.95 if "Frequency(Hz)" in text else 0.0
    return 0.5 if "VersaStudio" in text or "<Instrument>" in text else 0.0


def _segments(lines: list[str], path: Path
              ) -> tuple[dict[str, Any], list[tuple[str, str, int, int]]]:
    """Header sections as metadata, and the segments.

    Each segment is ``(name, definition, definition_index, stop)``: its rows are
    ``lines[definition_index + 1:stop]``. A segment without its closing tag is a truncated
    file, a :class:`ParseError` (reading its rows to the end gave 9 of 61 points, silently).
    """
    meta: dict[str, Any] = {}
    segments: list[tuple[str, str, int, int]] = []
    # Every line stripped once, in C: the tag searches below compare whole stripped lines
    # (list.index finds a segment's closing tag past its rows without a Python loop).
    stripped = list(map(str.strip, lines))
    i = 0
    while i < len(lines):
        match = _OPEN.match(stripped[i]) if stripped[i][:1] == "<" else None
        if not match:
            i += 1
            continue
        name = match.group(1)
        close = f"</{name}>"
        body: dict[str, Any] = {}
        keep = _KEEP.match(name) is not None   # other sections' values are not stored
        j = i + 1
        while j < len(lines) and stripped[j] != close:
            # a section that is not kept only matters for a Definition line
            pair = (split_pair(lines[j], "=") if keep or "Definition" in lines[j] else None)
            if pair is not None and pair[0] == "Definition":
                body["Definition"] = pair[1]
                try:
                    stop = stripped.index(close, j + 1)
                except ValueError:
                    stop = len(lines)
                if stop == len(lines):
                    raise ParseError(f"section <{name}> opened on line {i + 1} has no closing "
                                     f"{close} tag: the file is truncated; export it again",
                                     path, len(lines))
                segments.append((name, pair[1], j, stop))
                j = stop
                break
            if pair is not None and keep:
                body[pair[0]] = number(pair[1])
            j += 1
        if keep:
            meta[name] = body
        i = j + 1
    return meta, segments


def read(path: Path | Source) -> list[xr.Dataset]:
    """Read every impedance sweep of a VersaStudio ``.par`` file."""
    source = Source.of(path)
    path = source.path
    lines = source.lines()
    meta, segments = _segments(lines, path)
    spectra: list[xr.Dataset] = []
    instrument_type = str(meta.get("Instrument", {}).get("Type", "")).strip()
    instrument = f"Princeton Applied Research {instrument_type}".strip()
    for name, columns, definition, stop in segments:
        names = [n.strip() for n in columns.split(",")]
        if names and is_number(names[-1]):
            names = names[:-1]  # a trailing number, not a column: rows have no field for it
        col_f = optional_column(names, ["Frequency(Hz)"])
        if col_f is None:
            continue  # a DC segment (e.g. open-circuit hold): no impedance here
        def_line = definition + 1  # 1-based number of the Definition= line
        start = definition + 1
        col_zr = find_column(names, ["Z Real"], path=path, line=def_line, what="Z' (Z Real)")
        col_zi = find_column(names, ["Z Imag"], path=path, line=def_line, what="Z'' (Z Imag)")
        col_v = optional_column(names, ["E(V)"])
        col_i = optional_column(names, ["I(A)"])
        col_t = optional_column(names, ["Elapsed Time(s)"])
        start, end = data_span(lines, start, stop)
        table = parse_table(lines[start:end], path=path, first_line=start + 1, delimiter=",",
                            ncols=len(names))
        check_impedance_columns(table, (col_f, col_zr, col_zi), path=path,
                                first_line=start + 1, names=names, dc_rows=True,
                                kept=(col_v, col_i, col_t))
        for a, b in sweep_bounds(table[:, col_f]):
            part = table[a:b]
            spectra.append(make_spectrum(
                part[:, col_f], part[:, col_zr] + 1j * part[:, col_zi], sweep=len(spectra),
                instrument=instrument, metadata={**meta, "segment": name},
                potential=None if col_v is None else part[:, col_v],
                current=None if col_i is None else part[:, col_i],
                time=None if col_t is None else part[:, col_t]))
    if not segments:
        raise FormatError(f"{path}: no <SegmentN> section with a Definition= line: the file "
                          "holds no measured data")
    if not spectra:
        raise FormatError(f"{path}: no segment holds impedance rows (a Frequency(Hz) column "
                          "with positive values); is this an impedance experiment?")
    return spectra


IMPORTERS = (
    Importer(
        name=NAME,
        description="Princeton Applied Research VersaStudio .par (Z Real/Z Imag of each "
                    "impedance segment)",
        suffixes=(".par",),
        sniff=sniff,
        read=read,
        read_source=read,
        max_score=0.95,   # sniff's best: skipped when another format scored more
    ),
)
