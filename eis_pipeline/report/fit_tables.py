"""What ``eis-pipeline fit`` prints: a parameter table per spectrum and the conductivities.

One block per spectrum of a sample's ``fit`` table (DESIGN.md section 7): value ± standard
error and unit of every parameter, marked ``(fixed)``, ``(at bound)`` or ``(undetermined)``,
the goodness of fit and the solver status; for circuits chosen per spectrum the chosen preset
and the selection evidence.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from eis_pipeline.config import Geometry
from eis_pipeline.conventions import ZERO_CELSIUS_K
from eis_pipeline.fitting.selection import evidence_table
from eis_pipeline.fitting.solver import Status

__all__ = ["AT_BOUND_ADVICE", "AT_BOUND_HINT", "conductivity_table", "fits_table",
           "format_value", "pellet_size"]

#: Why a parameter ends on a bound, and what to do (the note under a fit in :func:`fits_table`).
AT_BOUND_HINT = ("the circuit does not suit this spectrum (an element the data do not need, "
                 "or one standing in for a feature it cannot describe)")
AT_BOUND_ADVICE = "; try --preset auto or another circuit"


def format_value(value: float, stderr: float, at_bound: bool = False) -> str:
    """``1.234e+05 ± 2.1e+02``; ``(fixed)`` for a zero stderr; ``(at bound)`` when the fit
    ended on a bound (user bound or safeguard); ``(undetermined)`` when the data do not pin
    the value down (no standard error, or one larger than the value)."""
    if stderr == 0:
        return f"{value:.5g} (fixed)"
    if at_bound:   # the more specific diagnosis: the error of a pinned value means little
        shown = "" if stderr != stderr else f" ± {stderr:.2g}"
        return f"{value:.5g}{shown} (at bound)"
    if stderr != stderr or stderr > abs(value):  # NaN, or uncertain beyond the value
        shown = "" if stderr != stderr else f" ± {stderr:.2g}"
        return f"{value:.5g}{shown} (undetermined)"
    return f"{value:.5g} ± {stderr:.2g}"


def _where(row: xr.Dataset) -> str:
    where = f"{row.source.item() or '<spectrum>'}  sweep {int(row.sweep)}"
    temp = float(row.temperature) if "temperature" in row else float("nan")
    if np.isfinite(temp):
        where += f"  T = {temp - ZERO_CELSIUS_K:.2f} °C"
    return where


def fits_table(fits: xr.Dataset, selection: xr.Dataset | None = None) -> str:
    """Human-readable parameter tables, one block per spectrum of a sample's ``fit`` table.

    With circuits chosen per spectrum (``auto``) each block names the chosen preset, shows
    the ``selection`` evidence and only that circuit's parameters. A fit with parameters on
    a bound gets a note naming them, with :data:`AT_BOUND_HINT`.
    """
    lines: list[str] = []
    names = [str(p) for p in fits.param.values]
    units = [str(u) for u in fits.param_units.values]
    width = max(len(n) for n in names)
    presets = (fits["preset"].values.astype(str) if "preset" in fits.data_vars
               else None)
    for i in range(fits.sizes["spectrum"]):
        row = fits.isel(spectrum=i)
        lines.append(_where(row))
        if presets is not None and selection is not None:
            lines.append(f"  chosen {presets[i]}")
            lines.append(evidence_table(selection, i))
            lines.append("")
        status = int(row.status)
        if status == Status.FAILED:   # failed before fitting: no numbers to show
            lines.append(f"  {row.message.item()}")
            lines.append("")
            continue
        pinned = (row.at_bound.values.astype(bool) if "at_bound" in row
                  else np.zeros(len(names), dtype=bool))
        values = row.value.values
        for j, name in enumerate(names):
            if presets is not None and not np.isfinite(values[j]):
                continue   # a parameter of another spectrum's circuit
            text = format_value(float(values[j]), float(row.stderr[j]), bool(pinned[j]))
            lines.append(f"  {name:<{width}}  {text:<28} {units[j]}")
        lines.append(f"  chi-square {float(row.chi_square):.4g}   reduced "
                     f"{float(row.reduced_chi_square):.4g}   points {int(row.n_points)}   "
                     f"iterations {int(row.n_iterations)}")
        lines.append(f"  status {status}: {row.message.item()}")
        if pinned.any():
            at = ", ".join(n for n, b in zip(names, pinned.tolist(), strict=True) if b)
            advice = "" if presets is not None else AT_BOUND_ADVICE
            lines.append(f"  note: {at} at a bound: {AT_BOUND_HINT}{advice}")
        lines.append("")
    return "\n".join(lines).rstrip()


def pellet_size(geometry: Geometry) -> str:
    """``thickness 1 mm, diameter 10 mm`` (or the area when no diameter was given)."""
    size = (f"diameter {10 * geometry.diameter_cm:g} mm" if geometry.diameter_cm is not None
            else f"area {geometry.area_cm2:g} cm²")
    return f"thickness {10 * geometry.thickness_cm:g} mm, {size}"


def conductivity_table(cond: xr.Dataset, geometry: Geometry) -> str:
    """σ ± stderr (S/cm) of bulk, grain boundary and total per sweep, with role doubts."""
    lines = [f"conductivity (S/cm)   {pellet_size(geometry)}"]
    components = [str(c) for c in cond.component.values]
    for i in range(cond.sizes["spectrum"]):
        row = cond.isel(spectrum=i)
        lines.append(f"{row.source.item() or '<spectrum>'}  sweep {int(row.sweep)}")
        for comp in components:
            value = float(row.conductivity.sel(component=comp))
            text = ("n/a" if value != value
                    else format_value(value, float(row.conductivity_stderr.sel(component=comp))))
            lines.append(f"  {comp:<15} {text}")
        flags = str(row.role_flags.item()) if "role_flags" in row else ""
        if flags:
            lines.append(f"  note: {flags}")
    return "\n".join(lines)
