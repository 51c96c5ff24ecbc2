"""A sample's spectra as one dataset: each variable over ``(spectrum, point)``, NaN-padded.

This is how a results file stores a sample's spectra (``/<sample>/spectra``, docs/results.md):
one HDF5 dataset per variable with a ``spectrum`` dimension, not a group per spectrum (which
made ``xr.open_datatree`` of a 2,000-file campaign take minutes). A spectrum's values are
``ds.impedance.isel(spectrum=i)`` up to its length; shorter spectra are padded with NaN at
the end (frequencies are finite, so ``np.isfinite(frequency)`` marks the real points). Each
spectrum's attributes (``source``, ``source_sha256``, ``spectrum_id``, ``sweep``,
``original_metadata``, ...) are ``(spectrum)`` coordinates: strings, integers or floats; when
some spectra lack an attribute its coordinate says which in its ``spectra_without``
attribute (their entries are ``""`` or NaN).

:func:`pack_spectra` and :func:`unpack_spectra` convert between this and the canonical
per-spectrum datasets (DESIGN.md section 4); :func:`sample_spectra` yields a results node's
spectra by id, for the figures, the report and the exports.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["POINT", "concat_packed", "pack_spectra", "sample_spectra", "spectrum_attrs",
           "unpack_spectra"]

#: the dimension along each spectrum's points in the packed layout
POINT = "point"
#: the attribute of a coordinate holding a spectrum attribute whose name is taken by a variable
_RENAMED = "spectrum_attribute"
#: the attribute of a coordinate listing the spectra (rows) that lack that attribute
_WITHOUT = "spectra_without"


def pack_spectra(spectra: Sequence[xr.Dataset],
                 extra: Mapping[str, tuple[np.ndarray[Any, Any], Mapping[str, Any]]] | None = None
                 ) -> xr.Dataset:
    """Canonical spectra (one per sweep) as one dataset over ``(spectrum, point)``.

    Parameters
    ----------
    spectra : sequence of xarray.Dataset
        Spectra on a ``frequency`` dimension (variables on other dimensions are refused).
    extra : mapping, optional
        More per-point variables, ``name -> (values, attrs)`` with ``values`` of shape
        ``(len(spectra), >= longest spectrum)`` (e.g. a batch fit's curves, already padded).

    Returns
    -------
    xarray.Dataset
        ``frequency`` and every data variable over ``(spectrum, point)``, NaN-padded; the
        spectra's attributes as ``(spectrum)`` coordinates; ``spectrum`` numbered 0..n-1.
    """
    n = len(spectra)
    lengths = np.array([ds.sizes["frequency"] for ds in spectra], dtype=int)
    width = int(lengths.max()) if n else 0
    layout: dict[str, xr.Variable] = {}   # first spectrum's variable of each name, in order
    for ds in spectra:
        for name, var in ds.variables.items():
            if var.dims != ("frequency",):
                raise ValueError(f"{ds.attrs.get('source', 'a spectrum')}: variable {name!r} "
                                 f"is on {var.dims}; a packed spectrum holds per-point "
                                 "variables only (dimension 'frequency')")
            layout.setdefault(str(name), var)
    names = ["frequency", *(k for k in layout if k != "frequency")]
    # (Variables built with fastpath: the data are numpy arrays made here, and xarray's scan
    # of object arrays for dates cost more than the packing.)
    variables: dict[str, xr.Variable] = {}
    for name in names:
        first = layout[name]
        dtype = np.result_type(first.dtype, np.float64)   # NaN-paddable
        data = np.full((n, width), np.nan, dtype=dtype)
        for i, ds in enumerate(spectra):
            if name in ds.variables:
                data[i, :lengths[i]] = ds.variables[name].values
        variables[name] = xr.Variable(("spectrum", POINT), data, dict(first.attrs), fastpath=True)
    for name, (values, attrs) in (extra or {}).items():
        values = np.asarray(values)
        data = np.full((n, width), np.nan, dtype=np.result_type(values.dtype, np.float64))
        data[:, :min(width, values.shape[1])] = values[:, :width]
        data[np.arange(width) >= lengths[:, None]] = np.nan   # a batch pads to its longest
        variables[name] = xr.Variable(("spectrum", POINT), data, dict(attrs), fastpath=True)
    coords = {"spectrum": xr.Variable("spectrum", np.arange(n)),
              "frequency": variables.pop("frequency")}
    for key, (column, without) in _attr_columns([ds.attrs for ds in spectra]).items():
        name = key if key not in variables and key not in coords else f"{key}_attribute"
        coords[name] = xr.Variable("spectrum", column, _column_attrs(key, name, without),
                                   fastpath=True)
    return xr.Dataset(variables, coords=coords)


def _column_attrs(key: str, name: str, without: np.ndarray[Any, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {_RENAMED: key} if name != key else {}
    if without.size:
        attrs[_WITHOUT] = without
    return attrs


def _attr_columns(attrs: Sequence[Mapping[str, Any]]
                  ) -> dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """Per attribute name (first-seen order): one value per spectrum (int64 when every
    spectrum has an integer, float64 for numbers, else strings: mappings, lists and arrays
    as JSON; ``""`` or NaN where absent) and the rows without it. None is absent."""
    keys: dict[str, None] = {}
    for a in attrs:
        keys.update(dict.fromkeys(str(k) for k in a))
    columns = {}
    for key in keys:
        values = [a.get(key) for a in attrs]
        without = np.array([i for i, v in enumerate(values) if v is None], dtype=np.int64)
        present = [v for v in values if v is not None]
        if all(_is_int(v) for v in present) and not without.size:
            column = np.array(values).astype(np.int64)
        elif all(_is_int(v) or isinstance(v, float | np.floating) for v in present):
            column = np.array([np.nan if v is None else v for v in values], dtype=float)
        else:
            column = np.array(["" if v is None else _text(v) for v in values], dtype=object)
        columns[key] = (column, without)
    return columns


def _is_int(value: Any) -> bool:
    """Integers, and booleans as 0/1 (as netCDF attributes store them)."""
    return isinstance(value, int | np.integer | np.bool_)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return json.dumps(value, sort_keys=isinstance(value, Mapping), default=str)


def concat_packed(parts: Sequence[xr.Dataset | None]) -> xr.Dataset | None:
    """Packed datasets (:func:`pack_spectra`) one after another along ``spectrum``, renumbered
    0..n-1; None when there are none. One numpy copy per variable (``xr.concat`` of a
    campaign's hundreds of small datasets costs more than the fits): the point axis is padded
    to the longest spectrum, attribute columns a part lacks are filled as
    :func:`pack_spectra` fills them."""
    present = [p for p in parts if p is not None and p.sizes.get("spectrum", 0)]
    if not present:
        return None
    counts = [p.sizes["spectrum"] for p in present]
    rows = np.cumsum([0, *counts])
    width = max(p.sizes.get(POINT, 0) for p in present)
    per_point: dict[str, xr.Variable] = {}
    columns: dict[str, xr.Variable] = {}
    for part in present:
        for name, var in part.variables.items():
            target = per_point if var.dims == ("spectrum", POINT) else columns
            if name != "spectrum":
                target.setdefault(str(name), var)
    variables = {}
    for name, first in per_point.items():
        kinds = [p.variables[name].dtype for p in present if name in p.variables]
        data = np.full((rows[-1], width), np.nan, dtype=np.result_type(*kinds, np.float64))
        for part, start in zip(present, rows, strict=False):
            if name in part.variables:
                values = part.variables[name].values
                data[start:start + values.shape[0], :values.shape[1]] = values
        variables[name] = xr.Variable(("spectrum", POINT), data, dict(first.attrs), fastpath=True)
    coords = {"spectrum": xr.Variable("spectrum", np.arange(rows[-1])),
              "frequency": variables.pop("frequency")}
    for name, first in columns.items():
        pieces = [p.variables[name].values if name in p.variables else None for p in present]
        without = [np.arange(start, start + n) if name not in p.variables
                   else start + np.asarray(p.variables[name].attrs.get(_WITHOUT, []), int)
                   for p, start, n in zip(present, rows, counts, strict=False)]
        attrs = {k: v for k, v in first.attrs.items() if k != _WITHOUT}
        coords[name] = xr.Variable("spectrum", _join_columns(pieces, counts), attrs,
                                   fastpath=True)
        rows_without = np.concatenate(without).astype(np.int64)
        if rows_without.size:
            coords[name].attrs[_WITHOUT] = rows_without
    return xr.Dataset(variables, coords=coords, attrs=dict(present[0].attrs))


def _join_columns(pieces: Sequence[np.ndarray[Any, Any] | None], counts: Sequence[int]
                  ) -> np.ndarray[Any, Any]:
    """Attribute columns of consecutive parts as one (None: a part without it)."""
    kinds = {p.dtype.kind for p in pieces if p is not None}
    if kinds == {"i"} and all(p is not None for p in pieces):
        return np.concatenate([p for p in pieces if p is not None])
    if kinds <= {"i", "f"}:
        return np.concatenate([np.full(n, np.nan) if p is None else p.astype(float)
                               for p, n in zip(pieces, counts, strict=True)])
    out = []
    for p, n in zip(pieces, counts, strict=True):
        if p is None:
            out.append(np.full(n, "", dtype=object))
        elif p.dtype.kind in "if":
            out.append(np.array(["" if v != v else str(v) for v in p.tolist()], dtype=object))
        else:
            out.append(p.astype(object))
    return np.concatenate(out)


def spectrum_attrs(packed: xr.Dataset) -> list[dict[str, Any]]:
    """Each packed spectrum's attributes (those it had)."""
    n = packed.sizes.get("spectrum", 0)
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    for name, coord in packed.coords.items():
        if name == "spectrum" or coord.dims != ("spectrum",):
            continue
        key = str(coord.attrs.get(_RENAMED, name))
        without = set(np.asarray(coord.attrs.get(_WITHOUT, []), dtype=int).ravel().tolist())
        values = coord.values
        for i in range(n):
            if i in without:
                continue
            value = values[i]
            if isinstance(value, bytes):
                value = value.decode()
            out[i][key] = value.item() if isinstance(value, np.generic) else value
    return out


def unpack_spectra(packed: xr.Dataset) -> list[xr.Dataset]:
    """The canonical per-spectrum datasets of a packed dataset (:func:`pack_spectra`).

    Each gets its points up to its last finite frequency and its attributes back. Where the
    spectra differed: a variable one lacked while others had it comes back all NaN, and an
    integer attribute some lacked comes back as a float.
    """
    freq = packed["frequency"].values
    lengths = np.isfinite(freq).sum(axis=1) if freq.ndim == 2 else np.zeros(0, dtype=int)
    per_point = [name for name, var in packed.data_vars.items()
                 if var.dims == ("spectrum", POINT)]
    spectra = []
    for i, attrs in enumerate(spectrum_attrs(packed)):
        n = int(lengths[i])
        data = {name: xr.Variable("frequency", packed[name].values[i, :n],
                                  packed[name].attrs) for name in per_point}
        frequency = xr.Variable("frequency", freq[i, :n], packed["frequency"].attrs)
        spectra.append(xr.Dataset(data, coords={"frequency": frequency}, attrs=attrs))
    return spectra


def sample_spectra(node: xr.DataTree) -> Iterator[tuple[str, xr.Dataset]]:
    """A results node's spectra, ``(spectrum_id, canonical dataset)`` in spectrum order
    (none when the node has no ``spectra`` group)."""
    if "spectra" not in node.children:
        return
    for ds in unpack_spectra(node["spectra"].to_dataset()):
        yield str(ds.attrs.get("spectrum_id", "")), ds
