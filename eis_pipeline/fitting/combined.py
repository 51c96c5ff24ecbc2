"""One fits dataset for spectra fitted with different circuits, and back.

When the circuit is chosen per spectrum (``circuit = "auto"``, :mod:`.selection`), a sample's
spectra carry different parameter sets. The results file still stores one ``fit`` table per
sample: the union of the parameters, NaN where a spectrum's circuit has none, with ``preset``
per spectrum and each preset's circuit and roles in the ``presets`` attribute (JSON).
:func:`split_fits` turns it back into ordinary single-circuit fits datasets
(docs/contracts.md) for the physics stage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import xarray as xr

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.exceptions import FitError

AUTO = "auto"
_PER_PARAM = ("fixed", "param_units")
#: Boolean (spectrum, param) flags: False, not NaN, for another circuit's parameters.
_PER_SPECTRUM_PARAM_FLAGS = ("undetermined", "at_bound")
_GROUP_ATTRS = ("circuit", "preset", "roles", "bulk_from_intercept")


def combine_fits(groups: Mapping[str, xr.Dataset]) -> xr.Dataset:
    """Stack single-circuit fits datasets (keyed by preset) into one, in ``spectrum`` order.

    Examples
    --------
    >>> combined = combine_fits(fits_by_circuit(selection))        # doctest: +SKIP
    >>> combined.preset.values                                      # doctest: +SKIP
    array(['hf-intercept-gb-electrode', 'bulk-gb-electrode', ...])
    """
    if not groups:
        raise FitError("no fits to combine: every spectrum failed")
    params: list[str] = []
    units: dict[str, str] = {}
    for fits in groups.values():
        for name, unit in zip(fits["param"].values.astype(str),
                              fits["param_units"].values.astype(str), strict=True):
            if name not in units:
                params.append(name)
                units[name] = unit
    parts = []
    for preset, fits in groups.items():
        part = fits.drop_vars([v for v in _PER_PARAM if v in fits.variables])
        # Parameters another circuit has: NaN values, and no "undetermined" or "at_bound" flag.
        flags = {v: False for v in _PER_SPECTRUM_PARAM_FLAGS if v in part.data_vars}
        part = part.reindex(param=params, param_j=params,
                            fill_value={**dict.fromkeys(part.data_vars, np.nan), **flags})
        parts.append(part.assign(preset=("spectrum", np.full(part.sizes["spectrum"], preset))))
    combined = xr.concat(parts, dim="spectrum", data_vars="minimal", coords="minimal",
                         compat="override", combine_attrs="drop_conflicts").sortby("spectrum")
    combined["param_units"] = ("param", np.array([units[p] for p in params]))
    first = next(iter(groups.values()))
    combined.attrs = {
        "circuit": AUTO, "preset": AUTO, "roles": "{}", "bulk_from_intercept": 0,
        "weighting": first.attrs.get("weighting", ""),
        "presets": json.dumps({preset: {k: fits.attrs.get(k) for k in _GROUP_ATTRS}
                               for preset, fits in groups.items()}),
        **{k: v for k, v in first.attrs.items() if k.startswith("selection")},
    }
    return combined


def split_fits(fits: xr.Dataset) -> dict[str, xr.Dataset]:
    """Undo :func:`combine_fits`: one single-circuit fits dataset per preset.

    A dataset that is not combined comes back as ``{its preset or circuit: fits}``.
    """
    if fits.attrs.get("circuit") != AUTO:
        return {str(fits.attrs.get("preset") or fits.attrs.get("circuit")): fits}

    presets = json.loads(fits.attrs["presets"])
    groups: dict[str, xr.Dataset] = {}
    chosen = fits["preset"].values.astype(str)
    for preset, attrs in presets.items():
        rows = np.flatnonzero(chosen == preset)
        if rows.size == 0:
            continue
        names = list(compile_circuit(attrs["circuit"]).param_names)
        group = fits.isel(spectrum=rows).sel(param=names, param_j=names).drop_vars("preset")
        group["fixed"] = ("param", np.zeros(len(names), dtype=bool))
        group.attrs = {**{k: v for k, v in fits.attrs.items() if k != "presets"}, **attrs}
        groups[preset] = group
    return groups
