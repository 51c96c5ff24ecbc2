"""xarray trees to what a results file stores: netCDF-safe attributes, CF-encoded variables.

Attributes that netCDF cannot hold are converted once, here: mappings and non-numeric lists
become JSON strings, booleans 0/1, paths POSIX strings, None is dropped. Variables then get
xarray's CF encoding (``coordinates`` attributes, booleans as int8 with ``dtype = "bool"``,
``_FillValue``), through a shortcut for the plain variables a spectrum holds
(:func:`plain_cf_variables`). The root of a file also gets its provenance
(:func:`provenance_attrs`). Nothing here touches HDF5: :mod:`.groups` writes the result.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from xarray.conventions import cf_encoder, encode_dataset_coordinates

from eis_pipeline import __version__
from eis_pipeline.io.hdf5.netcdf import plain_dtype

__all__ = ["EncodedGroup", "clean_attrs", "encode_dataset", "encode_tree",
           "plain_cf_variables", "provenance_attrs"]


def _clean_attr(value: Any) -> Any:
    """An attribute value netCDF can store, or None to drop it."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, int | float | np.number) and not isinstance(v, bool)
                         for v in value):
            return np.asarray(value)
        return json.dumps(list(value), default=str)
    return value


def clean_attrs(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    """``attrs`` with string keys and values netCDF can store (None values dropped)."""
    out = {}
    for key, value in attrs.items():
        cleaned = _clean_attr(value)
        if cleaned is not None:
            out[str(key)] = cleaned
    return out


#: Attributes (or encodings) some coder of xarray's CF chain acts on; a variable with none of
#: them, no encoding and a plain dtype passes through that chain unchanged except for a NaN
#: ``_FillValue`` on floats (see :func:`plain_cf_variables`).
_CF_KEYS = frozenset({"_FillValue", "missing_value", "scale_factor", "add_offset", "dtype",
                      "coordinates", "bounds", "_Unsigned"})


@dataclass(frozen=True)
class EncodedGroup:
    """One node, encoded: what is written into its HDF5 group."""

    attrs: dict[str, Any]
    sizes: Mapping[Hashable, int]
    variables: Mapping[Hashable, xr.Variable]


def plain_cf_variables(ds: xr.Dataset) -> dict[Hashable, xr.Variable] | None:
    """``ds``'s variables CF-encoded without xarray's coder chain, or None when some variable
    needs it.

    ``cf_encoder`` costs ~0.1 ms per variable, most of the per-spectrum encoding time, yet for
    the variables a spectrum holds (floats, complex numbers, integers, strings, no encoding,
    every coordinate a dimension coordinate) its only effect is ``_FillValue = NaN`` on
    floats (``DefaultFillvalueCoder``). Anything else (datetimes, booleans, objects, an
    encoding, CF attributes, non-dimension coordinates) takes the full chain;
    tests/io/test_hdf5.py checks both give the same variables.
    """
    dims = ds.dims
    if any(name not in dims for name in ds.coords):
        return None                      # "coordinates" attributes to compute
    out: dict[Hashable, xr.Variable] = {}
    for name, var in ds.variables.items():
        dtype = var.dtype
        if (var.encoding or not plain_dtype(dtype, "fciuU")
                or not _CF_KEYS.isdisjoint(var.attrs)):
            return None
        attrs = clean_attrs(var.attrs)
        if dtype.kind == "f":
            attrs["_FillValue"] = dtype.type(np.nan)
        # .values: an index coordinate converts its pandas index to numpy once, here
        out[name] = xr.Variable(var.dims, var.values, attrs, fastpath=True)
    return out


def encode_dataset(ds: xr.Dataset) -> EncodedGroup:
    """``ds`` as written: netCDF-safe attributes, then xarray's CF encoding."""
    attrs = clean_attrs(ds.attrs)
    variables = plain_cf_variables(ds)
    if variables is None:
        ds = ds.copy(deep=False)
        ds.attrs = attrs
        for var in ds.variables.values():
            var.attrs = clean_attrs(var.attrs)
        variables, attrs = cf_encoder(*encode_dataset_coordinates(ds))
    return EncodedGroup(dict(attrs), ds.sizes, variables)


def encode_tree(tree: xr.DataTree, provenance: Mapping[str, Any], *,
                root_attrs: bool = True) -> list[tuple[str, EncodedGroup]]:
    """``tree``'s nodes as (path relative to it, "" for itself; encoded group) pairs in tree
    order, with netCDF-safe attributes and, at its root, ``provenance``. (Pairs, not a new
    tree: building a DataTree copies every subtree again, the bulk of the write time.)"""
    nodes: list[tuple[str, EncodedGroup]] = []
    for node in tree.subtree:
        group = encode_dataset(node.to_dataset(inherit=False))
        if node is tree and root_attrs:
            group.attrs.update(clean_attrs(provenance))
        nodes.append(("" if node is tree else node.relative_to(tree), group))
    return nodes


def provenance_attrs(tree: xr.DataTree, config: str | Mapping[str, Any] | None,
               history: str | None) -> dict[str, Any]:
    """The root attributes saying what wrote the file, when, from which config and command
    (``history`` is appended to ``tree``'s own ``history``, as netCDF's convention has it)."""

    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    previous = str(tree.attrs.get("history", "")).strip()
    entry = f"{now} eis_pipeline {__version__}: {history or ' '.join(sys.argv) or 'python'}"
    if config is None:
        config = tree.attrs.get("config", "{}")
    return {
        "eis_pipeline_version": __version__,
        "created": now,
        "config": config if isinstance(config, str) else json.dumps(config, sort_keys=True,
                                                                    default=str),
        "history": f"{previous}\n{entry}" if previous else entry,
    }
