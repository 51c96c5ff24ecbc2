"""Stacking per-file datasets (fits, checks) along ``spectrum`` into one per sample."""

from __future__ import annotations

import functools
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["stack", "stack_alike"]


def stack(parts: Sequence[xr.Dataset | None], *, renumber: bool = True
            ) -> xr.Dataset | None:
    """Stack datasets along ``spectrum``, NaN-padding their other dimensions; ``renumber``
    makes the ``spectrum`` coordinate 0..n-1."""
    present = [p for p in parts if p is not None]
    if not present:
        return None
    if len(present) == 1:   # nothing to join (a sample read in one task): variables ordered
        part = present[0]   # as xr.concat orders them, data first, so the file is the same;
        # renumbered labels last, where assign_coords puts them, in the same construction
        coords: dict[Hashable, Any] = {n: part.variables[n] for n in part.coords
                                       if not (renumber and n == "spectrum")}
        if renumber:
            coords["spectrum"] = np.arange(part.sizes["spectrum"])
        return xr.Dataset({n: part.variables[n] for n in part.data_vars}, coords=coords,
                          attrs=part.attrs)
    if renumber:   # labels are replaced anyway; parts read back from a file have none
        present = [p.drop_vars("spectrum") if "spectrum" in p.coords else p for p in present]
    sizes: dict[Hashable, int] = {}
    for part in present:
        for dim, size in part.sizes.items():
            if dim != "spectrum":
                sizes[dim] = max(sizes.get(dim, 0), size)

    def pad(part: xr.Dataset) -> xr.Dataset:
        # Positional dimensions are padded; labelled ones (an index) align by label below.
        short = {dim: (0, sizes[dim] - n) for dim, n in part.sizes.items()
                 if dim != "spectrum" and dim not in part.indexes and n < sizes[dim]}
        return part.pad(short) if short else part

    merged: xr.Dataset | None = stack_alike(present)
    if merged is None:
        padded = [pad(part) for part in present]
        merged = xr.concat(padded, dim="spectrum", data_vars="minimal", coords="minimal",
                           compat="override", combine_attrs="override", join="outer")
    if not renumber:
        return merged
    return merged.assign_coords(spectrum=np.arange(merged.sizes["spectrum"]))


def stack_alike(parts: Sequence[xr.Dataset]) -> xr.Dataset | None:
    """:func:`stack` for the common case, one numpy copy per variable: parts with the same
    variables on the same dimensions; floating and complex variables may differ in the sizes
    of unlabelled dimensions (NaN-padded, as a task's DRT peaks or Kramers-Kronig points)
    and in the labels of labelled ones when only such variables use them (NaN where a part
    has no label, on the union of the labels as xr.concat's outer join makes it: the arcs of
    an "auto" sample's circuits). None otherwise. (``xr.concat`` of a campaign's hundreds of
    small per-file datasets costs more than the fits.)"""
    first = parts[0]
    if len(parts) == 1 or "spectrum" not in first.dims:
        return None
    names = list(first.variables)
    joined: dict[Hashable, pd.Index] = {}   # labelled dimensions whose labels differ
    for part in parts[1:]:
        if list(part.variables) != names:
            return None
        for name in names:
            a, b = first.variables[name], part.variables[name]
            if a.dims != b.dims or (a.dtype != b.dtype
                                    and not a.dtype.kind == b.dtype.kind == "U"):
                return None   # (strings of other widths concatenate to the widest)
            if "spectrum" not in a.dims and name in first.indexes:
                if not a.equals(b):
                    if a.dims != (name,) or a.dtype.kind not in "iuU":
                        return None
                    joined[name] = first.indexes[name]
            elif "spectrum" not in a.dims and a.shape != b.shape:
                return None
            elif any(n != m and dim != "spectrum" and dim not in first.indexes
                     and a.dtype.kind not in "fc"
                     for dim, n, m in zip(a.dims, a.shape, b.shape, strict=True)):
                return None   # only unlabelled dimensions of NaN-able variables are padded
    for dim in joined:
        if any(dim in var.dims and name != dim
               and (var.dtype.kind not in "fc" or "spectrum" not in var.dims)
               for name, var in first.variables.items()):
            return None   # only NaN-able per-spectrum variables are filled
        joined[dim] = functools.reduce(lambda a, b: a.union(b),
                                       [p.indexes[dim] for p in parts])
    positions = [{dim: labels.get_indexer(p.indexes[dim]) for dim, labels in joined.items()}
                 for p in parts]
    variables = {}
    for name in names:
        var = first.variables[name]
        if name in joined:
            dtype = np.result_type(*[p.variables[name].dtype for p in parts])
            variables[name] = xr.Variable(var.dims, np.asarray(joined[name], dtype=dtype),
                                          var.attrs)
        elif "spectrum" in var.dims:
            axis = var.dims.index("spectrum")
            values = [p.variables[name].values for p in parts]
            where = [[at.get(dim) for dim in var.dims] for at in positions]
            variables[name] = xr.Variable(var.dims, _joined(values, axis, where), var.attrs)
        else:
            variables[name] = var
    coords = [n for n in names if n in first.coords]
    if joined:   # xr.align puts the indexes it joined first, then spectrum's, then the rest
        indexes = [n for n in first.indexes if n != "spectrum"] + \
            [n for n in first.indexes if n == "spectrum"]
        coords = indexes + [n for n in coords if n not in indexes]
    return xr.Dataset({n: v for n, v in variables.items() if n not in coords},
                      coords={n: variables[n] for n in coords}, attrs=first.attrs)


def _joined(arrays: Sequence[np.ndarray[Any, Any]], axis: int,
            where: Sequence[Sequence[np.ndarray[Any, Any] | None]]) -> np.ndarray[Any, Any]:
    """``arrays`` concatenated along ``axis``, NaN-padded to the largest size on the others;
    ``where[k][i]``: the positions of array k's entries on axis i (None: its first ones)."""
    shape = list(np.max([a.shape for a in arrays], axis=0))
    for positions in where:   # a joined axis: as long as its union of labels
        for i, pos in enumerate(positions):
            if pos is not None:
                shape[i] = max(shape[i], int(pos.max(initial=-1)) + 1)
    if not any(p is not None for w in where for p in w) and all(
            list(a.shape[:axis]) + list(a.shape[axis + 1:])
            == shape[:axis] + shape[axis + 1:] for a in arrays):
        return np.concatenate(arrays, axis=axis)
    shape[axis] = sum(a.shape[axis] for a in arrays)
    out = np.full(shape, np.nan, dtype=arrays[0].dtype)
    start = 0
    for a, positions in zip(arrays, where, strict=True):
        index = tuple(np.arange(start, start + n) if i == axis
                      else np.arange(n) if pos is None else pos
                      for i, (n, pos) in enumerate(zip(a.shape, positions, strict=True)))
        out[np.ix_(*index)] = a
        start += a.shape[axis]
    return out
