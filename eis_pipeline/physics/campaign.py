"""A synthesis campaign: one row per sample, and σ against each varied synthesis parameter.

Milling time, speed or ball-to-powder ratio is a series whose conductivity trend is a result in
its own right, and rarely monotone (PHYSICS.md section 7: NaCB₁₁H₁₂ peaks after 45 min of
milling and collapses after 6 h). So the trend reports a rank correlation *and* where σ peaks,
with the number of samples behind it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline.physics.conductivity import COMPONENTS

__all__ = ["CampaignSample", "campaign_trends", "summarise_campaign"]


@dataclass(frozen=True)
class CampaignSample:
    """One sample of a campaign.

    Attributes
    ----------
    name : str
    synthesis : mapping
        Synthesis metadata, keys carrying their unit (``milling_time_min``, ``speed_rpm``,
        ``ball_to_powder_ratio``, ``jar_material``, ``annealing_temperature_celsius``...).
    arrhenius : mapping or xarray.Dataset
        Component (``bulk``, ``grain_boundary``, ``total``) -> output of
        :func:`eis_pipeline.physics.arrhenius.arrhenius`, or one dataset with a ``component``
        dimension (:func:`~eis_pipeline.physics.arrhenius.arrhenius_by_component`).
    sigma_25C : mapping
        Component -> σ(25 °C) in S/cm, or ``(value, stderr)``; used where no Arrhenius
        dataset is given (e.g. a single room-temperature measurement).
    """

    name: str
    synthesis: Mapping[str, Any] = field(default_factory=dict)
    arrhenius: Mapping[str, xr.Dataset] | xr.Dataset = field(default_factory=dict)
    sigma_25C: Mapping[str, float | tuple[float, float]] = field(default_factory=dict)


def _as_sample(item: CampaignSample | Mapping[str, Any]) -> CampaignSample:
    if isinstance(item, CampaignSample):
        return item
    if not isinstance(item, Mapping) or "name" not in item:
        raise TypeError("each sample must be a CampaignSample or a mapping with at least a "
                        f"'name' key (and 'synthesis', 'arrhenius', 'sigma_25C'); got {item!r}")
    return CampaignSample(str(item["name"]), item.get("synthesis", {}) or {},
                          item.get("arrhenius", {}) or {}, item.get("sigma_25C", {}) or {})


_LAW_VARIABLES = ("sigma_25C", "sigma_25C_stderr", "sigma_25C_segment", "sigma_25C_extrapolated",
                  "activation_energy", "activation_energy_stderr")


def _arrhenius_for(sample: CampaignSample, component: str) -> dict[str, Any] | None:
    """The values of ``component``'s law that the summary needs (None: no law for it),
    read from the variables (a ``Dataset.sel`` per sample and component cost more than the
    rest of the summary)."""
    arr = sample.arrhenius
    if isinstance(arr, xr.Dataset):
        if "component" not in arr.dims:
            raise ValueError(f"sample {sample.name!r}: an Arrhenius dataset without a "
                             "'component' dimension must be given as {component: dataset}")
        labels = arr["component"].values
        if component not in labels:
            return None
        i = int(np.flatnonzero(labels == component)[0])
        return {k: arr.variables[k].isel(component=i, missing_dims="ignore").values
                for k in _LAW_VARIABLES}
    law = arr.get(component)
    return None if law is None else {k: law.variables[k].values for k in _LAW_VARIABLES}


def _room_values(sample: CampaignSample, component: str
                 ) -> tuple[float, float, float, float, bool]:
    """σ25, its stderr, E_a and its stderr (E_a of the segment holding 25 °C), and whether
    25 °C was extrapolated."""
    arr = _arrhenius_for(sample, component)
    if arr is not None:
        seg = int(arr["sigma_25C_segment"])
        ea = np.atleast_1d(arr["activation_energy"])   # a VTF fit has no segments
        ea_err = np.atleast_1d(arr["activation_energy_stderr"])
        pick = seg if 0 <= seg < ea.size else 0
        return (float(arr["sigma_25C"]), float(arr["sigma_25C_stderr"]),
                float(ea[pick]), float(ea_err[pick]), bool(arr["sigma_25C_extrapolated"]))
    given = sample.sigma_25C.get(component)
    if given is None:
        return (math.nan,) * 4 + (False,)
    if isinstance(given, tuple):
        return float(given[0]), float(given[1]), math.nan, math.nan, False
    return float(given), math.nan, math.nan, math.nan, False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value,
                                                                                        bool)


def summarise_campaign(samples: Iterable[CampaignSample | Mapping[str, Any]]) -> xr.Dataset:
    """One row per sample: σ(25 °C) and E_a per component, and the synthesis parameters.

    Parameters
    ----------
    samples : iterable of CampaignSample or mapping
        Mappings need ``name`` and may have ``synthesis``, ``arrhenius``, ``sigma_25C``.

    Returns
    -------
    xarray.Dataset
        Dims ``(sample, component)``: ``sigma_25C``, ``sigma_25C_stderr`` (S/cm),
        ``sigma_25C_extrapolated``, ``activation_energy``, ``activation_energy_stderr`` (eV);
        one ``(sample,)`` variable per synthesis key (numbers as float with NaN where missing,
        anything else as str). Attribute ``best_sample``: highest total σ(25 °C) ("" if none).

    Examples
    --------
    >>> s = summarise_campaign([{"name": "A", "synthesis": {"milling_time_min": 45},
    ...                          "sigma_25C": {"total": 4e-3}},
    ...                         {"name": "B", "synthesis": {"milling_time_min": 360},
    ...                          "sigma_25C": {"total": 1e-8}}])
    >>> s.attrs["best_sample"], float(s.milling_time_min[1])
    ('A', 360.0)
    """
    rows = [_as_sample(s) for s in samples]
    names = [r.name for r in rows]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"sample names must be unique; repeated: {dup}")
    shape = (len(rows), len(COMPONENTS))
    sigma, sigma_err, ea, ea_err = (np.full(shape, np.nan) for _ in range(4))
    extrapolated = np.zeros(shape, dtype=bool)
    for i, row in enumerate(rows):  # a campaign has tens of samples, not thousands
        for j, comp in enumerate(COMPONENTS):
            (sigma[i, j], sigma_err[i, j], ea[i, j], ea_err[i, j],
             extrapolated[i, j]) = _room_values(row, comp)
    ds = xr.Dataset(
        {
            "sigma_25C": (("sample", "component"), sigma,
                          {"units": "S/cm", "long_name": "σ at 25 °C"}),
            "sigma_25C_stderr": (("sample", "component"), sigma_err, {"units": "S/cm"}),
            "sigma_25C_extrapolated": (("sample", "component"), extrapolated,
                                       {"long_name": "25 °C outside the measured range"}),
            "activation_energy": (("sample", "component"), ea,
                                  {"units": "eV", "long_name": "E_a of the segment at 25 °C"}),
            "activation_energy_stderr": (("sample", "component"), ea_err, {"units": "eV"}),
        },
        coords={"sample": names, "component": list(COMPONENTS)},
    )
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row.synthesis if k not in keys]
    for key in keys:
        if key in ds.variables:
            raise ValueError(f"synthesis key {key!r} clashes with a summary variable; rename it")
        vals = [row.synthesis.get(key) for row in rows]
        if all(v is None or _is_number(v) for v in vals):
            ds[key] = ("sample", np.array([math.nan if v is None else float(v) for v in vals]),
                       {"long_name": f"synthesis parameter {key}", "synthesis_parameter": 1})
        else:
            ds[key] = ("sample", np.array(["" if v is None else str(v) for v in vals]),
                       {"long_name": f"synthesis parameter {key}", "synthesis_parameter": 1})
    total = sigma[:, COMPONENTS.index("total")]
    ds.attrs["best_sample"] = names[int(np.nanargmax(total))] if np.isfinite(total).any() else ""
    return ds


def _ranks(v: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), as Spearman's correlation needs."""
    order = np.argsort(v, kind="stable")
    ranks = np.empty(v.size)
    ranks[order] = np.arange(v.size, dtype=float)
    _uniq, inverse = np.unique(v, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks)
    counts = np.bincount(inverse)
    return np.asarray((sums / counts)[inverse])


def campaign_trends(summary: xr.Dataset, component: str = "total") -> xr.Dataset:
    """σ(25 °C) against every numeric synthesis parameter that varies across the campaign.

    For each parameter: ``n`` (samples with both values), ``spearman_rho`` (rank correlation
    of σ with the parameter; NaN below 3 samples, where it says nothing), ``slope_log10_sigma``
    (least-squares slope of log10 σ against the parameter, with ``_stderr`` from 4 samples on),
    ``argmax_value`` (parameter value of the highest σ) and ``argmax_sigma_25C``.

    Examples
    --------
    >>> s = summarise_campaign([{"name": n, "synthesis": {"milling_time_min": t},
    ...                          "sigma_25C": {"total": v}} for n, t, v in
    ...                         [("a", 15, 1e-3), ("b", 45, 4e-3), ("c", 120, 2e-3),
    ...                          ("d", 360, 1e-8)]])
    >>> tr = campaign_trends(s)
    >>> float(tr.argmax_value.sel(parameter="milling_time_min")), int(tr.n[0])
    (45.0, 4)
    """
    sigma = summary["sigma_25C"].sel(component=component).values
    params = [str(k) for k, v in summary.data_vars.items()
              if v.attrs.get("synthesis_parameter") and v.dims == ("sample",)
              and np.issubdtype(v.dtype, np.floating)]
    out: dict[str, list[float]] = {k: [] for k in (
        "n", "spearman_rho", "slope_log10_sigma", "slope_log10_sigma_stderr", "argmax_value",
        "argmax_sigma_25C")}
    kept = []
    for name in params:
        p = summary[name].values
        ok = np.isfinite(p) & np.isfinite(sigma) & (sigma > 0)
        if np.unique(p[ok]).size < 2:
            continue  # not varied (or no data): no trend to speak of
        kept.append(name)
        x, y = p[ok], np.log10(sigma[ok])
        n = int(ok.sum())
        rho = math.nan
        if n >= 3:
            rx, ry = _ranks(x), _ranks(y)
            rho = float(np.corrcoef(rx, ry)[0, 1]) if np.ptp(ry) > 0 else math.nan
        design = np.column_stack([np.ones(n), x])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        slope_err = math.nan
        if n >= 4:
            resid = y - design @ coef
            cov = np.linalg.inv(design.T @ design) * float(resid @ resid) / (n - 2)
            slope_err = math.sqrt(cov[1, 1])
        best = int(np.argmax(y))
        for key, val in (("n", n), ("spearman_rho", rho), ("slope_log10_sigma", coef[1]),
                         ("slope_log10_sigma_stderr", slope_err), ("argmax_value", x[best]),
                         ("argmax_sigma_25C", 10.0 ** y[best])):
            out[key].append(float(val))
    attrs = {
        "n": {"units": "1", "long_name": "samples with the parameter and σ"},
        "spearman_rho": {"units": "1", "long_name": "Spearman rank correlation of σ(25 °C) "
                         "with the parameter (NaN below 3 samples)"},
        "slope_log10_sigma": {"long_name": "d log10(σ / S cm⁻¹) / d parameter"},
        "slope_log10_sigma_stderr": {"long_name": "standard error (from 4 samples on)"},
        "argmax_value": {"long_name": "parameter value with the highest σ(25 °C)"},
        "argmax_sigma_25C": {"units": "S/cm", "long_name": "highest σ(25 °C)"},
    }
    ds = xr.Dataset({k: ("parameter", np.asarray(v, dtype=float), attrs[k])
                     for k, v in out.items()}, coords={"parameter": kept})
    ds["n"] = ds["n"].astype(int)
    ds.attrs.update(component=component, n_samples=int(summary.sizes.get("sample", 0)))
    return ds
