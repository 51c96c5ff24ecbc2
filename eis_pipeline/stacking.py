"""Stacking per-file datasets (fits, checks) along ``spectrum`` into one per sample."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import xarray as xr

__all__ = ["stack", "stack_alike"]


def stack(parts: Sequence[xr.Dataset | None], *, renumber: bool = True
            ) -> xr.Dataset | None:
    """Stack datasets along ``spectrum``, NaN-padding their other dimensions; ``renumber``
    makes the ``spectrum`` coordinate 0..n-1."""
    present = [p for p in parts if p is not None]
    if not present:
        return None
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

    merged = stack_alike(present)
    if merged is None:
        padded = [pad(part) for part in present]
        merged = xr.concat(padded, dim="spectrum", data_vars="minimal", coords="minimal",
                           compat="override", combine_attrs="override", join="outer")
    if not renumber:
        return merged
    return merged.assign_coords(spectrum=np.arange(merged.sizes["spectrum"]))


def stack_alike(parts: Sequence[xr.Dataset]) -> xr.Dataset | None:
    """:func:`stack` for the common case, one numpy concatenation per variable: parts
    with the same variables on the same dimensions, equal sizes and labels off ``spectrum``
    (nothing to pad or align). None otherwise. (``xr.concat`` of a campaign's hundreds of
    small per-file datasets costs more than the fits.)"""
    first = parts[0]
    if len(parts) == 1 or "spectrum" not in first.dims:
        return None
    names = list(first.variables)
    for part in parts[1:]:
        if list(part.variables) != names:
            return None
        for name in names:
            a, b = first.variables[name], part.variables[name]
            if a.dims != b.dims or (a.dtype != b.dtype
                                    and not a.dtype.kind == b.dtype.kind == "U"):
                return None   # (strings of other widths concatenate to the widest)
            if "spectrum" not in a.dims:
                if a.shape != b.shape or (name in first.indexes and not a.equals(b)):
                    return None
            else:   # the same sizes off the spectrum axis
                axis = a.dims.index("spectrum")
                if a.shape[:axis] + a.shape[axis + 1:] != b.shape[:axis] + b.shape[axis + 1:]:
                    return None
    variables = {}
    for name in names:
        var = first.variables[name]
        if "spectrum" in var.dims:
            axis = var.dims.index("spectrum")
            data = np.concatenate([p.variables[name].values for p in parts], axis=axis)
            variables[name] = xr.Variable(var.dims, data, var.attrs)
        else:
            variables[name] = var
    coords = [n for n in names if n in first.coords]
    return xr.Dataset({n: v for n, v in variables.items() if n not in coords},
                      coords={n: variables[n] for n in coords}, attrs=first.attrs)
