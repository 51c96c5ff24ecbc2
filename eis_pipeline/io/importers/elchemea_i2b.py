"""Elchemea Analytical ``.i2b`` impedance files.

Layout (plain text, whitespace-separated)::

    free-form header lines (any number, may be empty)
    <blank line>
    29                                   <- number of points
    10000.0 109.009 -26.5557             <- f [Hz], Z' [ohm], Z'' [ohm] (physical sign)
    ...

The format has no signature, so detection rests on its structure: a bare point count followed
by exactly that many rows of three numbers and nothing else. Without the ``.i2b`` suffix that
shape is only weak evidence and is scored low, so richer formats win.
"""

from __future__ import annotations

import re
from pathlib import Path

import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import FormatError, ParseError
from eis_pipeline.io.importers._common import (
    announced_rows,
    first_lines,
    head_text,
    parse_count,
    require_positive,
)
from eis_pipeline.io.registry import Importer
from eis_pipeline.io.source import Source
from eis_pipeline.io.text import parse_table

INSTRUMENT = "Elchemea Analytical"

#: One number with a decimal point. Unambiguous (the digits before the point cannot also be
#: matched after it), so matching is linear in the token: an earlier row pattern with
#: ``\d+\.?\d*`` and adjacent ``\s*``/``\s+`` backtracked for minutes on long digit runs.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _is_row(line: str) -> bool:
    """True for a row of exactly three numbers separated by whitespace."""
    fields = line.split()
    return len(fields) == 3 and all(_NUMBER.fullmatch(f) for f in fields)


def _find_count_line(lines: list[str]) -> int | None:
    """Index of the point-count line: a bare integer followed by a row of three numbers."""
    for i, line in enumerate(lines[:-1]):
        if parse_count(line) is not None and _is_row(lines[i + 1]):
            return i
    return None


def sniff(path: Path, head: bytes) -> float:
    """Confidence that ``head`` is an Elchemea ``.i2b`` file."""
    if b"\x00" in head:
        return 0.0
    text = head_text(head)
    i = _find_count_line(first_lines(text, 200))
    if i is None:
        return 0.0
    lines = first_lines(text, len(head))  # every line, only split once the start matched
    n = parse_count(lines[i]) or 0
    rows = lines[i + 1:i + 1 + n]
    complete = len(head) < 65536  # the whole file is in ``head``: check it all
    if not all(_is_row(r) for r in rows[:50]):
        return 0.0
    if complete and (len(rows) != n or any(line.strip() for line in lines[i + 1 + n:])):
        return 0.0
    return 0.8 if path.suffix.lower() == ".i2b" else 0.2


def read(path: Path | Source) -> list[xr.Dataset]:
    """Read an Elchemea ``.i2b`` file: one sweep.

    Examples
    --------
    >>> from eis_pipeline.io.registry import get_importer
    >>> get_importer("elchemea-i2b").suffixes
    ('.i2b',)
    """
    source = Source.of(path)
    path = source.path
    lines = source.lines()
    i = _find_count_line(lines)
    if i is None:
        raise FormatError(f"{path}: no point-count line followed by rows of 'f Z' Z''' "
                          "found; expected an Elchemea .i2b file")
    n = parse_count(lines[i]) or 0
    rows = announced_rows(lines, i + 1, n, path=path, what=f"line {i + 1}")
    table = parse_table(rows, path=path, first_line=i + 2, ncols=3)
    extra = [k for k, line in enumerate(lines[i + 1 + n:]) if line.strip()]
    if extra:
        raise ParseError(f"unexpected content after the {n} announced points: "
                         f"{lines[i + 1 + n + extra[0]].strip()[:40]!r}; is the point count "
                         "right?", path, i + 2 + n + extra[0])
    f = table[:, 0]
    require_positive(f, path=path, first_line=i + 2)
    header = [line.rstrip() for line in lines[:i]]
    while header and not header[-1]:
        header.pop()
    return [make_spectrum(f, table[:, 1] + 1j * table[:, 2], instrument=INSTRUMENT,
                          metadata={"header": header})]


IMPORTERS = (
    Importer(name="elchemea-i2b", description="Elchemea Analytical impedance file (.i2b)",
             suffixes=(".i2b",), sniff=sniff, read=read, read_source=read,
             max_score=0.8),   # sniff's best: skipped when another format scored more
)
