"""xarray trees to what a results file stores: netCDF-safe attributes, CF-encoded variables.

Attributes that netCDF cannot hold are converted once, here: mappings and non-numeric lists
become JSON strings, booleans 0/1, paths POSIX strings, None is dropped. Variables then get
xarray's CF encoding (``coordinates`` attributes, booleans as int8 with ``dtype = "bool"``,
``_FillValue``), through a shortcut for the plain variables a results group holds
(:func:`plain_cf_encoding`). The root of a file also gets its provenance
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
           "plain_cf_encoding", "provenance_attrs"]


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
#: them, no encoding and a plain dtype passes through that chain with the few changes
#: :func:`plain_cf_encoding` makes itself.
_CF_KEYS = frozenset({"_FillValue", "missing_value", "scale_factor", "add_offset", "dtype",
                      "coordinates", "bounds", "_Unsigned"})


@dataclass(frozen=True)
class EncodedGroup:
    """One node, encoded: what is written into its HDF5 group."""

    attrs: dict[str, Any]
    sizes: Mapping[Hashable, int]
    variables: Mapping[Hashable, xr.Variable]


def plain_cf_encoding(ds: xr.Dataset
                      ) -> tuple[dict[Hashable, xr.Variable], dict[str, Any]] | None:
    """``ds``'s variables and attributes CF-encoded without xarray's coder chain, or None
    when some variable needs it.

    ``cf_encoder`` and ``encode_dataset_coordinates`` cost ~0.1 ms per variable, most of the
    encoding time of a sample, yet for the variables a results group holds (floats, complex
    numbers, integers, booleans, strings, no encoding, no CF attributes) their only effects
    are: ``_FillValue = NaN`` on floats (``DefaultFillvalueCoder``); booleans as int8 with
    ``dtype = "bool"`` (``BooleanCoder``); each variable's ``coordinates`` attribute naming
    the non-dimension coordinates whose dimensions it has, sorted, and a group
    ``coordinates`` attribute for those no variable names. Anything else (datetimes, objects
    other than str, an encoding, CF attributes, a coordinate name with a space) takes the
    full chain; tests/io/test_hdf5.py checks both give the same variables and attributes.
    """
    dims = ds.dims
    variables = ds.variables
    # non-dimension coordinates (names the chain writes: str without spaces)
    others = [name for name in ds.coords if name not in dims]
    if not all(isinstance(name, str) and " " not in name for name in others):
        return None
    names = [str(name) for name in others]
    attrs = clean_attrs(ds.attrs)
    named: set[str] = set()
    out: dict[Hashable, xr.Variable] = {}
    for name, var in variables.items():
        dtype = var.dtype
        if (var.encoding or not _CF_KEYS.isdisjoint(var.attrs)
                or not (plain_dtype(dtype, "fciuUb") or _str_objects(var))):
            return None
        var_attrs = clean_attrs(var.attrs)
        if others and name not in others and name not in var.dims:
            mine = set(var.dims)
            coordinates = sorted(c for c in names if set(variables[c].dims) <= mine)
            if coordinates:
                var_attrs["coordinates"] = " ".join(coordinates)
                named.update(coordinates)
        # .values: an index coordinate converts its pandas index to numpy once, here
        data = var.values
        if dtype.kind == "f":
            var_attrs["_FillValue"] = dtype.type(np.nan)
        elif dtype.kind == "b":
            var_attrs["dtype"] = "bool"
            data = data.astype("i1")
        out[name] = xr.Variable(var.dims, data, var_attrs, fastpath=True)
    unnamed = set(names) - named
    if unnamed:
        if "coordinates" in attrs:     # the chain warns and writes none: let it
            return None
        attrs["coordinates"] = " ".join(sorted(unnamed))
    return out, attrs


def _str_objects(var: xr.Variable) -> bool:
    """Whether ``var`` is an object array of str only (the CF chain leaves it as it is)."""
    return var.dtype.kind == "O" and all(type(item) is str for item in var.values.flat)


def encode_dataset(ds: xr.Dataset) -> EncodedGroup:
    """``ds`` as written: netCDF-safe attributes, then xarray's CF encoding."""
    plain = plain_cf_encoding(ds)
    if plain is None:
        attrs = clean_attrs(ds.attrs)
        ds = ds.copy(deep=False)
        ds.attrs = attrs
        for var in ds.variables.values():
            var.attrs = clean_attrs(var.attrs)
        variables, attrs = cf_encoder(*encode_dataset_coordinates(ds))
    else:
        variables, attrs = plain
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
