"""Turn named EC-Lab columns (from ``.mpt`` or ``.mpr``) into canonical spectra.

Both BioLogic importers end with the same table: one array per EC-Lab column, named as EC-Lab
names it (``freq/Hz``, ``Re(Z)/Ohm``, ``-Im(Z)/Ohm``, ``<I>/mA``, ...). This module finds the
columns it needs by name, drops the non-impedance rows (frequency 0), splits loops into sweeps
and converts units to the canonical ones (DESIGN.md section 4).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline.conventions import (
    MAX_FREQUENCY_HZ,
    celsius_to_kelvin,
    encode_metadata,
    make_spectrum,
)
from eis_pipeline.exceptions import ParseError
from eis_pipeline.io.importers._common import (
    optional_column,
    require_consistent_polar,
    sweep_starts,
)

#: EC-Lab names of the columns this package reads, by role, in order of preference.
FREQUENCY_NAMES = ("freq/Hz",)
REAL_NAMES = ("Re(Z)/Ohm",)
#: EC-Lab writes minus the imaginary part; ``Im(Z)/Ohm`` is accepted with the physical sign.
MINUS_IMAG_NAMES = ("-Im(Z)/Ohm",)
IMAG_NAMES = ("Im(Z)/Ohm",)
TIME_NAMES = ("time/s",)
POTENTIAL_NAMES = ("<Ewe>/V", "Ewe/V")
CURRENT_MA_NAMES = ("<I>/mA", "I/mA")
CYCLE_NAMES = ("cycle number",)
#: Temperature columns: EC-Lab writes "Temperature/°C" or "T/°C" (°C), some setups "/K".
_TEMPERATURE = re.compile(r"^(?:t|temp|temperature)\s*/\s*(?P<unit>[°º]?\s*c|k)$", re.IGNORECASE)


def find_temperature(names: Sequence[str]) -> tuple[int, str] | None:
    """Index and unit (``'C'`` or ``'K'``) of a temperature column, if any."""
    for i, name in enumerate(names):
        match = _TEMPERATURE.match(name.strip())
        if match:
            unit = match["unit"].replace("°", "").replace("º", "").strip().upper()
            return i, unit
    return None


def missing_impedance_columns(names: Sequence[str]) -> list[str]:
    """EC-Lab names of the impedance columns absent from ``names`` (empty when complete)."""
    missing = []
    if optional_column(names, FREQUENCY_NAMES) is None:
        missing.append(FREQUENCY_NAMES[0])
    if optional_column(names, REAL_NAMES) is None:
        missing.append(REAL_NAMES[0])
    if optional_column(names, MINUS_IMAG_NAMES + IMAG_NAMES) is None:
        missing.append(MINUS_IMAG_NAMES[0])
    return missing


def looks_like_impedance(names: Sequence[str]) -> bool:
    """True when any impedance column is present (a damaged impedance export, at worst)."""
    return len(missing_impedance_columns(names)) < 3


def loop_starts_of(frequency: np.ndarray, cycle: np.ndarray | None,
                   extra_starts: np.ndarray | None = None) -> np.ndarray:
    """Indices where a new EC-Lab loop begins (always including 0).

    A loop starts where the frequency sweep restarts (:func:`._common.sweep_starts`), where
    the cycle number changes, and at any ``extra_starts`` (e.g. the loop index of an
    ``.mpr``). Cycle numbers alone are not enough: some exports keep ``cycle number`` at 0
    across loops.

    Examples
    --------
    >>> loop_starts_of(np.array([100.0, 10, 1, 100, 10, 1]), None)
    array([0, 3])
    >>> loop_starts_of(np.array([100.0, 10, 1, 0.5]), np.array([0, 0, 1, 1]))
    array([0, 2])
    """
    n = frequency.size
    known = np.zeros(n, dtype=bool)
    if cycle is not None and n:
        known[1:] |= np.diff(cycle) != 0
    if extra_starts is not None:
        inside = extra_starts[(extra_starts > 0) & (extra_starts < n)]
        known[inside.astype(np.intp)] = True
    return sweep_starts(frequency, breaks=known)


def _require_finite(columns: Mapping[str, np.ndarray | None], *, path: Path,
                    first_line: int | None) -> None:
    """Raise :class:`ParseError` at the first row where a column this reader keeps is NaN or
    infinite: a damaged value, never something to store (or to turn into a cycle number)."""
    for name, values in columns.items():
        if values is None:
            continue
        finite = np.isfinite(values)
        if np.count_nonzero(finite) != finite.size:   # .all(), at less call overhead
            row = int(np.flatnonzero(~finite)[0])
            what = f"{name} is {float(values[row])!r}, not a finite number (damaged value)"
            if first_line is None:
                raise ParseError(f"{what} in data record {row}", path)
            raise ParseError(what, path, first_line + row)


def build_spectra(
    columns: Mapping[str, np.ndarray],
    *,
    path: Path,
    instrument: str,
    metadata: Mapping[str, Any],
    loop_starts: np.ndarray | None = None,
    first_line: int | None = None,
) -> list[xr.Dataset]:
    """One canonical spectrum per sweep from EC-Lab columns.

    Parameters
    ----------
    columns : mapping of str to ndarray
        EC-Lab column name -> values (all the same length); must contain the impedance
        columns (callers check with :func:`missing_impedance_columns` to word their errors).
    path : Path
        The source file (only for attributes).
    instrument : str
        Instrument string for every spectrum.
    metadata : mapping
        The parsed header, stored as ``original_metadata``.
    loop_starts : ndarray, optional
        Row indices where EC-Lab's loop index says a new loop starts (``.mpr`` files).
    first_line : int, optional
        1-based file line of the first row (``.mpt``), for error messages; ``.mpr`` errors
        name the record index instead.

    Raises
    ------
    ParseError
        At a row whose frequency is negative, not finite or above 1e12 Hz, or zero while it
        carries an impedance (a damaged row: EC-Lab's DC records have Z = 0).

    Returns
    -------
    list of xarray.Dataset
        Empty when the table has no row with a non-zero frequency.
    """
    names = list(columns)

    def column(candidates: Sequence[str]) -> np.ndarray | None:
        i = optional_column(names, candidates)
        return None if i is None else np.asarray(columns[names[i]], dtype=np.float64)

    frequency = column(FREQUENCY_NAMES)
    real = column(REAL_NAMES)
    minus_imag = column(MINUS_IMAG_NAMES)
    imag = -minus_imag if minus_imag is not None else column(IMAG_NAMES)
    if frequency is None or real is None or imag is None:
        raise ValueError(f"impedance columns missing from {names}")  # callers check first
    extras: dict[str, np.ndarray | None] = {
        "time": column(TIME_NAMES),
        "potential": column(POTENTIAL_NAMES),
    }
    current_ma = column(CURRENT_MA_NAMES)
    extras["current"] = None if current_ma is None else current_ma * 1e-3  # EC-Lab I is mA
    temperature = find_temperature(names)
    if temperature is not None:
        values = np.asarray(columns[names[temperature[0]]], dtype=np.float64)
        extras["temperature"] = celsius_to_kelvin(values) if temperature[1] == "C" else values
    cycle = column(CYCLE_NAMES)
    _require_finite({"freq/Hz": frequency, "Re(Z)/Ohm": real, "Im(Z)/Ohm": imag,
                     "cycle number": cycle, **extras}, path=path, first_line=first_line)
    require_consistent_polar(real, imag, column(("|Z|/Ohm",)), column(("Phase(Z)/deg",)),
                             path=path, first_line=first_line,
                             names=("Re(Z)/Ohm", "Im(Z)/Ohm", "|Z|/Ohm", "Phase(Z)/deg"))

    # Rows at frequency 0 with Z = 0 are the DC/OCV records EC-Lab interleaves with the sweep
    # (GEIS, and techniques that record between loops): skipped, and counted in the metadata.
    # Any other row that is not a physical frequency is damage, never dropped in silence.
    dc = (frequency == 0) & (real == 0) & (imag == 0)
    keep = (frequency > 0) & (frequency < MAX_FREQUENCY_HZ)
    fine = keep | dc
    if np.count_nonzero(fine) != fine.size:
        row = int(np.flatnonzero(~fine)[0])
        what = (f"frequency is 0 Hz but the row holds an impedance ({real[row]!r} ohm real)"
                if frequency[row] == 0 else f"frequency is {float(frequency[row])!r} Hz")
        hint = f"; expected a positive frequency below {MAX_FREQUENCY_HZ:g} Hz (damaged row?)"
        if first_line is None:
            raise ParseError(f"{what} in data record {row}{hint}", path)
        raise ParseError(what + hint, path, first_line + row)
    metadata = {**metadata, "dc_rows_skipped": int(np.count_nonzero(dc))}
    if loop_starts is not None:
        # Loop indices count rows before the zero-frequency ones are dropped.
        kept_before = np.concatenate([[0], np.cumsum(keep)])
        loop_starts = kept_before[np.clip(loop_starts, 0, frequency.size)]
    frequency, impedance = frequency[keep], (real + 1j * imag)[keep]
    extras = {k: (None if v is None else v[keep]) for k, v in extras.items()}
    cycle = None if cycle is None else cycle[keep]

    starts = loop_starts_of(frequency, cycle, loop_starts)
    bounds = np.append(starts, frequency.size)
    header = encode_metadata(metadata)   # once: every loop of the file shares the header
    spectra = []
    for sweep, (lo, hi) in enumerate(pairwise(bounds.tolist())):
        attrs: dict[str, Any] = {}
        if cycle is not None:
            attrs["cycle_number"] = int(cycle[lo])
        spectra.append(make_spectrum(
            frequency[lo:hi], impedance[lo:hi], sweep=sweep, instrument=instrument,
            metadata=header, attrs=attrs,
            **{k: (None if v is None else v[lo:hi]) for k, v in extras.items()},
        ))
    return spectra
