"""Reading a results file back into an ``xarray.DataTree`` (:func:`read_results`).

The file is read with h5py directly, as it was written (files of the earlier layout,
with a group per spectrum under ``/<sample>/spectra/``, come back packed as today's:
:mod:`eis_pipeline.packing`): each group's datasets become
variables, dimension scales give the dimension names, HDF5/netCDF bookkeeping attributes are
skipped, and xarray's CF decoding undoes the encoding (booleans, fill values). The result is
what ``xr.open_datatree(path, engine="h5netcdf")`` gives, loaded (tests/io/test_hdf5.py
checks it).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr
from h5py import h5, h5a, h5d, h5ds, h5g, h5o, h5p, h5s

from eis_pipeline.io.hdf5.errors import ResultsError
from eis_pipeline.io.hdf5.netcdf import INTERNAL_ATTRS, NOT_A_VARIABLE, encode_name
from eis_pipeline.packing import pack_spectra

__all__ = ["read_results"]


def read_results(path: str | Path) -> xr.DataTree:
    """Read a results file fully into memory (the file is closed on return).

    Complex variables come back as complex128, booleans as bool; attributes as stored
    (JSON strings stay strings: ``json.loads(tree.attrs["config"])``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such results file")
    try:
        return _read_h5(path)
    except OSError as exc:
        raise ResultsError(f"{path}: not a readable results file ({exc}); is it an HDF5 file "
                           "written by `eis-pipeline run`?") from exc


def _read_h5(path: Path) -> xr.DataTree:
    nodes: dict[str, xr.Dataset] = {}
    with h5py.File(path, "r") as h5:
        def visit(group: h5py.Group, where: str) -> None:
            datasets, groups = _members(group)
            if _per_spectrum_groups(where, datasets, groups):
                # The earlier layout (a group per spectrum): packed on reading.
                nodes[where] = pack_spectra([_read_group(*_members(child)[:1], child)
                                             for child in groups.values()])
                return
            nodes[where] = _read_group(datasets, group)
            for name, child in groups.items():
                visit(child, f"{where.rstrip('/')}/{name}")

        visit(h5, "/")
    return xr.DataTree.from_dict(nodes)


def _per_spectrum_groups(where: str, datasets: Mapping[str, h5py.Dataset],
                         groups: Mapping[str, h5py.Group]) -> bool:
    """Whether ``where`` is a sample's ``spectra`` group of the old layout
    (``/<sample>/spectra/<id>``: subgroups, no datasets)."""
    return (where.count("/") == 2 and where.endswith("/spectra") and bool(groups)
            and not datasets)


def _attr(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _members(group: h5py.Group) -> tuple[dict[str, h5py.Dataset], dict[str, h5py.Group]]:
    """``group``'s datasets and subgroups, in link order. (Opened here with one low-level
    call each: h5py's ``items()`` costs several times more per member.)"""
    datasets: dict[str, h5py.Dataset] = {}
    groups: dict[str, h5py.Group] = {}
    for name in group:
        oid = h5o.open(group.id, encode_name(name))
        if isinstance(oid, h5d.DatasetID):
            datasets[name] = h5py.Dataset(oid)
        elif isinstance(oid, h5g.GroupID):
            groups[name] = h5py.Group(oid)
    return datasets, groups


def _read_group(datasets: Mapping[str, h5py.Dataset], group: h5py.Group) -> xr.Dataset:
    # Dimension names by scale identity. (h5py's ``.name`` of a dereferenced scale asks HDF5
    # to search the file for a path, which grows with the file: identity lookups do not.)
    scales = {item.id: name for name, item in datasets.items() if h5ds.is_scale(item.id)}
    variables = {}
    for name, item in datasets.items():
        if item.id in scales:
            label = item.attrs.get("NAME")
            if label is not None and _attr(label).startswith(NOT_A_VARIABLE):
                continue                               # a dimension, not a variable
            dims: tuple[str, ...] = (name,)
        else:
            dims = tuple(_dim_name(item, axis, scales) for axis in range(item.ndim))
        data = _read_dataset(item)
        if isinstance(data, str):
            data = np.array(data, dtype=object)
        variables[name] = xr.Variable(dims, data, _user_attrs(item))
    return xr.decode_cf(xr.Dataset(variables, attrs=_user_attrs(group)))


def _read_dataset(item: h5py.Dataset) -> Any:
    """``item``'s values as h5py's ``item[()]`` (strings: ``item.asstr()[()]``) gives them;
    numeric ones read with one low-level call (a quarter of h5py's per-call cost, which
    dominates a sample's ~140 small datasets)."""
    dtype = item.dtype
    if h5py.check_string_dtype(dtype):
        return item.asstr()[()]
    shape = item.shape
    if dtype.kind not in "fiuc" or dtype.subdtype is not None or not shape or 0 in shape:
        return item[()]
    out = np.empty(shape, dtype=dtype)
    item.id.read(h5s.ALL, h5s.ALL, out)
    return out


def _user_attrs(obj: h5py.Group | h5py.Dataset) -> dict[str, Any]:
    """``obj``'s attributes but the HDF5/netCDF bookkeeping ones, which are not even read
    (dimension-scale references are slow to read, and grow with the file). In h5py's order
    and with its values; scalars of variable-length strings and numbers read with the
    low-level API (h5py's ``attrs[name]`` costs ~5x more, most of a small group's read)."""
    oid = obj["/"].id if isinstance(obj, h5py.File) else obj.id   # the root group's, not the file's
    plist = oid.get_create_plist()
    order = (h5.INDEX_CRT_ORDER if plist.get_attr_creation_order() & h5p.CRT_ORDER_TRACKED
             else h5.INDEX_NAME)
    names: list[bytes] = []
    h5a.iterate(oid, lambda name, *_: names.append(name), index_type=order)
    out: dict[str, Any] = {}
    for raw in names:
        name = raw.decode("utf-8", "surrogateescape")
        if name not in INTERNAL_ATTRS:
            out[name] = _attr(_attr_value(h5a.open(oid, raw), obj, name))
    return out


def _attr_value(attr: h5a.AttrID, obj: h5py.Group | h5py.Dataset, name: str) -> Any:
    dtype, shape = attr.dtype, attr.shape
    if shape == () and dtype.kind in "fiu" and dtype.subdtype is None:
        value = np.empty((), dtype=dtype)
        attr.read(value)
        return value[()]
    string = h5py.check_string_dtype(dtype)
    if shape == () and string is not None and string.length is None:
        value = np.empty((), dtype=dtype)
        attr.read(value)
        return bytes(value.item()).decode("utf-8", "surrogateescape")   # as h5py decodes it
    return obj.attrs[name]                                     # anything else: h5py's way


def _dim_name(item: h5py.Dataset, axis: int, scales: Mapping[Any, str]) -> str:
    if not h5ds.get_num_scales(item.id, axis):
        return f"phony_dim_{axis}"
    scale = h5ds.iterate(item.id, axis, lambda scale_id: scale_id)   # the first scale
    return scales.get(scale) or posixpath.basename(h5py.Dataset(scale).name)  # else: a parent's
