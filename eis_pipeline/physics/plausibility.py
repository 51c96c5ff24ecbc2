"""Plausibility of a sample's results: temperatures, conductivity and bulk permittivity.

Nothing here changes a number; each check returns warnings for the person reading the
results (the run prints them, stores them with the sample and shows them in the summary).
A geometry typed in the wrong unit (a thickness in cm where mm was meant) scales every σ and
the bulk permittivity by the same power of ten, so a permittivity or a σ far from what a
solid electrolyte has names the unit slip that would bring both back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from eis_pipeline.conventions import ZERO_CELSIUS_K
from eis_pipeline.physics.geometry import Geometry

__all__ = [
    "CONDUCTIVITY_RANGE_S_PER_CM",
    "PERMITTIVITY_RANGE",
    "REPEAT_RATIO",
    "TEMPERATURE_RANGE_K",
    "conductivity_warnings",
    "geometry_mix_warnings",
    "implausible_temperature",
    "repeated_temperature_warnings",
    "temperature_warnings",
]

#: Sample temperatures outside this range (K) are implausible: -150 °C to 1000 °C covers
#: cryostats and furnaces used for solid electrolytes; 1395 °C is a typo or a thermocouple
#: fault.
TEMPERATURE_RANGE_K = (123.15, 1273.15)
#: A bulk arc's relative permittivity ε_r = C_b·L/(ε₀·A) is roughly 5-100 (PHYSICS.md
#: section 4); outside it the geometry or the arc assignment is off.
PERMITTIVITY_RANGE = (5.0, 100.0)
#: σ of solid electrolytes (PHYSICS.md section 7: 1e-8 S/cm for amorphised NaCB11H12 to
#: 17 mS/cm for Li7P3S11 at 25 °C), widened by four decades below and a factor 60 above to
#: leave room for temperature
CONDUCTIVITY_RANGE_S_PER_CM = (1e-12, 1.0)
#: the middle of PERMITTIVITY_RANGE on a log scale: the slip that lands nearest wins
_TYPICAL_PERMITTIVITY = math.sqrt(PERMITTIVITY_RANGE[0] * PERMITTIVITY_RANGE[1])


def implausible_temperature(kelvin: float) -> str | None:
    """A warning when ``kelvin`` lies outside :data:`TEMPERATURE_RANGE_K`, else None.

    Examples
    --------
    >>> implausible_temperature(298.15) is None
    True
    >>> print(implausible_temperature(1395 + 273.15))
    1395 °C is outside the plausible range -150..1000 °C: check the name or the thermocouple reading
    """
    low, high = TEMPERATURE_RANGE_K
    if low <= kelvin <= high:
        return None
    return (f"{kelvin - ZERO_CELSIUS_K:.6g} °C is outside the plausible range "
            f"{low - ZERO_CELSIUS_K:.0f}..{high - ZERO_CELSIUS_K:.0f} °C: check the name or "
            "the thermocouple reading")


def temperature_warnings(temperature_K: Sequence[float] | np.ndarray,
                         sources: Sequence[str] | np.ndarray) -> list[str]:
    """One warning per file whose spectra have a temperature outside the plausible range
    (unknown temperatures, NaN, are not warned about here)."""
    out: dict[str, str] = {}
    for kelvin, source in zip(np.asarray(temperature_K, float), sources, strict=True):
        warning = implausible_temperature(float(kelvin)) if np.isfinite(kelvin) else None
        if warning is not None:
            out.setdefault(str(source), f"{Path(str(source)).name}: {warning}")
    return list(out.values())


def _in(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _slips(geometry: Geometry) -> list[tuple[float, str]]:
    """(factor on κ, what a person may have typed instead) for one value off by a unit."""
    out = []
    if geometry.thickness_cm is not None:
        mm = 10 * geometry.thickness_cm
        out += [(f, f"thickness {mm:g} mm? did you mean {mm * f:g} mm") for f in (0.1, 10.0)]
        if geometry.diameter_cm is not None:
            d = 10 * geometry.diameter_cm
            out += [(1 / f**2, f"diameter {d:g} mm? did you mean {d * f:g} mm")
                    for f in (0.1, 10.0)]
        elif geometry.area_cm2 is not None:
            a = geometry.area_cm2
            out += [(1 / f, f"area {a:g} cm²? did you mean {a * f:g} cm²") for f in (0.01, 100.0)]
    else:
        k = geometry.cell_constant_per_cm
        out += [(f, f"cell constant {k:g} cm⁻¹? did you mean {k * f:g} cm⁻¹")
                for f in (0.01, 0.1, 10.0, 100.0)]
    return out


def _permittivity(cond: xr.Dataset, ok: np.ndarray) -> tuple[float, int, bool]:
    """(median ε_r, spectra it is over, whether a high value is meaningful) of the bulk.

    Per spectrum, the arc of smallest capacitance: every other process (grain boundaries,
    electrodes) adds capacitance, so it is the bulk arc when the bulk arc is measured,
    whatever role the fit gave it, and an upper bound on the bulk's ε_r otherwise. So
    spectra whose bulk arc lies above the measured range (bulk from the high-frequency
    intercept) can only show an ε_r too low; a too-high one needs spectra with a bulk arc.
    """
    if "arc_relative_permittivity" in cond and cond.sizes.get("arc", 0):
        per_arc = np.asarray(cond["arc_relative_permittivity"].values, float)
        per_arc = np.where(np.isfinite(per_arc) & (per_arc > 0), per_arc, np.inf)
        eps = per_arc.min(axis=1)
    else:
        eps = np.asarray(cond["relative_permittivity"].values, float)
    known = ok & np.isfinite(eps) & (eps > 0)
    with_arc = known & (np.asarray(cond["bulk_source"].values).astype(str) == "arc"
                        if "bulk_source" in cond else known)
    use = with_arc if with_arc.any() else known
    if not use.any():
        return math.nan, 0, False
    return float(np.median(eps[use])), int(use.sum()), bool(with_arc.any())


def _total(cond: xr.Dataset, name: str) -> np.ndarray:
    """``cond[name].sel(component="total")`` as floats, taken from the variable (a
    DataArray selection costs more than the check)."""
    at = cond.indexes["component"].get_loc("total")
    return np.asarray(cond.variables[name].isel(component=at).values, float)


def conductivity_warnings(cond: xr.Dataset) -> list[str]:
    """Warnings when a sample's σ or bulk permittivity is physically implausible for the
    geometry it was computed with (read from ``cond.attrs``), naming the likely unit slip.

    Looks at the median over converged spectra of the total σ and of the bulk arc's
    ε_r = C_b·L/(ε₀·A) (PHYSICS.md sections 4 and 5; the bulk arc is the one of smallest
    capacitance, see :func:`_permittivity`). Outside :data:`PERMITTIVITY_RANGE` or
    :data:`CONDUCTIVITY_RANGE_S_PER_CM`, every single-value slip (thickness or diameter ×10
    or ÷10, area or cell constant ×100 or ÷100...) that brings both back is tried, and the
    one landing nearest a typical permittivity is named.

    Examples
    --------
    >>> cond = conductivity(fits, thickness_cm=1.0, diameter_cm=1.0)   # doctest: +SKIP
    >>> conductivity_warnings(cond)                                    # doctest: +SKIP
    ['bulk relative permittivity ε_r = C·L/(ε₀·A) = 300 (median of 1 spectra) is outside
      the 5-100 of a bulk arc (PHYSICS.md section 4) for thickness 10 mm, diameter 10 mm:
      thickness 10 mm? did you mean 1 mm (then ε_r 30, σ 0.003 S/cm)']
    """
    geometry = Geometry.from_attrs(cond.attrs)
    if geometry is None or cond.sizes.get("spectrum", 0) == 0:
        return []
    ok = (np.asarray(cond["converged"].values, bool) if "converged" in cond
          else np.ones(cond.sizes["spectrum"], dtype=bool))
    sigma = _total(cond, "conductivity")[ok]
    sigma = sigma[np.isfinite(sigma) & (sigma > 0)]
    med_sigma = float(np.median(sigma)) if sigma.size else math.nan
    med_eps, n_eps, upper = _permittivity(cond, ok)
    problems = []
    low_eps, high_eps = PERMITTIVITY_RANGE
    if n_eps and (med_eps < low_eps or (upper and med_eps > high_eps)):
        problems.append(f"bulk relative permittivity ε_r = C·L/(ε₀·A) = {med_eps:.3g} (median "
                        f"of {n_eps} spectra) is outside the {PERMITTIVITY_RANGE[0]:g}-"
                        f"{PERMITTIVITY_RANGE[1]:g} of a bulk arc (PHYSICS.md section 4)")
    if sigma.size and not _in(med_sigma, CONDUCTIVITY_RANGE_S_PER_CM):
        low, high = CONDUCTIVITY_RANGE_S_PER_CM
        problems.append(f"total σ = {med_sigma:.3g} S/cm (median of {sigma.size} spectra) is "
                        f"outside the {low:g}-{high:g} S/cm of solid electrolytes "
                        "(PHYSICS.md section 7)")
    if not problems:
        return []
    fixes = []
    for factor, text in _slips(geometry):
        new_eps = med_eps * factor if n_eps else math.nan
        new_sigma = med_sigma * factor
        if ((math.isnan(new_eps) or _in(new_eps, PERMITTIVITY_RANGE))
                and (math.isnan(new_sigma) or _in(new_sigma, CONDUCTIVITY_RANGE_S_PER_CM))):
            after = ", ".join(f"{name} {value:.3g}{unit}" for name, value, unit in
                              (("ε_r", new_eps, ""), ("σ", new_sigma, " S/cm"))
                              if not math.isnan(value))
            distance = (abs(math.log(new_eps / _TYPICAL_PERMITTIVITY))
                        if not math.isnan(new_eps) else abs(math.log10(factor)))
            fixes.append((distance, f"{text} (then {after})"))
    advice = (min(fixes)[1] if fixes else
              "no single unit slip explains it: check the geometry's units (thickness and "
              "diameter in mm, area in cm², cell constant in cm⁻¹) and which arc is the bulk")
    return [f"{'; '.join(problems)} for {geometry.describe()}: {advice}"]


#: Spectra of one sample whose temperatures lie within this (K) are measured at the same
#: temperature (a furnace setpoint read back with a few tenths of a kelvin of scatter).
SAME_TEMPERATURE_K = 1.0
#: Repeated measurements of one pellet at one temperature agree within a few percent (drift,
#: contact); two pellets of different thickness or density differ by their geometry ratio.
#: σ values further apart than this factor, and beyond 3 combined standard errors, disagree.
REPEAT_RATIO = 1.5


def repeated_temperature_warnings(cond: xr.Dataset) -> list[str]:
    """A warning per temperature at which a sample's converged spectra disagree: total σ
    more than :data:`REPEAT_RATIO` apart and beyond 3 combined fit standard errors (the
    geometry's error is common to all files of a sample and cannot separate them).

    Two pellets' files in one sample folder give such repeats, and one Arrhenius fit through
    both would be a line through two materials (or two geometries): the warning names the
    files and says how to separate them.
    """
    if not {"temperature", "source"} <= set(cond.coords) or "conductivity" not in cond:
        return []
    temp = np.asarray(cond["temperature"].values, float)
    sigma = _total(cond, "conductivity")
    err = (_total(cond, "conductivity_fit_stderr")
           if "conductivity_fit_stderr" in cond else np.zeros_like(sigma))
    ok = np.isfinite(temp) & np.isfinite(sigma) & (sigma > 0)
    if "converged" in cond:
        ok &= np.asarray(cond["converged"].values, bool)
    sources = np.asarray(cond["source"].values).astype(str)
    rel = np.where(np.isfinite(err) & (err >= 0), err / np.where(sigma > 0, sigma, 1.0), 0.0)
    idx = np.flatnonzero(ok)[np.argsort(temp[ok], kind="stable")]
    # runs of spectra at one temperature (consecutive sorted temperatures within the limit)
    cuts = np.flatnonzero(np.diff(temp[idx]) > SAME_TEMPERATURE_K) + 1
    out = []
    for group in np.split(idx, cuts):   # one iteration per temperature
        if group.size < 2:
            continue
        hi, lo = group[np.argmax(sigma[group])], group[np.argmin(sigma[group])]
        ratio = sigma[hi] / sigma[lo]
        if ratio <= REPEAT_RATIO or math.log(ratio) <= 3.0 * math.hypot(rel[hi], rel[lo]):
            continue
        celsius = float(np.mean(temp[group])) - ZERO_CELSIUS_K
        out.append(
            f"at {celsius:.1f} °C the sample's spectra disagree: total σ "
            f"{sigma[hi]:.3g} S/cm ({Path(sources[hi]).name}) and {sigma[lo]:.3g} S/cm "
            f"({Path(sources[lo]).name}), {ratio:.3g}x apart, beyond their standard errors: "
            "are two pellets mixed in this sample? Its Arrhenius fit goes through both; put "
            "each pellet's files in a sample of its own (a folder or [[samples]] entry each)")
    return out


def geometry_mix_warnings(headers: Sequence[Geometry | None], sources: Sequence[str]) -> list[str]:
    """A warning when the files of one sample carry different geometries in their headers
    (two pellets in one sample, or a header geometry unlike the configured one is used)."""
    seen: dict[Geometry, str] = {}
    for geometry, source in zip(headers, sources, strict=True):
        if geometry is not None:
            seen.setdefault(geometry, Path(str(source)).name)
    if len(seen) < 2:
        return []
    listed = "; ".join(f"{g.describe()} ({name})" for g, name in seen.items())
    return [f"the sample's files give {len(seen)} different geometries in their headers "
            f"({listed}): are two pellets mixed in this sample? One geometry is used for "
            "all; put each pellet's files in a sample of its own"]
