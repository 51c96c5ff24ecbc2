"""Zahner Thales ``.ism`` impedance spectra (big-endian binary).

Layout, all big-endian (``n`` = number of points)::

    int48       version marker (0xFFFFFFFE, 0xFFFFFFFF)
    int48       n - 1
    float64[n]  frequency [Hz]
    float64[n]  |Z| [ohm]
    float64[n]  phase [rad] (physical sign: capacitive negative)
    float64[n]  acquisition time [s since 1980-01-01 00:00, local time]
    int16[n]    significance (0...1000)
    strings     int16 length + ASCII with swapped case: date (DDMMYY), system, potential and
                amplitude, current, temperature, time range, four comment lines
    ...         further binary settings (not read)

Overlap trimming
----------------
Thales starts a sweep at a start frequency, runs to one frequency limit, reverses and runs to
the other limit, so the range between the start frequency and the reversal frequency is
measured twice. The points before the reversal (the first pass over that range) are dropped:
the sweep kept runs from the reversal frequency (the first extreme, kept) to the final
frequency, monotonic and without duplicated frequencies, in acquisition order. The number and
frequency range of the dropped points are recorded in ``original_metadata``
(``overlap_points_dropped``, ``overlap_frequency_range_Hz``).
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import DataQualityWarning, FormatError, ParseError
from eis_pipeline.io.registry import Importer
from eis_pipeline.io.source import Source

INSTRUMENT = "Zahner"

HEADER_BYTES = 12
#: Bytes per point: four float64 arrays and one int16 array.
POINT_BYTES = 4 * 8 + 2
_EPOCH = dt.datetime(1980, 1, 1)
#: Names of the strings that follow the arrays, in file order.
STRING_FIELDS = ("date", "system", "potential_amplitude", "current", "temperature",
                 "time_range", "comment_1", "comment_2", "comment_3", "comment_4")
MAX_POINTS = 10_000_000


def _header(data: bytes) -> tuple[int, int] | None:
    """(version, number of points) when the first 12 bytes look like an ``.ism`` header."""
    if len(data) < HEADER_BYTES:
        return None
    version = int.from_bytes(data[0:6], "big", signed=False)
    # Known markers are 0xFFFFFFFE and 0xFFFFFFFF (-2, -1 as int32 in a 48-bit field).
    if version >> 4 != 0xFFFFFFF:
        return None
    n = int.from_bytes(data[6:12], "big", signed=True) + 1
    if not 0 < n <= MAX_POINTS:
        return None
    return version, n


def sniff(path: Path, head: bytes) -> float:
    """Confidence that ``head`` starts a Zahner ``.ism`` file."""
    parsed = _header(head)
    if parsed is None:
        return 0.0
    _, n = parsed
    k = min(n, (len(head) - HEADER_BYTES) // 8)
    f = np.frombuffer(head, ">f8", k, HEADER_BYTES)
    if k == 0 or not np.all(np.isfinite(f) & (f > 0) & (f < 1e9)):
        return 0.0
    return 0.95


def _string(data: bytes, pos: int, path: Path, name: str) -> tuple[str, int]:
    if pos + 2 > len(data):
        raise ParseError(f"file ends at byte {len(data)} where the {name!r} string was "
                         "expected (truncated file?)", path)
    length = int.from_bytes(data[pos:pos + 2], "big", signed=True)
    if length < 0 or pos + 2 + length > len(data):
        raise ParseError(f"the {name!r} string at byte {pos} announces {length} characters but "
                         f"{len(data) - pos - 2} bytes remain (truncated or damaged file)", path)
    # latin-1 never fails; Thales stores ASCII with upper and lower case swapped.
    return data[pos + 2:pos + 2 + length].decode("latin-1").swapcase(), pos + 2 + length


def _value(text: str, unit_pattern: str) -> float | None:
    """First number in ``text`` followed by a unit prefix + ``unit_pattern``, in SI units.

    Only the first 200 characters are searched: the pattern backtracks over digit runs, and a
    damaged string may hold 32,767 characters.
    """
    text = text[:200]
    m = re.search(r"([+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)\s*([munpkM]?)" + unit_pattern, text)
    if not m:
        return None
    prefix = {"": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "k": 1e3, "M": 1e6}
    return float(m.group(1)) * prefix[m.group(2)]


def _metadata(strings: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = dict(strings)
    date = strings.get("date", "")
    try:
        day, month, year = int(date[0:2]), int(date[2:4]), int(date[4:6])
        # Two-digit year, as Thales writes it.
        meta["date_iso"] = dt.date(year + (2000 if year < 70 else 1900), month, day).isoformat()
    except ValueError:
        pass
    pot = strings.get("potential_amplitude", "")
    cur = strings.get("current", "")
    meta["potential_V"] = _value(pot.split(",")[0], "V")
    meta["current_A"] = _value(cur.split(",")[0], "A")
    # The excitation amplitude follows the controlled quantity: potentiostatic runs append it
    # to the potential ("0.9995V, Ampl: 10mV"), galvanostatic ones to the current.
    for text in (pot, cur):
        amp = re.search(r"Ampl:\s*(.*)", text)
        if amp:
            for unit in ("V", "A"):
                value = _value(amp.group(1), unit)
                if value is not None:
                    meta[f"amplitude_{unit}"] = value
    temp = re.match(r"\s*([+-]?\d+(?:\.\d*)?)", strings.get("temperature", ""))
    meta["temperature_celsius"] = float(temp.group(1)) if temp else None
    return meta


def _start_time(seconds: float) -> str | None:
    """ISO time of ``seconds`` after 1980-01-01 (Thales' epoch), None when out of range."""
    try:
        return (_EPOCH + dt.timedelta(seconds=seconds)).isoformat()
    except OverflowError:
        return None


def _overlap_slice(f: np.ndarray) -> slice:
    """Points from the reversal frequency to the final frequency (see module docstring)."""
    i_max, i_min = int(np.argmax(f)), int(np.argmin(f))
    lo, hi = sorted((i_max, i_min))
    return slice(lo, hi + 1)


def read(path: Path | Source) -> list[xr.Dataset]:
    """Read a Zahner ``.ism`` file: one sweep, overlap points removed.

    Examples
    --------
    >>> from eis_pipeline.io.registry import get_importer
    >>> get_importer("zahner-ism").suffixes
    ('.ism',)
    """
    source = Source.of(path)
    path = source.path
    data = source.data
    parsed = _header(data)
    if parsed is None:
        raise FormatError(f"{path}: the first 12 bytes are not a Zahner .ism header "
                          "(version marker 0x0000FFFFFFFx and a point count); expected a "
                          "Thales .ism impedance file")
    version, n = parsed
    need = HEADER_BYTES + n * POINT_BYTES
    if len(data) < need:
        raise ParseError(f"the header announces {n} points ({need} bytes of data) but the file "
                         f"has {len(data)} bytes (truncated file?)", path)
    arrays = [np.frombuffer(data, ">f8", n, HEADER_BYTES + i * 8 * n).astype(np.float64)
              for i in range(4)]
    f, modulus, phase, seconds = arrays
    # A binary file has no lines: errors name the byte offset of the damaged value.
    for i, (name, values) in enumerate((("frequency", f), ("|Z|", modulus), ("phase", phase),
                                        ("time", seconds))):
        bad = np.flatnonzero(~np.isfinite(values) | ((values <= 0) if i == 0 else
                                                     (values < 0) if i == 1 else False))
        if bad.size:
            k = int(bad[0])
            offset = HEADER_BYTES + 8 * (i * n + k)
            expected = ("a positive number" if i == 0 else "a non-negative number" if i == 1
                        else "a finite number")
            raise ParseError(f"{name} of point {k} (the 8 bytes at byte offset {offset}) is "
                             f"{float(values[k])!r}, expected {expected} (damaged file? "
                             "re-export it from Thales)", path)
    pos = need
    strings: dict[str, str] = {}
    for name in STRING_FIELDS:
        strings[name], pos = _string(data, pos, path, name)
    meta = _metadata(strings)
    keep = _overlap_slice(f)
    dropped = np.r_[0:keep.start, keep.stop:n]
    meta.update({
        "version": f"0x{version:08X}",
        "points_in_file": n,
        "overlap_points_dropped": int(dropped.size),
        "overlap_frequency_range_Hz": ([float(f[dropped].min()), float(f[dropped].max())]
                                       if dropped.size else None),
        "start": _start_time(float(seconds.min())),
    })
    fk = f[keep]
    if fk.size > 1 and not (np.all(np.diff(fk) < 0) or np.all(np.diff(fk) > 0)):
        warnings.warn(f"{path}: the sweep is not monotonic in frequency even after removing "
                      "the overlap points; kept in acquisition order", DataQualityWarning,
                      stacklevel=2)
    significance = np.frombuffer(data, ">i2", n, HEADER_BYTES + 32 * n)
    meta["significance"] = significance[keep].tolist()
    impedance = modulus[keep] * np.exp(1j * phase[keep])
    return [make_spectrum(fk, impedance, instrument=INSTRUMENT, metadata=meta,
                          time=seconds[keep] - seconds.min())]


IMPORTERS = (
    Importer(name="zahner-ism", description="Zahner Thales impedance spectrum (.ism, binary)",
             suffixes=(".ism",), sniff=sniff, read=read, read_source=read,
             max_score=0.95),
)
