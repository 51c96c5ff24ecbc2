"""Long-form tables of spectra: :func:`read_table` (CSV, TSV, Excel or a pandas DataFrame).

Two shapes are read, told apart by the frequency column's cells:

- **one row per point**, with optional label columns (``sample``, ``temperature``...): the
  rows of each label combination, in order of appearance, form one spectrum (and a restart
  of the frequency sweep within one starts another, as in :mod:`generic_csv`);
- **one row per spectrum**, whose frequency and impedance cells hold lists (Python/JSON lists
  ``[1e6, 1e5, ...]``, or numbers separated by ``;`` or spaces).

Columns are recognised by meaning as in :mod:`eis_pipeline.io.importers.generic_csv`
(``f``, ``Freq [kHz]``, ``Z'``, ``-Im(Z)/Ohm``, ``|Z| [kOhm]``, ``Phase (deg)``...). The
temperature column is one named ``temperature``, ``T`` or ``temp`` with a unit (``[°C]``,
``(K)``, ``_celsius``, ``_K``); without a unit it is read as °C.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from eis_pipeline.conventions import ZERO_CELSIUS_K, make_spectrum
from eis_pipeline.exceptions import ParseError
from eis_pipeline.io.importers.generic_csv import Column, recognise_columns, table_to_spectra

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["read_table"]

_TEMPERATURE = re.compile(r"^(t|temp|temperature)[\s_]*(?:[(\[/]\s*(°c|c|k)\s*[)\]]?|_?(celsius|"
                          r"kelvin|k|c))?$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[;,\s]+")


def _frame(data: Any, sheet: str | int | None) -> tuple[pd.DataFrame, Path]:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data, Path("<DataFrame>")
    path = Path(data)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
        return pd.read_excel(path, sheet_name=sheet or 0), path
    sep = "\t" if suffix == ".tsv" else None
    return pd.read_csv(path, sep=sep, engine="python"), path


def _cells(value: Any, *, path: Path, row: int, column: str) -> np.ndarray:
    """A list-valued cell as a float array."""
    if isinstance(value, list | tuple | np.ndarray):
        return np.asarray(value, dtype=np.float64)
    text = str(value).strip().strip("[]()")
    try:
        return np.array([float(t) for t in _SEPARATORS.split(text) if t], dtype=np.float64)
    except ValueError:
        raise ParseError(f"column {column!r}: cell {str(value)[:40]!r} is not a list of "
                         "numbers", path, row) from None


def _temperature_column(names: Sequence[str]) -> tuple[int, bool] | None:
    """(index, in kelvin) of the temperature column, or None."""
    for i, name in enumerate(names):
        match = _TEMPERATURE.match(str(name).strip())
        if match:
            unit = (match.group(2) or match.group(3) or "c").lower()
            return i, unit in ("k", "kelvin")
    return None


def read_table(data: str | Path | pd.DataFrame, *, labels: Sequence[str] | None = None,
               sheet: str | int | None = None) -> list[xr.Dataset]:
    """Spectra from a long-form table; see the module docstring.

    Parameters
    ----------
    data : path or pandas.DataFrame
        ``.csv``/``.tsv``/``.txt`` (delimiter sniffed), ``.xlsx``/``.xls``/``.ods`` (needs
        pandas' Excel engine, e.g. openpyxl), or a DataFrame.
    labels : sequence of str, optional
        Columns whose values label a spectrum (default: every column that is neither a
        recognised impedance column nor the temperature).
    sheet : str or int, optional
        Excel sheet (default: the first).

    Returns
    -------
    list of xarray.Dataset
        One canonical spectrum per spectrum of the table; the labels go to the attributes
        (``sample`` etc.) and the temperature, in K, to the ``temperature`` variable.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"sample": ["a", "a", "b", "b"], "T [°C]": [25, 25, 40, 40],
    ...                    "f": [1e3, 1.0] * 2, "Z'": [10.0, 20.0] * 2, "Z''": [-1.0, -5.0] * 2})
    >>> [(s.attrs["sample"], float(s.temperature[0])) for s in read_table(df)]
    [('a', 298.15), ('b', 313.15)]
    """
    frame, path = _frame(data, sheet)
    names = [str(c) for c in frame.columns]
    cols = recognise_columns(names, path=path, line=1)
    temp = _temperature_column(names)
    used = {c.index for c in cols.values()} | ({temp[0]} if temp else set())
    label_names = list(labels) if labels is not None else [
        n for i, n in enumerate(names) if i not in used]
    missing = [n for n in label_names if n not in names]
    if missing:
        raise ParseError(f"label column(s) {missing} not in the table's columns {names}", path, 1)
    first = frame.iloc[:, cols["frequency"].index]
    list_cells = first.map(lambda v: isinstance(v, list | tuple | np.ndarray) or (
        isinstance(v, str) and bool(_SEPARATORS.search(v.strip().strip("[]()"))))).to_numpy()
    spectra: list[xr.Dataset] = []
    if len(frame) and list_cells.all():
        for r in range(len(frame)):
            row = frame.iloc[r]
            values = {q: _cells(row.iloc[c.index], path=path, row=r + 2, column=names[c.index])
                      for q, c in cols.items()}
            sizes = {q: v.size for q, v in values.items()}
            if len(set(sizes.values())) != 1:
                raise ParseError(f"the list cells of one spectrum differ in length: {sizes}",
                                 path, r + 2)
            spectra += _spectra(values, cols, row, temp, label_names, path, r + 2, len(spectra))
        return spectra
    if list_cells.any():
        raise ParseError("the frequency column mixes list cells and single numbers; use one "
                         "row per point or one row per spectrum", path,
                         int(np.flatnonzero(list_cells)[0]) + 2)
    keys = frame[label_names].astype(str).agg("\x1f".join, axis=1) if label_names else None
    groups = [np.arange(len(frame))] if keys is None else [
        np.flatnonzero((keys == k).to_numpy()) for k in dict.fromkeys(keys)]
    for rows in groups:
        part = frame.iloc[rows]
        try:
            values = {q: part.iloc[:, c.index].to_numpy(dtype=np.float64) for q, c in cols.items()}
        except (TypeError, ValueError) as exc:
            raise ParseError(f"a cell of the impedance columns is not a number ({exc})", path,
                             int(rows[0]) + 2) from None
        spectra += _spectra(values, cols, part.iloc[0], temp, label_names, path,
                            int(rows[0]) + 2, len(spectra), temperatures=part)
    return spectra


def _spectra(values: dict[str, np.ndarray], cols: dict[str, Column], row: Any,
             temp: tuple[int, bool] | None, labels: Sequence[str], path: Path, line: int,
             start: int, temperatures: Any = None) -> list[xr.Dataset]:
    # The generic reader's conversion (signs, units, polar form, sweep splitting) on a
    # table holding just the impedance columns.
    n = next(iter(values.values())).size
    table = np.full((n, 1 + max(c.index for c in cols.values())), np.nan)
    for q, c in cols.items():
        table[:, c.index] = values[q]
    parts = table_to_spectra(table, cols, path=path, first_line=line, split=True)
    kelvin = None
    if temp is not None:
        source = (temperatures.iloc[:, temp[0]].to_numpy(dtype=np.float64)
                  if temperatures is not None else np.full(n, float(row.iloc[temp[0]])))
        kelvin = source if temp[1] else source + ZERO_CELSIUS_K
    attrs = {n: (row[n].item() if hasattr(row[n], "item") else row[n]) for n in labels}
    spectra, offset = [], 0
    for k, (f, z) in enumerate(parts):
        t = None if kelvin is None else kelvin[offset:offset + f.size]
        offset += f.size
        spectra.append(make_spectrum(f, z, sweep=start + k, metadata={"table_row": line, **attrs},
                                     attrs=attrs, temperature=t))
    return spectra
