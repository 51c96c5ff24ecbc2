"""Spectra and fits of a results tree as files other programs read.

- ``csv``: one file per spectrum with the data, the fit and the residuals (one unit per
  column, stated in the header);
- ``zview``: one Scribner ZView/ZPlot ``.z`` file (``ZPLOT2 ASCII``) per spectrum, numbers
  written with 17 significant digits so the spectrum reads back bit-for-bit (by ZView and by
  this tool's own ``zplot-z`` importer);
- ``bdf``: one Battery Data Format-style CSV per spectrum, with BDF's column names
  (``frequency_hertz``, ``real_impedance_ohm``, ``imaginary_impedance_ohm``,
  ``test_time_second`` when the export had times).

Every format also gets ``<sample>_impedance_py.csv``: the fitted parameters of each spectrum
under impedance.py's names and units, with the circuit string and an ``initial_guess`` list
that pastes into ``CustomCircuit(circuit, initial_guess=...)``.

Files are written atomically (:func:`eis_pipeline.io.atomic.replacing`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline import __version__
from eis_pipeline.io.atomic import replacing
from eis_pipeline.report.tables import rows_csv_text

FORMATS = ("csv", "zview", "bdf")

#: ZPlot's column titles, in its order (the importer locates columns by these).
_ZPLOT_TITLES = ("Freq(Hz)", "Ampl", "Bias", "Time(Sec)", "Z'(a)", "Z''(b)", "GD", "Err",
                 "Range")


def _write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return path


def _number(values: Any) -> list[str]:
    """17 significant digits: enough for any float64 to read back exactly."""
    return [f"{v:.16E}" for v in np.asarray(values, dtype=float)]


def zview_text(frequency: Any, impedance: Any, time: Any = None, *, title: str = "") -> str:
    """A ``ZPLOT2 ASCII`` file of one sweep (frequency in Hz, impedance in ohm, physical sign:
    capacitive Z'' < 0, as ZView stores it; time in s or zeros)."""
    f = np.asarray(frequency, dtype=float)
    z = np.asarray(impedance, dtype=complex)
    t = np.zeros_like(f) if time is None else np.asarray(time, dtype=float)
    zeros = _number(np.zeros_like(f))
    head = ["ZPLOT2 ASCII", f"  Measured Data, eis-pipeline:  {__version__}"]
    if title:
        head.append(f"  Title:                      {title}")
    head += [f"  Data Points:                {f.size}", "  " + "\t".join(_ZPLOT_TITLES),
             "End Comments"]
    columns = (_number(f), zeros, zeros, _number(t), _number(z.real), _number(z.imag), zeros,
               ["0"] * f.size, ["0"] * f.size)
    rows = ["\t".join(cells) for cells in zip(*columns, strict=True)]
    return "\r\n".join(head + rows) + "\r\n"


def _csv_text(header: list[str], columns: list[Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*[_number(c) for c in columns], strict=True))
    return buffer.getvalue()


def spectrum_csv_text(spectrum: xr.Dataset) -> str:
    """Data, fit and residuals of one spectrum; ``impedance_imag_ohm`` has the physical sign."""
    z = spectrum["impedance"].values
    header = ["frequency_Hz", "impedance_real_ohm", "impedance_imag_ohm"]
    columns: list[Any] = [spectrum["frequency"].values, z.real, z.imag]
    for name in ("impedance_fit", "impedance_residual"):
        if name in spectrum:
            header += [f"{name}_real_ohm", f"{name}_imag_ohm"]
            columns += [spectrum[name].values.real, spectrum[name].values.imag]
    return _csv_text(header, columns)


def bdf_text(spectrum: xr.Dataset) -> str:
    """Battery Data Format-style columns of one spectrum (physical sign of Z'')."""
    z = spectrum["impedance"].values
    header = ["frequency_hertz", "real_impedance_ohm", "imaginary_impedance_ohm"]
    columns: list[Any] = [spectrum["frequency"].values, z.real, z.imag]
    if "time" in spectrum:
        header.append("test_time_second")
        columns.append(spectrum["time"].values)
    return _csv_text(header, columns)


def _circuits(fits: xr.Dataset) -> list[str]:
    """The circuit string of every fitted spectrum (its own preset's when chosen per spectrum)."""
    if "preset" in fits:
        presets = json.loads(str(fits.attrs.get("presets", "{}")))
        return [presets[str(p)]["circuit"] for p in fits["preset"].values]
    return [str(fits.attrs["circuit"])] * fits.sizes["spectrum"]


def impedance_py_names(circuit: str) -> tuple[list[str], list[str]]:
    """impedance.py's parameter names and units of ``circuit``, from impedance.py itself."""
    from impedance.models.circuits import CustomCircuit
    from impedance.models.circuits.fitting import calculateCircuitLength

    model = CustomCircuit(circuit, initial_guess=[1.0] * calculateCircuitLength(circuit))
    names, units = model.get_param_names()
    return list(names), list(units)


def impedance_py_rows(fits: xr.Dataset) -> list[dict[str, Any]]:
    """One row per spectrum: ``spectrum_id``, ``temperature_K``, ``circuit``, ``converged``,
    ``initial_guess`` (a Python list literal in impedance.py's order) and one column per
    parameter, ``<name> (<impedance.py unit>)``."""
    names = list(fits["param"].values.astype(str))
    ids = (fits["spectrum_id"].values.astype(str) if "spectrum_id" in fits.coords
           else [str(i) for i in range(fits.sizes["spectrum"])])
    rows = []
    for i, circuit in enumerate(_circuits(fits)):
        values = dict(zip(names, fits["value"].values[i], strict=True))
        ours, units = impedance_py_names(circuit)
        guess = [float(values[n]) for n in ours]
        row: dict[str, Any] = {"spectrum_id": ids[i]}
        if "temperature" in fits.coords:
            row["temperature_K"] = float(fits["temperature"].values[i])
        row["circuit"] = circuit
        if "converged" in fits:
            row["converged"] = bool(fits["converged"].values[i])
        row["initial_guess"] = "[" + ", ".join(f"{g:.10g}" for g in guess) + "]"
        for name, unit, value in zip(ours, units, guess, strict=True):
            row[f"{name} ({unit})" if unit else name] = f"{value:.10g}"
        rows.append(row)
    return rows


def impedance_py_csv_text(fits: xr.Dataset) -> str:
    """:func:`impedance_py_rows` as CSV text."""

    return rows_csv_text(impedance_py_rows(fits))


def _safe(name: str) -> str:
    """A file-name-safe form of a sample or spectrum id."""
    return re.sub(r"[^\w.+-]", "_", name)


def _spectra(tree: xr.DataTree) -> Iterator[tuple[str, str, xr.Dataset]]:
    for sample, node in tree.children.items():
        if sample in {"campaign", "failures"} or "spectra" not in node.children:
            continue
        for sid, child in node["spectra"].children.items():
            yield str(sample), str(sid), child.to_dataset()


def export_results(tree: xr.DataTree, folder: str | Path, to: str) -> list[Path]:
    """Write every spectrum of ``tree`` in format ``to`` (one of :data:`FORMATS`) under
    ``folder/<sample>/``, and each sample's impedance.py parameter table; returns the paths."""
    if to not in FORMATS:
        raise ValueError(f"unknown export format {to!r}; expected one of {', '.join(FORMATS)}")
    folder = Path(folder)
    written = []
    for sample, sid, ds in _spectra(tree):
        stem = folder / _safe(sample) / _safe(sid)
        if to == "zview":
            time = ds["time"].values if "time" in ds else None
            written.append(_write_text(stem.with_suffix(".z"),
                                       zview_text(ds["frequency"].values, ds["impedance"].values,
                                                  time, title=f"{sample} {sid}"),
                                       encoding="latin-1"))
        elif to == "bdf":
            written.append(_write_text(stem.with_name(stem.name + ".bdf.csv"), bdf_text(ds)))
        else:
            written.append(_write_text(stem.with_suffix(".csv"), spectrum_csv_text(ds)))
    for sample, node in tree.children.items():
        if "fit" in node.children:
            written.append(_write_text(folder / f"{_safe(str(sample))}_impedance_py.csv",
                                       impedance_py_csv_text(node["fit"].ds)))
    return written
