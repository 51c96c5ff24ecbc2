"""The fit each spectrum got, with the circuit it got: :class:`ChosenFits`.

A sample fitted with one circuit has one fits dataset (docs/contracts.md). With
``circuit = "auto"`` (:mod:`.selection`) each spectrum keeps the fit of the circuit chosen for
it, so a sample holds one single-circuit fits dataset per chosen preset. :class:`ChosenFits`
carries those datasets as they were fitted, from the task to the physics stage (one
conductivity pass per circuit) and to the results writer; nothing is merged and taken apart
again on the way.

The results file stores one ``fit`` table per sample (DESIGN.md section 7, docs/results.md):
:meth:`ChosenFits.table` writes that layout (for "auto", the union of the parameters, NaN
where a spectrum's circuit has none, ``preset`` per spectrum and each preset's circuit and
roles in the ``presets`` attribute, JSON); :meth:`ChosenFits.from_table` reads it back, for
``run --resume``, which reuses stored fits.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike
from xarray.core.dtypes import maybe_promote

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.exceptions import FitError
from eis_pipeline.stacking import stack
from eis_pipeline.vocabulary import AUTO_CIRCUIT

__all__ = ["ChosenFits"]

_PER_PARAM = ("fixed", "param_units")
#: Boolean (spectrum, param) flags: False, not NaN, for another circuit's parameters.
_PER_SPECTRUM_PARAM_FLAGS = ("undetermined", "at_bound")
_GROUP_ATTRS = ("circuit", "preset", "roles", "bulk_from_intercept")


@dataclass(frozen=True)
class ChosenFits:
    """The fits of some spectra, grouped by the circuit each was fitted with.

    Attributes
    ----------
    groups : mapping of str to xarray.Dataset
        Preset (or circuit) -> the single-circuit fits dataset of the spectra fitted with it;
        its ``spectrum`` coordinate holds their positions 0..n-1 among all the spectra.
    auto : bool
        The circuit was chosen per spectrum (the stored table then has ``preset``).
    attrs : mapping
        Attributes of the stored table beyond the circuit's (e.g. ``settings_hash``).
    """

    groups: Mapping[str, xr.Dataset]
    auto: bool = False
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def single(cls, fits: xr.Dataset) -> ChosenFits:
        """Every spectrum fitted with one circuit (``fits`` from :func:`fit_spectra`)."""
        key = str(fits.attrs.get("preset") or fits.attrs.get("circuit"))
        return cls({key: fits})

    @property
    def n_spectra(self) -> int:
        return sum(g.sizes["spectrum"] for g in self.groups.values())

    def map(self, change: Any) -> ChosenFits:
        """``change(dataset, positions)`` applied to every group; ``positions`` are the
        group's spectra among all of them."""
        return ChosenFits({k: change(g, g["spectrum"].values) for k, g in self.groups.items()},
                          self.auto, dict(self.attrs))

    def assign_per_spectrum(self, **coords: ArrayLike) -> ChosenFits:
        """Per-spectrum coordinates given over all spectra, in position order."""
        arrays = {k: np.asarray(v) for k, v in coords.items()}
        return self.map(lambda g, rows: g.assign_coords(
            {k: ("spectrum", v[rows]) for k, v in arrays.items()}))

    def drop_vars(self, names: Sequence[str]) -> ChosenFits:
        return self.map(lambda g, rows: g.drop_vars([v for v in names if v in g.variables]))

    def assign_attrs(self, **attrs: Any) -> ChosenFits:
        return ChosenFits(self.groups, self.auto, {**self.attrs, **attrs})

    def isel(self, rows: Sequence[int] | np.ndarray) -> ChosenFits:
        """The spectra at positions ``rows`` (in that order), renumbered 0..len-1."""
        new = np.full(self.n_spectra, -1, dtype=np.intp)
        new[np.asarray(rows, dtype=np.intp)] = np.arange(len(rows))
        groups = {}
        for key, g in self.groups.items():
            kept = np.flatnonzero(new[g["spectrum"].values] >= 0)
            if kept.size:
                part = g.isel(spectrum=kept)
                part = part.assign_coords(spectrum=new[part["spectrum"].values])
                groups[key] = part.sortby("spectrum")
        return ChosenFits(groups, self.auto, dict(self.attrs))

    @classmethod
    def concat(cls, parts: Sequence[ChosenFits | None]) -> ChosenFits | None:
        """The spectra of ``parts`` one after the other (positions shifted); groups of the
        same preset stacked; the first part's table attributes."""
        present = [p for p in parts if p is not None]
        if not present:
            return None
        if len(present) == 1:
            return present[0]
        pieces: dict[str, list[xr.Dataset]] = {}
        offset = 0
        for part in present:
            for key, g in part.groups.items():
                pieces.setdefault(key, []).append(
                    g.assign_coords(spectrum=g["spectrum"].values + offset))
            offset += part.n_spectra
        groups: dict[str, xr.Dataset] = {}
        for key, gs in pieces.items():
            stacked = stack(gs, renumber=False)
            assert stacked is not None
            groups[key] = stacked
        return cls(groups, any(p.auto for p in present), dict(present[0].attrs))

    def table(self) -> xr.Dataset:
        """The stored ``fit`` table (docs/results.md), spectra in position order."""
        if not self.groups:
            raise FitError("no fits to store: every spectrum failed")
        if not self.auto:
            (fits,) = self.groups.values()
            return fits.assign_attrs(**self.attrs)
        params: list[str] = []
        units: dict[str, str] = {}
        for fits in self.groups.values():
            for name, unit in zip(fits["param"].values.astype(str),
                                  fits["param_units"].values.astype(str), strict=True):
                if name not in units:
                    params.append(name)
                    units[name] = unit
        # Built from numpy arrays (one copy per variable): reindexing each group to the union
        # of parameters, xr.concat and sortby cost more than the sample's physics.
        groups = list(self.groups.items())
        labels = np.concatenate([fits["spectrum"].values for _, fits in groups])
        order = np.argsort(labels, kind="stable")
        column = {name: i for i, name in enumerate(params)}
        # each group's rows among all (before sorting) and columns among the union
        rows, cols, start = [], [], 0
        for _, fits in groups:
            n = fits.sizes["spectrum"]
            rows.append(np.arange(start, start + n))
            cols.append(np.array([column[p] for p in fits["param"].values.astype(str)],
                                 dtype=np.intp))
            start += n
        missing = any(c.size < len(params) for c in cols)   # (reindex promotes then)
        first = groups[0][1]
        variables: dict[Hashable, xr.Variable] = {}
        for name, var in first.variables.items():
            if name in _PER_PARAM or name in ("param", "param_j"):
                continue
            if "spectrum" not in var.dims:   # (compat="override": the first group's)
                variables[name] = var
                continue
            parts = [fits.variables[name] for _, fits in groups]
            if not {"param", "param_j"} & set(var.dims):
                data = np.concatenate([v.values for v in parts])
            else:   # another circuit's parameters: NaN, or False for the flags
                fill, dtype = (False, var.dtype) if name in _PER_SPECTRUM_PARAM_FLAGS else \
                    (np.nan, maybe_promote(var.dtype)[0] if missing else var.dtype)
                data = np.full((start,) + (len(params),) * (var.ndim - 1), fill, dtype=dtype)
                for v, r, c in zip(parts, rows, cols, strict=True):
                    data[np.ix_(r, *[c] * (var.ndim - 1))] = v.values
            variables[name] = xr.Variable(var.dims, data[order], var.attrs)
        variables["preset"] = xr.Variable("spectrum", np.concatenate(
            [np.full(fits.sizes["spectrum"], preset) for preset, fits in groups])[order])
        names = list(first.coords)
        if not np.array_equal(cols[0], np.arange(len(params))):
            # (the order xr.concat gave: a reindexed first group lists its indexes first)
            indexes = ["param", "param_j", "spectrum"]
            names = indexes + [n for n in names if n not in indexes]
        coords = {name: np.array(params) if name in ("param", "param_j")
                  else variables.pop(name) for name in names}
        table = xr.Dataset(variables, coords=coords)
        table["param_units"] = ("param", np.array([units[p] for p in params]))
        table.attrs = {
            "circuit": AUTO_CIRCUIT, "preset": AUTO_CIRCUIT, "roles": "{}",
            "bulk_from_intercept": 0, "weighting": first.attrs.get("weighting", ""),
            "presets": json.dumps({preset: {k: fits.attrs.get(k) for k in _GROUP_ATTRS}
                                   for preset, fits in self.groups.items()}),
            **{k: v for k, v in first.attrs.items() if k.startswith("selection")},
            **self.attrs,
        }
        return table

    @classmethod
    def from_table(cls, table: xr.Dataset) -> ChosenFits:
        """Read a stored ``fit`` table (:meth:`table`) back; its spectra renumbered 0..n-1."""
        table = table.assign_coords(spectrum=np.arange(table.sizes["spectrum"]))
        extra = {k: table.attrs[k] for k in ("settings_hash",) if k in table.attrs}
        if table.attrs.get("circuit") != AUTO_CIRCUIT:
            return cls(cls.single(table).groups, False, extra)
        presets = json.loads(table.attrs["presets"])
        chosen = table["preset"].values.astype(str)
        groups: dict[str, xr.Dataset] = {}
        own = {k: v for k, v in table.attrs.items() if k != "presets"}
        for preset, attrs in presets.items():
            rows = np.flatnonzero(chosen == preset)
            if rows.size == 0:
                continue
            names = list(compile_circuit(attrs["circuit"]).param_names)
            group = table.isel(spectrum=rows).sel(param=names, param_j=names)
            group = group.drop_vars("preset")
            group["fixed"] = ("param", np.zeros(len(names), dtype=bool))
            group.attrs = {**own, **attrs}
            groups[preset] = group
        return cls(groups, True, extra)
