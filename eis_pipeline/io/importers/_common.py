"""Helpers shared by the importers (not an importer: the leading underscore keeps the registry
from loading it as one).

They sit on top of :mod:`eis_pipeline.io.text` and hold what several formats need: decoding a
sniff head, choosing the decimal separator, locating named columns with a useful error,
checking the impedance columns, and splitting a table into sweeps where the frequency restarts
(one rule for every importer, :func:`sweep_starts`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import numpy as np

from eis_pipeline.conventions import MAX_FREQUENCY_HZ
from eis_pipeline.exceptions import ParseError
from eis_pipeline.io.text import decode_cached, looks_decimal_comma

_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$")


def head_text(head: bytes) -> str:
    """Decode the first bytes of a file for sniffing; never raises.

    Cached (:func:`~eis_pipeline.io.text.decode_cached`): during detection every text
    sniffer asks for the same head, and for a small file the importer for the same text.
    """
    try:
        return decode_cached(head)
    except Exception:  # a sniffer must never raise
        return ""


def first_lines(text: str, n: int) -> list[str]:
    """The first ``n`` lines of ``text`` (any line ending): ``text.splitlines()[:n]``.

    Only a prefix long enough to hold ``n + 1`` lines is split (sniffers look at a few dozen
    lines of a 64 KiB head), and the split is kept for the next call: during detection every
    text sniffer asks for lines of the same decoded head.

    Examples
    --------
    >>> first_lines("a\\r\\nb\\rc\\nd", 3)
    ['a', 'b', 'c']
    """
    return _split_head(text).first(n)


class _HeadLines:
    """The lines of a growing prefix of one text, split again only when more are needed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.size = 0
        self.lines: list[str] = []

    def first(self, n: int) -> list[str]:
        # With n + 1 lines in the prefix, the n-th ended before the cut: it is complete.
        while len(self.lines) <= n and self.size < len(self.text):
            self.size = max(4 * self.size, 4096)
            self.lines = self.text[:self.size].splitlines()
        return self.lines[:n]


@lru_cache(maxsize=4)
def _split_head(text: str) -> _HeadLines:
    return _HeadLines(text)


def is_number(token: str) -> bool:
    """True when ``token`` is a plain number (decimal point or comma, optional exponent)."""
    return bool(_NUMBER.match(token.strip()))


#: Most digits a point, line or column count may have: a header "count" longer than this is
#: damage, and refusing it early keeps ``int()`` away from Python's 4,300-digit limit.
MAX_COUNT_DIGITS = 9


def parse_count(text: str) -> int | None:
    """A header count (points, lines, columns) as an int, or None when ``text`` is not one.

    Only ASCII digits are accepted (``str.isdecimal`` would also take Arabic-Indic or
    full-width digits), at most :data:`MAX_COUNT_DIGITS` of them.

    Examples
    --------
    >>> parse_count(" 29 "), parse_count("2.5"), parse_count("٣"), parse_count("9" * 4300)
    (29, None, None, None)
    """
    token = text.strip()
    if not (0 < len(token) <= MAX_COUNT_DIGITS and token.isascii() and token.isdigit()):
        return None
    return int(token)


def decimal_of(rows: Sequence[str], delimiter: str | None) -> str:
    """``','`` when a number in the first rows is written with a decimal comma, else ``'.'``.

    Several rows are looked at because a row of integers says nothing. Only meaningful for
    tables whose delimiter is not a comma.
    """
    for row in rows[:5]:
        if "," not in row:   # no comma, no decimal comma: the fields need no test
            continue
        fields = row.split(delimiter) if delimiter is not None else row.split()
        if any(looks_decimal_comma(f) for f in fields):
            return ","
    return "."


def number(text: str) -> float | str:
    """Header value as a float when it is a number (either decimal mark), else stripped text."""
    token = text.strip()
    if _NUMBER.match(token):   # is_number without a second strip (header loops call this)
        return float(token.replace(",", "."))
    return token


@lru_cache(maxsize=4096)
def normalise_name(name: str) -> str:
    """Column name for matching: case-folded, without any whitespace (software versions differ
    in both, e.g. EC-Lab's ``freq/Hz`` and ``Freq / Hz``).

    Examples
    --------
    >>> normalise_name(" Freq / Hz ")
    'freq/hz'
    """
    # Cached: column lookups normalise the same few dozen names many times per file.
    return "".join(name.split()).casefold()


def find_column(names: Sequence[str], candidates: Iterable[str], *, path: Path, line: int,
                what: str, pattern: bool = False) -> int:
    """Index of the first column whose name matches one of ``candidates``.

    Parameters
    ----------
    names : sequence of str
        Column names as read from the file.
    candidates : iterable of str
        Accepted names (compared case-insensitively after stripping), or regular expressions
        when ``pattern`` is True.
    path, line : Path, int
        Where the column-name line is, for the error message.
    what : str
        What the column holds, for the error message (e.g. ``"frequency"``).

    Raises
    ------
    ParseError
        Naming the columns that were found, when none matches.
    """
    stripped = [n.strip() for n in names]
    for cand in candidates:
        for i, name in enumerate(stripped):
            if (re.fullmatch(cand, name, flags=re.IGNORECASE) if pattern
                    else normalise_name(name) == normalise_name(cand)):
                return i
    raise ParseError(
        f"no {what} column among {stripped}; is a column missing or renamed? "
        "Re-export the file with the impedance columns included.", path, line)


def optional_column(names: Sequence[str], candidates: Iterable[str]) -> int | None:
    """Index of the first column named like the first of ``candidates`` present, or None.

    Names are compared with :func:`normalise_name`; the first column of a repeated name wins.

    Examples
    --------
    >>> optional_column(["freq/Hz", "Re(Z)/Ohm"], ("re(z)/ohm",))
    1
    """
    index = _name_index(tuple(names))
    for cand in candidates:
        i = index.get(normalise_name(cand))
        if i is not None:
            return i
    return None


@lru_cache(maxsize=64)
def _name_index(names: tuple[str, ...]) -> dict[str, int]:
    """Normalised name -> index of its first column. Cached: an importer looks up a dozen
    names in the same columns (never mutate the dict returned)."""
    return {normalise_name(n): i for i, n in reversed(list(enumerate(names)))}


def contiguous_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of True in a 1-D boolean mask, vectorised.

    Examples
    --------
    >>> contiguous_runs(np.array([False, True, True, False, True]))
    [(1, 3), (4, 5)]
    """
    mask = np.asarray(mask, dtype=bool)
    if np.count_nonzero(mask) == mask.size:   # the common case (no DC rows): one run
        return [(0, mask.size)] if mask.size else []
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def require_rows(table: np.ndarray, *, path: Path, line: int, what: str) -> None:
    """Raise :class:`ParseError` when a table that must hold impedance data is empty."""
    if table.shape[0] == 0:
        raise ParseError(f"the {what} has no data rows (empty or aborted before the first "
                         "point)", path, line)


def require_finite(table: np.ndarray, columns: Sequence[int], *, path: Path, first_line: int,
                   names: Sequence[str] | None = None) -> None:
    """Raise :class:`ParseError` at the first row whose frequency or impedance is not finite.

    ``inf`` comes from an overflowing exponent (a damaged digit) and ``nan`` from a ``NaN``
    field; neither is a measurement, and the contract check later could not say which line.
    """
    block = table[:, list(columns)]
    finite = np.isfinite(block)
    # count_nonzero == size: .all() at a fifth of numpy's call overhead, which is what
    # these checks cost on the small tables of a typical export.
    if np.count_nonzero(finite) != finite.size:
        row, col = (int(v[0]) for v in np.nonzero(~finite))
        label = names[columns[col]] if names is not None else f"column {columns[col] + 1}"
        raise ParseError(f"{label} is {float(block[row, col])!r}, not a finite number (damaged or "
                         "missing value)", path, first_line + row)


#: agreement required of a file's own |Z| and phase columns with its Z' and Z'': instruments
#: print 7-8 significant digits (measured: 1e-6 relative, 2e-5 degrees on the real exports)
POLAR_RTOL = 1e-3
POLAR_DEG = 0.1


def require_consistent_polar(real: np.ndarray, imag: np.ndarray, modulus: np.ndarray | None,
                             phase_deg: np.ndarray | None, *, path: Path,
                             first_line: int | None, names: Sequence[str],
                             rtol: float = POLAR_RTOL, deg: float = POLAR_DEG) -> None:
    """Raise :class:`ParseError` where a file's |Z| or phase column contradicts its Z' and Z''
    (``names``: the four columns' names in the file, for the message; ``rtol``, ``deg``: the
    agreement required, looser for a format that prints fewer digits).

    A header whose names were swapped (Z' and Z'', or Z' and |Z|) reads as plausible but
    wrong data; the redundant polar columns give it away: |Z| = sqrt(Z'^2 + Z''^2) and
    phase = atan2(Z'', Z') hold on every row of a real export. A column of zeros is an
    unrecorded one (converters write them) and is not checked.
    """
    checks = []
    if modulus is not None and np.count_nonzero(modulus):
        hyp = np.hypot(real, imag)
        checks.append((names[2], modulus, hyp,
                       np.abs(modulus - hyp) > rtol * np.maximum(np.abs(modulus), hyp)))
    if phase_deg is not None and np.count_nonzero(phase_deg):
        angle = np.degrees(np.arctan2(imag, real))

        def off(sign: float) -> np.ndarray:
            return np.abs((phase_deg - sign * angle + 180.0) % 360.0 - 180.0)
        # a vendor may write the phase of Z or of -Z'' (its sign): the file's own convention
        # is the one most rows follow (ties to +1). When every row follows +1, -1 cannot
        # have more: its offsets are not computed.
        offsets = {1.0: off(1.0)}
        if np.count_nonzero(offsets[1.0] < deg) != offsets[1.0].size:
            offsets[-1.0] = off(-1.0)
        sign = max(offsets, key=lambda k: int(np.count_nonzero(offsets[k] < deg)))
        checks.append((names[3], phase_deg, sign * angle, offsets[sign] > deg))
    for name, given, implied, bad in checks:
        if not np.count_nonzero(bad):
            continue
        row = int(np.flatnonzero(bad)[0])
        what = (f"{name} is {float(given[row])!r} but {names[0]} and {names[1]} give "
                f"{float(implied[row]):.7g}: the column names do not match the data (two "
                "names swapped in the header?)")
        if first_line is None:
            raise ParseError(f"{what} in data record {row}", path)
        raise ParseError(what, path, first_line + row)


def require_positive(frequency: np.ndarray, *, path: Path, first_line: int,
                     step: int = 1) -> None:
    """Raise :class:`ParseError` at the first row whose frequency is not a physical one:
    finite and in (0, :data:`~eis_pipeline.conventions.MAX_FREQUENCY_HZ`) Hz.

    ``step`` is the number of file lines per point (1 for a table row; more when each value
    stands on its own line, as in Autolab ``.dfr``).
    """
    good = np.isfinite(frequency) & (frequency > 0) & (frequency < MAX_FREQUENCY_HZ)
    if np.count_nonzero(good) != good.size:
        row = int(np.flatnonzero(~good)[0])
        raise ParseError(f"frequency is {float(frequency[row])!r} Hz; expected a positive "
                         f"frequency below {MAX_FREQUENCY_HZ:g} Hz (damaged row?)", path,
                         first_line + step * row)


def require_monotone(frequency: np.ndarray, *, path: Path, first_line: int,
                     step: int = 1) -> None:
    """Raise :class:`ParseError` where a single sweep's frequencies stop being monotone.

    For formats that hold one sweep per table: a frequency that steps against the sweep's
    direction there means a deleted, duplicated or shifted line (every later value would sit
    in the wrong field), not a measurement. ``step`` as in :func:`require_positive`.
    """
    if frequency.size < 3:
        return
    steps = frequency[1:] - frequency[:-1]   # np.diff, without its wrapper
    falling, rising = steps < 0, steps > 0
    down, up = np.count_nonzero(falling), np.count_nonzero(rising)
    direction = -1.0 if down >= up else 1.0
    # a step breaks the sweep unless it goes the sweep's way (a zero or NaN step breaks it)
    along = falling if direction < 0 else rising
    if (down if direction < 0 else up) != steps.size:
        k = int(np.flatnonzero(~along)[0]) + 1
        order = "descending" if direction < 0 else "ascending"
        raise ParseError(f"frequency {float(frequency[k])!r} Hz after {float(frequency[k - 1])!r} "
                         f"Hz breaks the {order} sweep (a deleted, duplicated or shifted line?)",
                         path, first_line + step * k)


def require_end(lines: Sequence[str], stop: int, *, path: Path, n: int, what: str) -> None:
    """Raise :class:`ParseError` at the first non-blank line from ``lines[stop]`` on.

    For tables whose header announces ``n`` rows: a row more is a miscount, not data to drop.
    """
    extra = next((i for i in range(stop, len(lines)) if lines[i].strip()), None)
    if extra is not None:
        raise ParseError(f"unexpected content after the {n} rows {what} announces: "
                         f"{lines[extra].strip()[:40]!r}; is the point count right (an added or "
                         "duplicated row)?", path, extra + 1)


def check_impedance_columns(table: np.ndarray, columns: Sequence[int], *, path: Path,
                            first_line: int, names: Sequence[str] | None = None,
                            dc_rows: bool = False,
                            kept: Sequence[int | None] = ()) -> None:
    """The checks every impedance table passes: finite frequency and impedance columns
    (``columns[0]`` the frequency), and positive frequencies unless the format interleaves
    DC rows at frequency 0 (``dc_rows``), which the caller then drops. ``kept``: the other
    columns the spectrum keeps (time, potential, current; None for one the file lacks), which
    must be finite too, so that the error names their line (not a point number later)."""
    extra = [c for c in kept if c is not None]
    require_finite(table, [*columns, *extra], path=path, first_line=first_line, names=names)
    # A row repeated (a duplicated line) repeats its frequency; the spectrum contract refuses
    # repeated frequencies later, but could only name the point. Sweeps in one table never
    # restart at the frequency the previous one ended at, so only consecutive rows count.
    f = table[:, columns[0]]
    repeated = (f[1:] == f[:-1]) & (f[1:] > 0)
    if np.count_nonzero(repeated):
        row = int(np.flatnonzero(repeated)[0]) + 1
        raise ParseError(f"frequency {float(f[row])!r} Hz repeats the row above (a duplicated "
                         "row? each frequency is measured once per sweep)", path,
                         first_line + row)
    if not dc_rows:
        require_positive(table[:, columns[0]], path=path, first_line=first_line)
    require_frequency_column(table, columns, path=path, first_line=first_line, names=names)


#: A frequency column is sweeps of log-spaced points: the largest and smallest log step of a
#: sweep lie within this factor of its median step (measured on every text export in
#: ../shared/formats: at most 1.82, an EC-Lab sweep with a denser decade).
REGULAR_STEPS = 1.5


def step_irregularity(column: np.ndarray) -> float:
    """How far ``column`` is from frequency sweeps: the largest factor by which a log step of
    one of its sweeps (split where the column turns, :func:`sweep_bounds`) differs from the
    sweep's median step; 1.0 for perfectly log-spaced sweeps, inf for a column that is not
    positive, repeats a value or turns so often that no sweep has 5 points.

    Examples
    --------
    >>> round(step_irregularity(np.logspace(5, 0, 26)), 9)
    1.0
    >>> step_irregularity(np.array([100.0, 101, 103, 110, 150, 300, 700])) > 10
    True
    """
    x = np.asarray(column, dtype=float)
    if x.size < 5 or np.count_nonzero(x > 0) != x.size:
        return float("inf")
    # every value is positive: the sweeps are sweep_bounds(x), with the run search skipped
    edges = [*sweep_starts(x).tolist(), x.size]
    bounds = [(a, b) for a, b in pairwise(edges) if b - a >= 5]
    if 5 * len(bounds) > x.size or not bounds:
        return float("inf")
    logs = np.log(x)
    steps = np.abs(logs[1:] - logs[:-1])   # a sweep's steps are a slice of these
    worst = 1.0
    for a, b in bounds:   # one iteration per sweep
        d = steps[a:b - 1].copy()
        d.sort()   # np.sort(...), in place on the copy
        low, high = float(d[0]), float(d[-1])
        if not math.isfinite(high):   # NaN or inf steps: numpy's own rules, as before
            low, high, med = float(d.min()), float(d.max()), float(np.median(d))
        else:   # the median as np.median computes it (the mean of the two middle steps)
            half = d.size // 2
            med = float(d[half]) if d.size % 2 else float((d[half - 1] + d[half]) / 2.0)
        if low == 0.0:
            return float("inf")
        worst = max(worst, high / med, med / low)
    return worst


def require_frequency_column(table: np.ndarray, columns: Sequence[int], *, path: Path,
                             first_line: int, names: Sequence[str] | None = None) -> None:
    """Raise :class:`ParseError` when the frequency column (``columns[0]``) is clearly not
    one and an impedance column (``columns[1:3]``) clearly is: a header whose frequency and
    Z' (or -Z'') names were exchanged. "Clearly": the impedance column is log-spaced sweeps
    (steps within :data:`REGULAR_STEPS` of their median) and the frequency column's steps
    are more than twice as irregular. Real frequency columns are at most 1.82 irregular, so
    no real export can fail this; a swapped one fails unless its Z' happens to be
    log-spaced too. Rows at frequency <= 0 (DC rows of formats that have them) are left out.
    """
    if table.shape[0] < 5 or len(columns) < 3:
        return
    f = table[:, columns[0]]
    rows = f > 0
    own = step_irregularity(f[rows])
    if own <= 2.0:
        return
    for c in columns[1:3]:
        other = step_irregularity(table[rows, c])
        if other <= REGULAR_STEPS and own > 2.0 * other:
            def label(j: int) -> str:
                return repr(names[j]) if names is not None else f"column {j + 1}"
            raise ParseError(
                f"{label(columns[0])} does not look like frequencies (log steps vary "
                f"{own:.3g}x within a sweep) but {label(c)} does (log-spaced, "
                f"{float(table[rows, c].max()):.4g} ... {float(table[rows, c].min()):.4g}): "
                "are the column names exchanged in the header? Fix the header line (or "
                "re-export the file)", path, first_line)


def announced_rows(lines: Sequence[str], start: int, n: int, *, path: Path, what: str,
                   unit: str = "points") -> Sequence[str]:
    """``lines[start:start + n]``, the ``n`` rows a header announced; all must be non-blank.

    Raises
    ------
    ParseError
        At the last row present when fewer follow (truncated file), naming both counts.
    """
    rows = lines[start:start + n]
    stripped = list(map(str.strip, rows))   # C-level loop: oscillogram blocks run long
    got = stripped.index("") if "" in stripped else len(rows)
    if got < n:
        raise ParseError(f"{what} announces {n} {unit} but only {got} follow (truncated "
                         "file?)", path, start + got)
    return rows


def data_span(lines: Sequence[str], start: int, stop: int | None = None) -> tuple[int, int]:
    """``(first, stop)`` of ``lines[start:stop]`` without its leading and trailing blank lines.

    Exports end with blank lines (and some put one between titles and rows); a blank line
    *inside* the table is left in, for the parser to report with its line number.

    Examples
    --------
    >>> data_span(["title", "", "1 2", "", "3 4", "", ""], 1)
    (2, 5)
    """
    stop = len(lines) if stop is None else stop
    while start < stop and not lines[start].strip():
        start += 1
    while stop > start and not lines[stop - 1].strip():
        stop -= 1
    return start, stop


def split_pair(line: str, separator: str) -> tuple[str, str] | None:
    """``(key, value)``, both stripped, of a ``key<separator>value`` header line, else None.

    The first separator splits, so values may contain it (times, URLs); a line without a key
    (blank before the separator) is not a pair.

    Examples
    --------
    >>> split_pair("  Date: 10-12-2018 12:00 ", ":")
    ('Date', '10-12-2018 12:00')
    >>> split_pair("no pair here", "=") is None
    True
    """
    key, sep, value = line.partition(separator)
    if not sep:
        return None
    key = key.strip()
    return (key, value.strip()) if key else None


def sweep_starts(frequency: np.ndarray, *, breaks: np.ndarray | None = None) -> np.ndarray:
    """Indices where a new sweep begins in a column of positive frequencies (always 0).

    A new sweep starts where the frequency steps against the column's dominant direction
    (e.g. back up to 10 kHz after a descending sweep reached 1 Hz): exports that concatenate
    sweeps (EC-Lab loops, temperature series, multi-spectrum CSV) often have no other
    separator. The dominant direction is the sign of (number of rising steps - number of
    falling steps); with no dominant direction (a tie, or fewer than two distinct points)
    nothing is cut. Repeated frequencies (zero steps) never cut.

    Parameters
    ----------
    frequency : ndarray
        1-D, positive frequencies in file order (DC rows already removed).
    breaks : ndarray of bool, optional
        Same length: True where the caller knows a sweep starts anyway (e.g. the cycle number
        changes).

    Returns
    -------
    ndarray of intp
        Sorted start indices; empty for an empty column.

    Examples
    --------
    >>> sweep_starts(np.array([100.0, 10, 1, 100, 10, 1]))
    array([0, 3])
    >>> sweep_starts(np.array([1.0, 10, 100, 1, 10]))
    array([0, 3])
    """
    n = frequency.size
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    step = frequency[1:] - frequency[:-1]   # np.diff, without its wrapper's call cost
    rising, falling = step > 0, step < 0   # NaN steps neither, as their sign matches nothing
    up, down = np.count_nonzero(rising), np.count_nonzero(falling)
    against = falling if up > down else rising if down > up else None
    if breaks is None:   # the common case, with fewer array passes
        if against is None:
            return np.zeros(1, dtype=np.intp)
        return np.concatenate((np.zeros(1, dtype=np.intp), np.flatnonzero(against) + 1))
    cut = np.zeros(n, dtype=bool)
    cut[0] = True
    if against is not None:
        cut[1:] = against
    cut |= breaks
    return np.flatnonzero(cut)


def sweep_bounds(frequency: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each sweep in a column of frequencies, in file order.

    Rows with a frequency <= 0 are DC points and belong to no sweep. Each run of impedance
    rows is split by :func:`sweep_starts`, on its own: a DC block between two sweeps already
    separates them.

    Examples
    --------
    >>> sweep_bounds(np.array([0.0, 100.0, 10.0, 1.0, 100.0, 10.0, 0.0, 5.0]))
    [(1, 4), (4, 6), (7, 8)]
    """
    bounds: list[tuple[int, int]] = []
    for a, b in contiguous_runs(frequency > 0):  # one iteration per run, not per point
        edges = [*(sweep_starts(frequency[a:b]) + a).tolist(), b]
        bounds.extend(pairwise(edges))
    return bounds
