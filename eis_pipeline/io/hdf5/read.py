"""Reading a results file back into an ``xarray.DataTree`` (:func:`read_results`).

The file is read with h5py's low-level API in one pass, as it was written (files of the
earlier layout, with a group per spectrum under ``/<sample>/spectra/``, come back packed as
today's: :mod:`eis_pipeline.packing`): each group's datasets become variables, dimension
scales give the dimension names, HDF5/netCDF bookkeeping attributes are skipped, and the CF
encoding is undone (booleans, fill values, ``coordinates``). The result is what
``xr.open_datatree(path, engine="h5netcdf")`` gives, loaded (tests/io/test_hdf5.py and
tests/io/test_results_engine.py check it).

A sample is ~120 small datasets, so the cost is per object, not per byte: h5py's high-level
wrappers, xarray's CF decoding chain and its Dataset/DataTree constructors (each of which
copies or re-validates every variable) cost several times HDF5's own work. Hence: objects
are opened once with low-level calls and read into buffers of their own dtype; a group whose
variables hold nothing for xarray's decoders to do but what :func:`_plain_decoded` does
(float ``_FillValue = NaN``, int8 booleans, ``coordinates``) is decoded there, with the
same variables, attributes and encodings as ``xr.decode_cf`` gives (any other group goes
through ``xr.decode_cf`` itself); Datasets are built from their parts and the tree from its
nodes, without the copies of ``DataTree.from_dict``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr
from h5py import h5, h5a, h5d, h5ds, h5g, h5o, h5p, h5s, h5t

from eis_pipeline.io.hdf5.errors import ResultsError
from eis_pipeline.io.hdf5.netcdf import INTERNAL_ATTRS, NOT_A_VARIABLE
from eis_pipeline.packing import pack_spectra

_TIME_UNITS: frozenset[str] | None
try:    # the units xarray decodes to timedeltas
    from xarray.coding.times import TIME_UNITS as _TIME_UNITS
except ImportError:   # pragma: no cover - then every variable with units takes the CF chain
    _TIME_UNITS = None

__all__ = ["read_results"]

#: xarray's constructor from ready-made parts (private API; the public constructor, which
#: merges and re-validates every variable, is the fallback should a future xarray drop it).
_CONSTRUCT_DIRECT = getattr(xr.Dataset, "_construct_direct", None)

#: Attributes on which some decoder of xarray's CF chain acts in a way _plain_decoded does
#: not reproduce: a variable carrying one goes through ``xr.decode_cf``.
_CF_ACTIVE = frozenset({"missing_value", "scale_factor", "add_offset", "_Unsigned",
                        "_Encoding", "calendar", "bounds", "grid_mapping", "cell_measures",
                        "formula_terms", "ancillary_variables", "geometry", "node_coordinates",
                        "node_count", "part_node_count", "interior_ring"})

# A raw variable as read: (dims, data, attrs).
_Raw = tuple[tuple[str, ...], np.ndarray[Any, Any], dict[str, Any]]


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
    with h5py.File(path, "r") as h5file:
        root = h5o.open(h5file.id, b"/")
        datasets, groups = _members(root)
        scales = _scales(datasets)
        tree = xr.DataTree(_dataset(datasets, root, scales, {}))   # the root: nothing inherited
        _read_children(tree, groups, "/", scales)
    return tree


def _read_children(node: xr.DataTree, groups: Mapping[str, h5g.GroupID], where: str,
                   inherited: Mapping[h5d.DatasetID, str]) -> None:
    """Read ``groups`` (the subgroups of ``node``'s group at path ``where``) and their
    subtrees into ``node``. Top down, as ``DataTree.from_dict`` attaches nodes (so coordinate
    inheritance and alignment checks see the same ancestors), without its copies."""
    children: dict[str, xr.DataTree] = {}
    below: list[tuple[str, dict[str, h5g.GroupID], dict[h5d.DatasetID, str]]] = []
    for name, gid in groups.items():
        path = f"{where.rstrip('/')}/{name}"
        datasets, subgroups = _members(gid)
        if _per_spectrum_groups(path, datasets, subgroups):
            # The earlier layout (a group per spectrum): packed on reading.
            packed = []
            for child in subgroups.values():
                child_datasets = _members(child)[0]
                packed.append(_dataset(child_datasets, child, _scales(child_datasets),
                                       inherited))
            children[name] = xr.DataTree(pack_spectra(packed))
            continue
        scales = _scales(datasets)
        children[name] = xr.DataTree(_dataset(datasets, gid, scales, inherited))
        below.append((name, subgroups, {**inherited, **scales}))
    node.children = children        # attached as they are (DataTree(children=...) copies)
    for name, subgroups, scales in below:
        if subgroups:
            _read_children(node.children[name], subgroups, f"{where.rstrip('/')}/{name}",
                           scales)


def _per_spectrum_groups(where: str, datasets: Mapping[str, h5d.DatasetID],
                         groups: Mapping[str, h5g.GroupID]) -> bool:
    """Whether ``where`` is a sample's ``spectra`` group of the old layout
    (``/<sample>/spectra/<id>``: subgroups, no datasets)."""
    return (where.count("/") == 2 and where.endswith("/spectra") and bool(groups)
            and not datasets)


# --------------------------------------------------------------------------- HDF5 objects

def _order(flags: int) -> int:
    """The index h5py iterates in: creation order where it is tracked, else names."""
    return h5.INDEX_CRT_ORDER if flags & h5p.CRT_ORDER_TRACKED else h5.INDEX_NAME


def _members(gid: h5g.GroupID) -> tuple[dict[str, h5d.DatasetID], dict[str, h5g.GroupID]]:
    """``gid``'s datasets and subgroups in h5py's order (committed datatypes skipped), each
    opened once with a low-level call (h5py's ``items()`` costs several times more)."""
    names: list[bytes] = []
    order = _order(gid.get_create_plist().get_link_creation_order())
    gid.links.iterate(names.append, idx_type=order)
    datasets: dict[str, h5d.DatasetID] = {}
    groups: dict[str, h5g.GroupID] = {}
    for raw in names:
        oid = h5o.open(gid, raw)
        name = raw.decode("utf-8", "surrogateescape")      # as h5py decodes names
        if isinstance(oid, h5d.DatasetID):
            datasets[name] = oid
        elif isinstance(oid, h5g.GroupID):
            groups[name] = oid
    return datasets, groups


def _scales(datasets: Mapping[str, h5d.DatasetID]) -> dict[h5d.DatasetID, str]:
    """A group's dimension scales, by identity (h5py ids compare by file and address), with
    the names of the dimensions they are."""
    return {oid: name for name, oid in datasets.items() if h5ds.is_scale(oid)}


def _attrs(oid: Any, internal: bool = False) -> dict[str, Any]:
    """``oid``'s attributes in h5py's order and with its values; the HDF5/netCDF bookkeeping
    ones are left out (and not even read: dimension-scale references are slow to read),
    unless ``internal`` (then ``NAME`` is read, the others skipped all the same). Scalars of
    numbers and variable-length strings are read with low-level calls (h5py's
    ``attrs[name]`` costs ~5x more, most of a small group's read); anything else through
    h5py."""
    names: list[bytes] = []
    if h5a.get_num_attrs(oid) > 1:
        order = _order(oid.get_create_plist().get_attr_creation_order())
    else:
        order = h5.INDEX_NAME                          # one attribute: any order is its
    h5a.iterate(oid, lambda raw, *_: names.append(raw), index_type=order)
    out: dict[str, Any] = {}
    for raw in names:
        name = raw.decode("utf-8", "surrogateescape")
        if name in INTERNAL_ATTRS and not (internal and name == "NAME"):
            continue                                   # not even opened
        value = _attr_value(h5a.open(oid, raw))
        if value is _UNREAD:
            wrapper = h5py.Dataset(oid) if isinstance(oid, h5d.DatasetID) else h5py.Group(oid)
            value = wrapper.attrs[name]                    # anything else: h5py's way
        out[name] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return out


_UNREAD = object()

#: numpy dtypes of scalar attributes read directly, by HDF5 class and size; read with the
#: native memory type, their values (numpy scalars) are those h5py returns.
_SCALAR_DTYPES: dict[tuple[int, ...], np.dtype[Any]] = {
    (h5t.FLOAT, 4): np.dtype(np.float32), (h5t.FLOAT, 8): np.dtype(np.float64),
    **{(h5t.INTEGER, size, h5t.SGN_2): np.dtype(f"i{size}") for size in (1, 2, 4, 8)},
    **{(h5t.INTEGER, size, h5t.SGN_NONE): np.dtype(f"u{size}") for size in (1, 2, 4, 8)}}
_MEMORY_TYPES = {dtype: h5t.py_create(dtype) for dtype in _SCALAR_DTYPES.values()}
#: variable-length strings by character set (False: ASCII, True: UTF-8), h5py's dtypes
_VLEN_STR = (h5py.string_dtype("ascii"), h5py.string_dtype("utf-8"))


def _attr_value(attr: h5a.AttrID) -> Any:
    """A scalar attribute's value as h5py's ``attrs[name]`` gives it, or _UNREAD if it is
    not a number or a variable-length string."""
    if attr.get_space().get_simple_extent_type() != h5s.SCALAR:
        return _UNREAD
    tid = attr.get_type()
    cls = tid.get_class()
    if cls == h5t.FLOAT:
        dtype = _SCALAR_DTYPES.get((cls, tid.get_size()))
    elif cls == h5t.INTEGER:
        dtype = _SCALAR_DTYPES.get((cls, tid.get_size(), tid.get_sign()))
    elif cls == h5t.STRING and not tid.is_variable_str():
        value = np.empty((), dtype=f"S{tid.get_size()}")   # as h5py reads it: np.bytes_
        attr.read(value, mtype=tid)
        return value[()]
    elif cls == h5t.STRING:
        value = np.empty((), dtype=_VLEN_STR[tid.get_cset() == h5t.CSET_UTF8])
        attr.read(value)
        return bytes(value.item()).decode("utf-8", "surrogateescape")   # as h5py decodes it
    else:
        return _UNREAD
    if dtype is None:
        return _UNREAD
    value = np.empty((), dtype=dtype)
    attr.read(value, mtype=_MEMORY_TYPES[dtype])
    return value[()]


def _values(oid: h5d.DatasetID, dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """A dataset's values as h5py's ``item[()]`` gives them (variable-length strings: as
    ``item.asstr()[()]`` does), as an array (0-d for a scalar), read with one low-level call
    (a quarter of h5py's per-call cost, which dominates a sample's ~120 small datasets)."""
    space = oid.get_space()
    if space.get_simple_extent_type() == h5s.NULL:
        return np.asarray(h5py.Dataset(oid)[()])        # h5py's way (an Empty)
    shape = space.get_simple_extent_dims()
    string = h5py.check_string_dtype(dtype)
    if string is not None and string.length is None:
        raw = np.empty(shape, dtype=dtype)
        if raw.size:
            oid.read(h5s.ALL, h5s.ALL, raw)
        # h5py's asstr(): each item decoded with the dataset's encoding (strict)
        return np.array([item.decode(string.encoding) if isinstance(item, bytes) else item
                         for item in raw.flat], dtype=object).reshape(shape)
    if dtype.kind not in "fiuc" or dtype.subdtype is not None:
        return np.asarray(h5py.Dataset(oid)[()])        # h5py's way
    out = np.empty(shape, dtype=dtype)
    if out.size:
        oid.read(h5s.ALL, h5s.ALL, out)
    return out


def _dim_name(oid: h5d.DatasetID, axis: int, scales: Mapping[Any, str]) -> str:
    """The name of ``oid``'s dimension ``axis``: its first scale's, by identity (h5py's
    ``.name`` of a dereferenced scale asks HDF5 to search the file for a path, which grows
    with the file); ``phony_dim_<axis>`` (as h5netcdf names it) if it has none."""
    if not h5ds.get_num_scales(oid, axis):
        return f"phony_dim_{axis}"
    scale = h5ds.iterate(oid, axis, lambda scale_id: scale_id)   # the first scale
    return scales.get(scale) or posixpath.basename(h5py.Dataset(scale).name)


def _dataset(datasets: Mapping[str, h5d.DatasetID], gid: h5g.GroupID,
             scales: Mapping[h5d.DatasetID, str],
             inherited: Mapping[h5d.DatasetID, str]) -> xr.Dataset:
    """A group's variables (``datasets``) and attributes, decoded, as a Dataset.
    ``inherited``: the scales of the groups above, which dimensions may also be."""
    known = {**inherited, **scales} if inherited else scales
    raw: dict[str, _Raw] = {}
    for name, oid in datasets.items():
        attrs = _attrs(oid, internal=oid in scales)
        if oid in scales:
            label = attrs.pop("NAME", None)
            if isinstance(label, str) and label.startswith(NOT_A_VARIABLE):
                continue                               # a dimension, not a variable
            dims: tuple[str, ...] = (name,)
        else:
            dims = tuple(_dim_name(oid, axis, known) for axis in range(oid.rank))
        raw[name] = (dims, _values(oid, oid.dtype), attrs)
    group_attrs = _attrs(gid)
    decoded = _plain_decoded(raw, group_attrs)
    if decoded is None:
        variables = {name: xr.Variable(*parts) for name, parts in raw.items()}
        return xr.decode_cf(xr.Dataset(variables, attrs=group_attrs))
    return _assemble(*decoded, group_attrs)


# --------------------------------------------------------------------------- decoding

def _plain_decoded(raw: Mapping[str, _Raw], group_attrs: Mapping[str, Any]
                   ) -> tuple[dict[str, xr.Variable], set[str]] | None:
    """``raw``'s variables decoded as ``xr.decode_cf`` decodes them, and the names it makes
    coordinates; None if some variable needs more than this does.

    What the CF chain does to the variables a results file holds (numbers, complex numbers,
    strings; the attributes our writer sets): a float's ``_FillValue = NaN`` moves to its
    encoding (NaN masks nothing), ``dtype = "bool"`` turns int8 into bool, ``coordinates``
    moves to the encoding and makes the variables it names coordinates, and the encoding
    records the stored dtype. A fill value that masks something, scale/offset packing, time
    units, char arrays, byte order, and CF's other variable-naming attributes are left to
    the chain (tests/io/test_results_read.py checks both give identical trees).
    """
    if "coordinates" in group_attrs:
        return None
    variables: dict[str, xr.Variable] = {}
    coord_names: set[str] = set()
    for name, (dims, data, attrs) in raw.items():
        dtype = data.dtype
        kind = dtype.kind
        if not ((kind in "fiuc" and dtype.isnative) or kind == "O"):
            return None
        if not _CF_ACTIVE.isdisjoint(attrs):
            return None
        if name in dims and dims != (name,):
            return None                                # xarray refuses it: let it say so
        attrs = dict(attrs)
        encoding: dict[str, Any] = {}
        if "_FillValue" in attrs:
            fill = attrs.pop("_FillValue")
            if kind != "f" or not isinstance(fill, float | np.floating) or not np.isnan(fill):
                return None
            encoding["_FillValue"] = fill
        if "units" in attrs:
            units = attrs["units"]
            if (not isinstance(units, str) or "since" in units or _TIME_UNITS is None
                    or units in _TIME_UNITS):
                return None
        if "dtype" in attrs:
            if attrs["dtype"] != "bool" or kind not in "iu":
                return None
            encoding["dtype"] = attrs.pop("dtype")
            data = data.astype(bool)
        else:
            encoding["dtype"] = dtype
        if "coordinates" in attrs:
            coordinates = attrs.pop("coordinates")
            if not isinstance(coordinates, str):
                return None
            encoding["coordinates"] = coordinates
            coord_names.update(c for c in coordinates.split() if c in raw)
        variables[name] = xr.Variable(dims, data, attrs, encoding, fastpath=True)
    return variables, coord_names


def _assemble(variables: dict[str, xr.Variable], coord_names: set[str],
              attrs: dict[str, Any]) -> xr.Dataset:
    """The Dataset ``xr.Dataset(variables, attrs=attrs).set_coords(coord_names)`` gives
    (dimension coordinates indexed), built from its parts."""
    dims: dict[Hashable, int] = {}
    for var in variables.values():
        for dim, size in zip(var.dims, var.shape, strict=True):
            if dims.setdefault(dim, size) != size:
                return xr.Dataset(variables, attrs=attrs)   # xarray's error for it
    if _CONSTRUCT_DIRECT is None:   # pragma: no cover - a future xarray without it
        return xr.Dataset(variables, attrs=attrs).set_coords(coord_names & set(variables))
    indexes = {}
    for name, var in variables.items():
        if var.dims == (name,):
            index = xr.indexes.PandasIndex.from_variables({name: var}, options={})
            variables[name] = index.create_variables({name: var})[name]
            indexes[name] = index
            coord_names.add(name)
    return _CONSTRUCT_DIRECT(variables, coord_names, dims, attrs, indexes)
