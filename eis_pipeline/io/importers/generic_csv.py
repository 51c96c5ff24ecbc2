"""Generic delimited text: CSV, TSV, semicolon or whitespace tables of impedance data.

Handles a header row or none, decimal points or commas, and columns recognised by their header
names: frequency; Z' and Z'' (either may be written negated, ``-Z''``); or |Z| and phase
(``phase`` or ``-phase``, degrees unless the header says rad). Without a header the columns are
frequency, Z', Z'' with the physical sign. Several spectra in one table are split where the
frequency sweep restarts. :func:`read_generic_csv` takes the columns explicitly when the names
are not recognisable.
"""

from __future__ import annotations

import itertools
import re
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import DataQualityWarning, ParseError
from eis_pipeline.io.importers._common import (
    check_impedance_columns,
    first_lines,
    head_text,
    require_consistent_polar,
    sweep_starts,
)
from eis_pipeline.io.registry import Importer
from eis_pipeline.io.source import Source
from eis_pipeline.io.text import looks_decimal_comma, parse_table

DELIMITERS = ("\t", ";", ",")

#: quantity -> header names (lower case, units, spaces and trailing dots stripped, ``"``
#: read as ``''``, a subscript after Z dropped: ``Zs'`` -> ``z'``) that mean it
_NAMES: dict[str, tuple[str, ...]] = {
    "frequency": ("f", "freq", "frequency", "fhz", "freqhz", "frequencyhz", "fr", "nu",
                  "frequenz", "fréquence", "frequency(hz)"),
    "real": ("z'", "zre", "zreal", "re(z)", "rez", "real", "z_real", "z_re", "zr", "r",
             "real(z)", "realz", "re", "z'(real)", "zreal'", "realimpedance", "impedancereal",
             "resistance"),
    "imag": ("z''", "zim", "zimag", "im(z)", "imz", "imag", "imaginary", "z_imag",
             "z_im", "zi", "x", "imag(z)", "imagz", "im", "z''(imag)", "imaginaryimpedance",
             "impedanceimaginary", "reactance"),
    "modulus": ("|z|", "zmod", "mod(z)", "modulus", "magnitude", "abs(z)", "z_mod", "|z|/ohm",
                "modz", "absz", "zabs", "|impedance|", "impedancemagnitude", "z_abs"),
    "phase": ("phase", "phase(z)", "phi", "theta", "zphz", "zphase", "phase_angle", "phz",
              "phaseangle", "arg(z)", "angle", "φ", "θ", "phase(z)/deg"),
}
#: WinDETA-style subscripts of Z (``Zs'``, ``Zp''``): a letter between Z and the prime.
_SUBSCRIPT = re.compile(r"^z[a-z](?=')")
_UNIT = re.compile(r"\s*(?:[(\[/]\s*([^)\]]*?)\s*[)\]]?)\s*$")
_PREFIXES = {"": 1.0, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
_KNOWN_UNITS = {p.lower() + base for p in _PREFIXES for base in ("ohm", "ohms", "hz")} | {
    "deg", "°", "degree", "degrees", "rad"}
#: In a whitespace-separated table, header names may hold one space (``Freq. [Hz]``) and are
#: then separated by a tab or two or more spaces.
_WIDE_SEPARATOR = re.compile(r"\t|  +")
#: Free-text lines allowed before the header (instrument, sample, date...).
MAX_PREAMBLE_LINES = 100
#: Detection score of a named table under a free-text preamble: below every vendor sniffer,
#: whose formats are text before a table too, so a vendor export always goes to its importer
PREAMBLE_SCORE = 0.2


@dataclass(frozen=True)
class Column:
    """Where a quantity sits in the table and how to turn it into SI with physical sign."""

    index: int
    sign: float = 1.0
    scale: float = 1.0
    radians: bool = False


#: a unit with a prefix (known or not): up to three letters before ohm(s), Ω or Hz, so that an
#: unknown prefix (``[Pohm]``) is reported by name instead of hiding the column's meaning
_PREFIXED_UNIT = re.compile(r"^[^\W\d_]{0,3}(?:ohms?|Ω|hz)$", re.IGNORECASE)


def _is_unit(text: str) -> bool:
    return (text.lower().replace("ω", "ohm") in _KNOWN_UNITS
            or _PREFIXED_UNIT.match(text.strip()) is not None)


def _split_name(header: str) -> tuple[str, str]:
    """``"-Z'' (kOhm)"`` -> (``"-z''"``, ``"kOhm"``).

    Cached for names of column length (a pure function of the name): detection and the
    reader split the same header, and the files of a campaign share theirs. A damaged,
    megabyte-long "name" is not kept.
    """
    return _split_name_cached(header) if len(header) <= 256 else _split_name_of(header)


def _split_name_of(header: str) -> tuple[str, str]:
    text = header.strip().strip('"').strip()
    match = _UNIT.search(text)
    unit = ""
    if match and match.start() > 0 and _is_unit(match.group(1)):
        unit = match.group(1)
        text = text[: match.start()]
    name = text.replace(" ", "").lower().rstrip(".").replace('"', "''")
    return _SUBSCRIPT.sub("z", name), unit.strip()


_split_name_cached = lru_cache(maxsize=1024)(_split_name_of)


def _unit_scale(unit: str, base: str, *, path: Path, line: int, header: str) -> float:
    """Scale factor to SI of ``unit`` (e.g. ``kOhm`` -> 1e3), which must end in ``base``."""
    if not unit:
        return 1.0
    normalised = unit.replace("Ω", "Ohm")
    if normalised.lower().endswith("ohms"):
        normalised = normalised[:-1]
    if not normalised.lower().endswith(base):
        raise ParseError(f"column {header!r}: unit {unit!r} is not a unit of {base}", path, line)
    prefix = normalised[: len(normalised) - len(base)]
    if prefix not in _PREFIXES:
        raise ParseError(f"column {header!r}: unit prefix {prefix!r} not understood; expected "
                         f"one of {sorted(_PREFIXES)}", path, line)
    return _PREFIXES[prefix]


def recognise_columns(headers: list[str], *, path: Path, line: int,
                      check_units: bool = True) -> dict[str, Column]:
    """Map quantities to columns from header names; raise ParseError when incomplete.

    ``check_units=False`` (detection) takes a column whose unit is not understood
    (``Z' [Pohm]``) for its quantity anyway: the reader then names the unit."""
    found: dict[str, Column] = {}
    for i, header in enumerate(headers):
        name, unit = _split_name(header)
        sign = 1.0
        if name.startswith("-"):
            sign, name = -1.0, name[1:]
        for quantity, names in _NAMES.items():
            if name in names and quantity not in found:
                base = "hz" if quantity == "frequency" else "ohm"
                scale = 1.0 if quantity == "phase" or not check_units else _unit_scale(
                    unit, base, path=path, line=line, header=header)
                found[quantity] = Column(i, sign, scale, radians="rad" in unit.lower())
                break
    if "frequency" in found and (
        {"real", "imag"} <= found.keys() or {"modulus", "phase"} <= found.keys()
    ):
        return found
    raise ParseError(
        f"header {headers!r} does not name a frequency column and either Z'/Z'' or |Z|/phase "
        "columns; rename them (e.g. f, Z', Z'') or pass columns explicitly to "
        "read_generic_csv(path, columns={'frequency': 0, 'real': 1, 'imag': 2})", path, line)


def _delimiter(lines: list[str]) -> str | None:
    """The delimiter used consistently across most of ``lines`` (None: whitespace).

    "Most" rather than "all" so that one truncated row is reported by the parser, with its
    line number, instead of changing how the whole file is split.
    """
    for delim in DELIMITERS:
        counts = Counter(line.count(delim) for line in lines)
        count, n = counts.most_common(1)[0]
        if count > 0 and n >= 0.8 * len(lines):
            return delim
    return None


def _is_numeric_row(fields: list[str]) -> bool:
    try:
        for field in fields:
            float(field.strip().replace(",", "."))
    except ValueError:
        return False
    return len(fields) >= 2


def _numeric_line(line: str) -> bool:
    """True when ``line`` is a row of at least two numbers under some delimiter."""
    return any(_is_numeric_row(line.split(d) if d else line.split())
               for d in (*DELIMITERS, None) if d is None or d in line)


@dataclass(frozen=True)
class _Layout:
    delimiter: str | None
    decimal: str
    header: list[str] | None
    header_line: int | None  # 0-based
    first_data: int  # 0-based
    preamble: tuple[str, ...] = ()


def _header_fields(line: str, delim: str | None, ncols: int | None) -> list[str]:
    if delim:
        return line.split(delim)
    wide = [t for t in _WIDE_SEPARATOR.split(line.strip()) if t.strip()]
    narrow = line.split()
    return wide if ncols is not None and len(wide) == ncols != len(narrow) else narrow


def _layout(lines: list[str], path: Path) -> _Layout:
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    if not nonblank:
        raise ParseError("no data: the file is empty or blank", path, 1)
    # The first numeric row starts the data; the line before it, if text, is the header and
    # any text lines before that are a free-text preamble (kept in the metadata). No numeric
    # row is ever taken for preamble.
    k = next((k for k, i in enumerate(nonblank[:MAX_PREAMBLE_LINES + 2])
              if _numeric_line(lines[i])), None)
    if k is None:
        k = 1  # no numbers: the first line is the header, the parser reports the rest
    sample = [lines[i] for i in nonblank[k:k + 20]] or [lines[nonblank[0]]]
    delim = _delimiter(sample)
    if delim is None and 0 < k < len(nonblank):
        # Short tables with a bad row: the header and first row agreeing decide.
        delim = _delimiter([lines[nonblank[k - 1]], sample[0]])
    header: list[str] | None = None
    header_line = None
    data_start = nonblank[k] if k < len(nonblank) else len(lines)
    if k > 0:
        header_line = nonblank[k - 1]
        ncols = len(sample[0].split(delim) if delim else sample[0].split())
        header = _header_fields(lines[header_line], delim, ncols if k < len(nonblank) else None)
    preamble = tuple(lines[i].strip() for i in nonblank[:max(k - 1, 0)])
    # Only rows holding a comma can hold a decimal comma: the test per token is skipped on
    # the others (most files), which keeps sniffing cheap.
    tokens = [t for row in sample if "," in row
              for t in (row.split(delim) if delim else row.split())]
    decimal = "," if delim != "," and any(looks_decimal_comma(t) for t in tokens) else "."
    return _Layout(delim, decimal, header, header_line, data_start, preamble)


def split_sweeps(frequency: np.ndarray) -> list[slice]:
    """Slices of ``frequency`` between restarts of a monotonic sweep (see
    :func:`eis_pipeline.io.importers._common.sweep_starts`).

    Examples
    --------
    >>> split_sweeps(np.array([100., 10., 1., 100., 10., 1.]))
    [slice(0, 3, None), slice(3, 6, None)]
    """
    bounds = [*sweep_starts(frequency).tolist(), frequency.size]
    if len(bounds) == 1:
        return [slice(0, 0)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def read_generic_csv(
    path: str | Path | Source,
    *,
    columns: Mapping[str, int | str] | None = None,
    delimiter: str | None = None,
    decimal: str | None = None,
    split: bool = True,
) -> list[xr.Dataset]:
    """Read a delimited table of impedance data.

    Parameters
    ----------
    path : str, Path or Source
        The file (or its bytes already read, see :class:`eis_pipeline.io.source.Source`).
    columns : mapping, optional
        Quantity -> column index (0-based) or header name, overriding recognition. Quantities:
        ``frequency`` (Hz) and either ``real``/``imag`` (ohm) or ``modulus`` (ohm)/``phase``
        (degrees). The keys ``neg_real``, ``neg_imag`` and ``neg_phase`` name columns that
        hold the negated quantity (e.g. a ``-Z''`` column).
    delimiter, decimal : str, optional
        Override detection.
    split : bool
        Split into several spectra where the frequency sweep restarts.

    Returns
    -------
    list of xarray.Dataset
        One spectrum per sweep, impedance with the physical sign.
    """
    source = Source.of(path)
    path = source.path
    lines = source.lines()
    layout = _layout(lines, path)
    delim = delimiter if delimiter is not None else layout.delimiter
    dec = decimal if decimal is not None else layout.decimal
    header_lineno = (layout.header_line or 0) + 1
    if columns is not None:
        cols = _explicit_columns(columns, layout.header, path=path, line=header_lineno)
    elif layout.header is not None:
        cols = recognise_columns(layout.header, path=path, line=header_lineno)
    else:
        cols = {"frequency": Column(0), "real": Column(1), "imag": Column(2)}
    rows = [(i, line) for i, line in enumerate(lines[layout.first_data:], layout.first_data)
            if line.strip()]
    if not rows:
        return []
    needed = 1 + max(c.index for c in cols.values())
    table = parse_table([line for _, line in rows], path=path, first_line=rows[0][0] + 1,
                        delimiter=delim, decimal=dec, ncols=None)
    if table.shape[1] < needed:
        raise ParseError(f"expected at least {needed} columns, found {table.shape[1]}", path,
                         rows[0][0] + 1)
    spectra = table_to_spectra(table, cols, path=path, first_line=rows[0][0] + 1, split=split)
    if columns is None:
        _check_signs(spectra, path, layout.header)
    meta: dict[str, object] = {"header": layout.header or [],
                               "delimiter": delim or "whitespace", "decimal": dec}
    if layout.preamble:
        meta["preamble"] = list(layout.preamble)
    return [make_spectrum(f, z, sweep=i, metadata=meta) for i, (f, z) in enumerate(spectra)]


def _check_signs(spectra: list[tuple[np.ndarray, np.ndarray]], path: Path,
                 header: list[str] | None) -> None:
    """Columns found by name or position are a reading of the file's words; warn when the
    signs say it is wrong. A passive sample has Z' > 0, and most points of a pellet spectrum
    are capacitive (Z'' < 0): a header line lost from a file that wrote ``f,-Z',-Z''`` (read
    by position, as impedance.py writes CSV) flips both; two column names exchanged put
    -Z'' where Z' belongs."""
    for _, z in spectra:
        negative_real = np.mean(z.real < 0) > 0.5
        inductive = np.mean(z.imag > 0) > 0.5
        if not (negative_real or inductive):
            continue
        what = "Z' < 0" if negative_real else "Z'' > 0 (inductive)"
        how = ("no header row, so the columns were read by position as frequency (Hz), Z', "
               "Z'' (ohm)" if header is None else f"the columns were read from the header "
               f"{header!r}")
        fix = ("is a header line naming them (e.g. f, -Z', -Z'') missing? Add one"
               if header is None else "are two column names exchanged, or a sign written "
               "differently? Fix the header")
        warnings.warn(f"{path}: {how}, but {what} at most points: {fix}, or pass columns= "
                      "to read_generic_csv", DataQualityWarning, stacklevel=3)
        return


def _explicit_columns(columns: Mapping[str, int | str], header: list[str] | None, *,
                      path: Path, line: int) -> dict[str, Column]:
    valid = {"frequency", "real", "imag", "modulus", "phase", "neg_real", "neg_imag",
             "neg_phase"}
    cols: dict[str, Column] = {}
    names = [h.strip() for h in header] if header else []
    for key, where in columns.items():
        if key not in valid:
            raise ParseError(f"unknown column key {key!r}; valid: {sorted(valid)}", path, line)
        if isinstance(where, str):
            if where not in names:
                raise ParseError(f"column {where!r} not in header {names}", path, line)
            where = names.index(where)
        quantity = key.removeprefix("neg_")
        cols[quantity] = Column(int(where), -1.0 if key.startswith("neg_") else 1.0)
    if "frequency" not in cols or not ({"real", "imag"} <= cols.keys()
                                       or {"modulus", "phase"} <= cols.keys()):
        raise ParseError("columns must give frequency and real/imag or modulus/phase", path,
                         line)
    return cols


def table_to_spectra(table: np.ndarray, cols: dict[str, Column], *, path: Path,
                     first_line: int, split: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(frequency in Hz, impedance in ohm with the physical sign) per sweep of ``table``,
    whose columns ``cols`` locates and scales (also used by :func:`eis_pipeline.read_table`)."""
    def value(q: str) -> np.ndarray:
        c = cols[q]
        return table[:, c.index] * c.sign * c.scale

    f = value("frequency")
    if "real" in cols:
        z = value("real") + 1j * value("imag")
    else:
        phase = value("phase")
        z = value("modulus") * np.exp(1j * (phase if cols["phase"].radians
                                             else np.deg2rad(phase)))
    # Non-finite values and repeated rows are named by their line here (the spectrum
    # contract, checked later, could only name the point).
    check_impedance_columns(table, [cols["frequency"].index,
                                    *(c.index for q, c in cols.items() if q != "frequency")],
                            path=path, first_line=first_line)
    if "real" in cols and ("modulus" in cols or "phase" in cols):
        # redundant polar columns beside Z' and Z'': rows that disagree mean two names were
        # exchanged in the header (the data read would be wrong)
        require_consistent_polar(
            value("real"), value("imag"), value("modulus") if "modulus" in cols else None,
            (np.degrees(value("phase")) if cols["phase"].radians else value("phase"))
            if "phase" in cols else None, path=path, first_line=first_line,
            names=[f"column {cols[q].index + 1} ({label})" if q in cols else ""
                   for q, label in (("real", "Z'"), ("imag", "Z''"), ("modulus", "|Z|"),
                                    ("phase", "phase"))])
    parts = split_sweeps(f) if split else [slice(0, f.size)]
    return [(f[s], z[s]) for s in parts]


def _sniff(path: Path, head: bytes) -> float:
    lines = [line for line in first_lines(head_text(head), MAX_PREAMBLE_LINES + 30)
             if line.strip()]
    if len(head) == 65536 and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    if len(lines) < 2:
        return 0.0
    try:
        layout = _layout(lines, path)
    except ParseError:
        return 0.0
    delim = layout.delimiter
    data = lines[layout.first_data:][:30]
    rows = [line.split(delim) if delim else line.split() for line in data]

    def numeric(row: list[str]) -> bool:
        return _is_numeric_row(row) and len(row) >= 3

    # The first rows must be numbers (checked first: most files fail there); a bad row
    # further down is the reader's to report.
    if not rows or not all(numeric(r) for r in rows[:2]):
        return 0.0
    if sum(numeric(r) for r in rows) < 0.8 * len(rows):
        return 0.0
    if layout.header is not None:
        try:
            recognise_columns(layout.header, path=path, line=1, check_units=False)
        except ParseError:
            return 0.0
        # Vendor formats are text before a table: with a preamble, claim it below every
        # vendor sniffer (their formats carry more than the table), so that a free-text
        # preamble over a named table still reads without --format.
        return PREAMBLE_SCORE if layout.preamble else 0.5
    return 0.3


IMPORTERS = (
    Importer(
        name="generic-csv",
        description="Delimited text (CSV/TSV/semicolon/whitespace, decimal point or comma): "
                    "f, Z', Z'' (or -Z'', |Z|/phase) by header name, or f, Z', Z'' without one",
        suffixes=(".csv", ".tsv", ".txt", ".dat"),
        sniff=_sniff,
        read=read_generic_csv,
        read_source=read_generic_csv,
        max_score=0.5,   # _sniff's best (detection skips it when a vendor format scored more)
    ),
)
