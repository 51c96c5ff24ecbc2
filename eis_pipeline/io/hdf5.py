"""The campaign results file: one netCDF4-compatible HDF5 file, written once, atomically.

Layout (DESIGN.md section 7)::

    /                         attrs: eis_pipeline_version, created, config (JSON), history
    /<sample>/                attrs: geometry, synthesis metadata
    /<sample>/spectra/<id>    frequency, impedance, impedance_fit, impedance_residual
    /<sample>/fit             (spectrum, param) value, stderr, covariance; status; statistics
    /<sample>/conductivity    (spectrum, component) resistance, conductivity (+ _stderr), ...
    /<sample>/arrhenius       (component) activation_energy, prefactor, sigma_25C (+ _stderr)
    /campaign                 one row per sample: synthesis parameters vs conductivity
    /failures                 files or spectra that could not be processed, with the reason

Encoding, so that plain h5py, netCDF-4 readers and ``xr.open_datatree(path,
engine="h5netcdf")`` all read the file without help:

- each group is a netCDF-4 group: dimensions are HDF5 dimension scales (the coordinate
  variable itself, or netCDF's "not a variable" scale for a dimension without coordinates),
  attached to every variable that uses them; xarray's CF encoding is applied first
  (``coordinates`` attributes, booleans as int8 with ``dtype = "bool"``, ``_FillValue``);
- complex variables use the nc-complex convention (as h5netcdf writes them): an HDF5
  compound ``{r, i}`` committed once at the root as ``_PFNC_DOUBLE_COMPLEX_TYPE``; h5py and
  xarray read them back as complex128 directly;
- strings are variable-length UTF-8; attributes that netCDF cannot hold are converted once,
  here: mappings and non-numeric lists become JSON strings, booleans 0/1, None is dropped.

The file is written with h5py directly rather than through ``DataTree.to_netcdf``: xarray
reopens the file for every group and h5netcdf's per-group bookkeeping grows with the number
of groups, which made a 240-spectrum campaign take tens of seconds
(``python -m bench results_io`` measures both). Datasets and attributes go through h5py's
low-level API and plain variables skip xarray's CF coder chain (both per-call Python
overheads dominated the write of a spectrum group); the bytes written are the same as with
h5py's high-level calls and ``cf_encoder``, which tests/io/test_hdf5.py checks against
xarray's own writer.

Writes go to a temporary file in the destination folder, are flushed to disk (fsync) and
renamed over the destination (``os.replace``, atomic on POSIX and Windows): a crash or a kill
during the write leaves the previous file untouched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import posixpath
import sys
import tempfile
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr
from h5py import h5a, h5d, h5ds, h5g, h5o, h5p, h5s, h5t
from xarray.conventions import cf_encoder, encode_dataset_coordinates

from eis_pipeline.exceptions import EisError

__all__ = ["ResultsError", "ResultsWriter", "describe_results", "read_results",
           "write_results"]

TMP_SUFFIX = ".tmp"
RESERVED_GROUPS = ("campaign", "failures")


class ResultsError(EisError, OSError):
    """A results file could not be written or read."""


# --------------------------------------------------------------------------- encoding

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


def _clean_attrs(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    out = {}
    for key, value in attrs.items():
        cleaned = _clean_attr(value)
        if cleaned is not None:
            out[str(key)] = cleaned
    return out


#: Attributes (or encodings) some coder of xarray's CF chain acts on; a variable with none of
#: them, no encoding and a plain dtype passes through that chain unchanged except for a NaN
#: ``_FillValue`` on floats (see :func:`_plain_cf_variables`).
_CF_KEYS = frozenset({"_FillValue", "missing_value", "scale_factor", "add_offset", "dtype",
                      "coordinates", "bounds", "_Unsigned"})


def _plain(dtype: np.dtype[Any], kinds: str) -> bool:
    """Whether ``dtype`` is of one of ``kinds`` and not float16 (which h5py converts)."""
    return dtype.kind in kinds and not (dtype.kind == "f" and dtype.itemsize == 2)


@dataclass(frozen=True)
class _Group:
    """One node, encoded: what is written into its HDF5 group."""

    attrs: dict[str, Any]
    sizes: Mapping[Hashable, int]
    variables: Mapping[Hashable, xr.Variable]


def _plain_cf_variables(ds: xr.Dataset) -> dict[Hashable, xr.Variable] | None:
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
        if var.encoding or not _plain(dtype, "fciuU") or not _CF_KEYS.isdisjoint(var.attrs):
            return None
        attrs = _clean_attrs(var.attrs)
        if dtype.kind == "f":
            attrs["_FillValue"] = dtype.type(np.nan)
        # .values: an index coordinate converts its pandas index to numpy once, here
        out[name] = xr.Variable(var.dims, var.values, attrs, fastpath=True)
    return out


def _encode_dataset(ds: xr.Dataset) -> _Group:
    """``ds`` as written: netCDF-safe attributes, then xarray's CF encoding."""
    attrs = _clean_attrs(ds.attrs)
    variables = _plain_cf_variables(ds)
    if variables is None:
        ds = ds.copy(deep=False)
        ds.attrs = attrs
        for var in ds.variables.values():
            var.attrs = _clean_attrs(var.attrs)
        variables, attrs = cf_encoder(*encode_dataset_coordinates(ds))
    return _Group(dict(attrs), ds.sizes, variables)


def _encode_tree(tree: xr.DataTree, provenance: Mapping[str, Any], *,
                 root_attrs: bool = True) -> list[tuple[str, _Group]]:
    """``tree``'s nodes as (path relative to it, "" for itself; encoded group) pairs in tree
    order, with netCDF-safe attributes and, at its root, ``provenance``. (Pairs, not a new
    tree: building a DataTree copies every subtree again, the bulk of the write time.)"""
    nodes: list[tuple[str, _Group]] = []
    for node in tree.subtree:
        group = _encode_dataset(node.to_dataset(inherit=False))
        if node is tree and root_attrs:
            group.attrs.update(_clean_attrs(provenance))
        nodes.append(("" if node is tree else node.relative_to(tree), group))
    return nodes


def _provenance(tree: xr.DataTree, config: str | Mapping[str, Any] | None,
                history: str | None) -> dict[str, Any]:
    from eis_pipeline import __version__

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


# --------------------------------------------------------------------------- storage

_STR_DTYPE = h5py.string_dtype()     # variable-length UTF-8
_NOT_A_VARIABLE = "This is a netCDF dimension but not a netCDF variable."
_COMPLEX_TYPES = {np.dtype(np.complex128): "_PFNC_DOUBLE_COMPLEX_TYPE",
                  np.dtype(np.complex64): "_PFNC_FLOAT_COMPLEX_TYPE"}
#: HDF5/netCDF bookkeeping attributes, not user attributes.
_INTERNAL_ATTRS = frozenset({"CLASS", "NAME", "DIMENSION_LIST", "REFERENCE_LIST",
                             "_Netcdf4Dimid", "_Netcdf4Coordinates", "_NCProperties",
                             "_nc3_strict"})


class _Writer:
    """Writes encoded groups into an open h5py file as netCDF-4 groups.

    Datasets and attributes are created with h5py's low-level API, with the property lists
    and HDF5 types h5py's high-level calls would make (so the file is the same), built once
    here rather than per call: the high-level ``create_dataset`` and ``attrs[...] = ...``
    spend most of their time in Python bookkeeping, ~3/4 of the write time for a spectrum
    group. Values without a fast path (byte strings, bool or object arrays, ...) go through
    h5py's high-level API.
    """

    def __init__(self, h5: h5py.File) -> None:
        self.h5 = h5
        self.types: dict[np.dtype[Any], h5py.Datatype] = {}
        self._dcpls: dict[tuple[str, bytes], h5p.PropDCID] = {}
        self._htypes: dict[np.dtype[Any], tuple[h5t.TypeID, h5t.TypeID]] = {}
        self._str = (h5t.py_create(_STR_DTYPE, logical=True), h5t.py_create(_STR_DTYPE))
        self._scalar = h5s.create_simple(())

    def dtype_for(self, dtype: np.dtype[Any]) -> Any:
        if dtype.kind in "UO":
            return h5py.string_dtype()
        if dtype in _COMPLEX_TYPES:
            if dtype not in self.types:
                self.h5[_COMPLEX_TYPES[dtype]] = dtype       # a committed (named) type
                self.types[dtype] = self.h5[_COMPLEX_TYPES[dtype]]
            return self.types[dtype]
        return dtype

    # ----------------------------------------------------------------- attributes

    def _htype(self, dtype: np.dtype[Any]) -> tuple[h5t.TypeID, h5t.TypeID]:
        """HDF5 file and memory types for an attribute of ``dtype`` (as h5py makes them)."""
        types = self._htypes.get(dtype)
        if types is None:
            types = self._htypes[dtype] = (h5t.py_create(dtype, logical=True),
                                           h5t.py_create(dtype))
        return types

    def attrs(self, obj: h5py.Group | h5py.Dataset, attrs: Mapping[str, Any], *,
              new: bool = False) -> None:
        """Set ``attrs`` on ``obj`` (``new``: it has no attributes yet)."""
        oid = obj.id
        for key, value in attrs.items():
            name = _encode_name(key)
            data = _fast_attr(value)
            if data is None:
                obj.attrs[key] = value                           # h5py's general path
                continue
            if data.dtype.kind == "O":
                htype, mtype = self._str
            else:
                htype, mtype = self._htype(data.dtype)
            space = self._scalar if data.ndim == 0 else h5s.create_simple(data.shape)
            if not new and h5a.exists(oid, name):
                h5a.delete(oid, name)
            attr = h5a.create(oid, name, htype, space)
            try:
                attr.write(data, mtype=mtype)
            finally:
                attr.close()

    # ----------------------------------------------------------------- datasets

    def _dcpl(self, fill: np.ndarray[Any, Any] | None) -> h5p.PropDCID:
        key = ("", b"") if fill is None else (fill.dtype.str, fill.tobytes())
        dcpl = self._dcpls.get(key)
        if dcpl is None:
            dcpl = h5p.create(h5p.DATASET_CREATE)
            if fill is not None:
                dcpl.set_fill_value(fill)
            dcpl.set_obj_track_times(False)
            dcpl.set_attr_creation_order(0)
            self._dcpls[key] = dcpl
        return dcpl

    def variable(self, group: h5py.Group, name: str, var: xr.Variable) -> h5py.Dataset:
        data = np.asarray(var.values)
        attrs = dict(var.attrs)
        fill = attrs.pop("_FillValue", None)
        if data.dtype.kind == "U":
            data = data.astype(object)
        fillvalue = None
        if fill is not None and data.dtype.kind in "fiu":
            fillvalue = np.asarray(fill, dtype=data.dtype)
            attrs["_FillValue"] = fillvalue
        dtype = self.dtype_for(data.dtype)
        if _plain(data.dtype, "fiuc"):
            data = np.asarray(data, order="C")
            tid = dtype.id if isinstance(dtype, h5py.Datatype) else self._htype(data.dtype)[0]
            dsid = h5d.create(group.id, _encode_name(name), tid, h5s.create_simple(data.shape),
                              dcpl=self._dcpl(fillvalue))
            dsid.write(h5s.ALL, h5s.ALL, data)
            dset = h5py.Dataset(dsid)
        else:                                                    # h5py's general path
            kwargs = {} if fillvalue is None else {"fillvalue": fillvalue}
            dset = group.create_dataset(name, data=data, dtype=dtype, **kwargs)
        self.attrs(dset, attrs, new=True)
        return dset

    def group(self, group: h5py.Group, encoded: _Group) -> None:
        variables = encoded.variables
        self.attrs(group, encoded.attrs)
        scales: dict[Hashable, h5py.Dataset] = {}
        for dim, size in encoded.sizes.items():
            coord = variables.get(dim)
            if coord is not None and coord.dims == (dim,):
                scale = self.variable(group, str(dim), coord)
                h5ds.set_scale(scale.id, _encode_name(str(dim)))
            else:   # netCDF's representation of a dimension without a coordinate variable
                scale = group.create_dataset(str(dim), shape=(size,), dtype="f4")
                scale.make_scale(f"{_NOT_A_VARIABLE}{size:10d}")
            scales[dim] = scale
        for name, var in variables.items():
            if name in scales:
                continue
            dset = self.variable(group, str(name), var)
            for axis, dim in enumerate(var.dims):
                h5ds.attach_scale(dset.id, scales[dim].id, axis)


def _fast_attr(value: Any) -> np.ndarray[Any, Any] | None:
    """``value`` as the array h5py would write for it, if it is a str or a numeric scalar or
    array; else None (h5py's high-level API handles it)."""
    if type(value) is str:
        return np.array(value, dtype=_STR_DTYPE)
    if type(value) in (int, float) or isinstance(value, np.number):
        value = np.asarray(value)
    if isinstance(value, np.ndarray) and _plain(value.dtype, "fiu"):
        return np.asarray(value, order="C")
    return None


def _encode_name(name: str) -> bytes:
    """An HDF5 object or attribute name as h5py encodes it (ASCII if it can, else UTF-8)."""
    try:
        return name.encode("ascii")
    except UnicodeEncodeError:
        return name.encode("utf-8")


def _write_node(writer: _Writer, nodes: list[tuple[str, _Group]], at: str) -> None:
    """Write encoded ``nodes`` (:func:`_encode_tree`) as the group at path ``at`` and the
    groups below it."""
    base = at.strip("/")
    # Groups opened during this call, by path: nodes come in tree order, so a node's parent
    # is at hand (a sample's hundreds of spectra do not each walk the path from the root).
    opened: dict[str, h5py.Group] = {}
    for path, encoded in nodes:
        full = "/".join(p for p in (base, path) if p and p != ".")
        parent, _, name = full.rpartition("/")
        group = opened[parent] if parent in opened else _require_group(writer.h5, parent)
        if name:
            group = group[name] if name in group else group.create_group(name,
                                                                         track_order=True)
        opened[full] = group
        writer.group(group, encoded)


def _require_group(group: h5py.Group, path: str) -> h5py.Group:
    """The group at ``path`` below ``group``, created (creation order tracked) if needed."""
    for part in path.split("/") if path else ():
        group = group[part] if part in group else group.create_group(part, track_order=True)
    return group


class ResultsWriter:
    """Write a results file piece by piece, still atomically.

    Groups are written into a temporary file in the destination folder as they become
    available (so a campaign never needs all its spectra in memory); :meth:`close` (or leaving
    the ``with`` block without an exception) flushes it to disk and renames it over the
    destination. An exception, or a kill, leaves the previous file untouched.

    Examples
    --------
    >>> with ResultsWriter("results.h5", config="{}") as out:      # doctest: +SKIP
    ...     out.write(sample_tree, "/mill045")
    ...     out.write(campaign_tree, "/campaign")
    """

    def __init__(self, path: str | Path, *, config: str | Mapping[str, Any] | None = None,
                 history: str | None = None, attrs: Mapping[str, Any] | None = None) -> None:
        from eis_pipeline import __version__

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(self.path)
        self.tmp = _temp_path(self.path)
        try:
            # Creation order is tracked (as netCDF-4 does): groups read back in order.
            self.h5 = h5py.File(self.tmp, "w", track_order=True)
            self.h5.attrs["_NCProperties"] = np.bytes_(
                f"version=2,eis_pipeline={__version__},h5py={h5py.__version__},"
                f"hdf5={h5py.version.hdf5_version}")
            root = xr.DataTree(xr.Dataset(attrs=dict(attrs or {})))
            self._writer = _Writer(self.h5)
            self.write(root, "/", provenance=_provenance(root, config, history))
        except BaseException as exc:
            self.discard()
            raise self._error(exc) from exc

    def _error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, OSError | TypeError | ValueError):
            return ResultsError(f"{self.path}: could not write results: {type(exc).__name__}: "
                                f"{exc}; the previous file (if any) is unchanged")
        return exc

    def write(self, tree: xr.DataTree, at: str, *,
              provenance: Mapping[str, Any] | None = None) -> None:
        """Write ``tree`` (netCDF-safe encoding applied here) as the group at path ``at``."""
        try:
            _write_node(self._writer, _encode_tree(tree, provenance or {},
                                                   root_attrs=provenance is not None), at)
        except BaseException as exc:
            self.discard()
            raise self._error(exc) from exc

    def close(self) -> Path:
        """Finish: flush to disk and rename into place."""
        try:
            self.h5.close()
            _fsync(self.tmp)
            os.replace(self.tmp, self.path)
            _fsync_dir(self.path.parent)
        except BaseException as exc:
            self.discard()
            raise self._error(exc) from exc
        return self.path

    def discard(self) -> None:
        """Abandon the file being written; the previous one stays as it was."""
        with contextlib.suppress(Exception):
            self.h5.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


def _attr(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _members(group: h5py.Group) -> tuple[dict[str, h5py.Dataset], dict[str, h5py.Group]]:
    """``group``'s datasets and subgroups, in link order. (Opened here with one low-level
    call each: h5py's ``items()`` costs several times more per member.)"""
    datasets: dict[str, h5py.Dataset] = {}
    groups: dict[str, h5py.Group] = {}
    for name in group:
        oid = h5o.open(group.id, _encode_name(name))
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
            if label is not None and _attr(label).startswith(_NOT_A_VARIABLE):
                continue                               # a dimension, not a variable
            dims: tuple[str, ...] = (name,)
        else:
            dims = tuple(_dim_name(item, axis, scales) for axis in range(item.ndim))
        data = item.asstr()[()] if h5py.check_string_dtype(item.dtype) else item[()]
        if isinstance(data, str):
            data = np.array(data, dtype=object)
        variables[name] = xr.Variable(dims, data, _user_attrs(item))
    return xr.decode_cf(xr.Dataset(variables, attrs=_user_attrs(group)))


def _user_attrs(obj: h5py.Group | h5py.Dataset) -> dict[str, Any]:
    """``obj``'s attributes but the HDF5/netCDF bookkeeping ones, which are not even read
    (dimension-scale references are slow to read, and grow with the file)."""
    attrs = obj.attrs
    return {k: _attr(attrs[k]) for k in attrs if k not in _INTERNAL_ATTRS}


def _dim_name(item: h5py.Dataset, axis: int, scales: Mapping[Any, str]) -> str:
    if not h5ds.get_num_scales(item.id, axis):
        return f"phony_dim_{axis}"
    scale = h5ds.iterate(item.id, axis, lambda scale_id: scale_id)   # the first scale
    return scales.get(scale) or posixpath.basename(h5py.Dataset(scale).name)  # else: a parent's


def _read_h5(path: Path) -> xr.DataTree:
    nodes: dict[str, xr.Dataset] = {}
    with h5py.File(path, "r") as h5:
        def visit(group: h5py.Group, where: str) -> None:
            datasets, groups = _members(group)
            nodes[where] = _read_group(datasets, group)
            for name, child in groups.items():
                visit(child, f"{where.rstrip('/')}/{name}")

        visit(h5, "/")
    return xr.DataTree.from_dict(nodes)


# --------------------------------------------------------------------------- writing

def _temp_path(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX,
                                dir=path.parent)
    os.close(fd)
    return Path(name)


def _remove_stale_temps(path: Path) -> None:
    """Delete temporary files left by writers of ``path`` that were killed (pid gone)."""
    if os.name != "posix":   # os.kill(pid, 0) probes a process only on POSIX
        return
    for tmp in path.parent.glob(f".{path.name}.*{TMP_SUFFIX}"):
        try:
            pid = int(tmp.name[len(path.name) + 2:].split(".", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                tmp.unlink()
        except OSError:   # exists but not ours (PermissionError): leave it alone
            continue


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":   # directories cannot be opened for fsync on Windows
        return
    with contextlib.suppress(OSError):
        _fsync(folder)


def write_results(tree: xr.DataTree, path: str | Path, *,
                  config: str | Mapping[str, Any] | None = None,
                  history: str | None = None) -> Path:
    """Write a campaign's results atomically.

    Parameters
    ----------
    tree : xarray.DataTree
        The results, laid out as in the module docstring. Not modified.
    path : path
        Destination ``.h5`` file; its folder is created if needed. An existing file is
        replaced only once the new one is complete and on disk.
    config : str or mapping, optional
        The campaign config (``CampaignConfig.to_json()``) for the root ``config`` attribute;
        default: the tree's own ``config`` attribute, else ``"{}"``.
    history : str, optional
        What produced the file (default: the command line), appended to ``history``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ResultsError
        If the file cannot be written; the previous file, if any, is left intact.
    """
    config = tree.attrs.get("config", "{}") if config is None else config
    with ResultsWriter(path, config=config, history=history,
                       attrs={str(k): v for k, v in tree.attrs.items() if k != "config"}) as out:
        for child in tree.children.values():
            out.write(child, child.name or "")
    return Path(path)


# --------------------------------------------------------------------------- reading

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


def _fmt_sigma(value: float, err: float | None) -> str:
    if not np.isfinite(value):
        return "-"
    if err is not None and np.isfinite(err):
        return f"{value:.2e} ± {err:.1e}"
    return f"{value:.2e}"


def describe_results(path: str | Path) -> str:
    """A human-readable summary of a results file (for ``eis-pipeline inspect``).

    Lists the samples with their number of spectra, fit status counts and σ(25 °C) per
    component (when the file has Arrhenius results), then the failures.
    """
    path = Path(path)
    tree = read_results(path)
    attrs = tree.attrs
    try:
        config = json.loads(str(attrs.get("config", "{}")))
    except json.JSONDecodeError:
        config = {}
    samples = [name for name in tree.children if name not in RESERVED_GROUPS]
    lines = [
        f"{path}",
        f"  campaign    {config.get('name', '') or '(unnamed)'}",
        f"  created     {attrs.get('created', 'unknown')} by eis_pipeline "
        f"{attrs.get('eis_pipeline_version', '?')}",
        f"  samples     {len(samples)}",
    ]
    components: list[str] = []
    for name in samples:
        arr = tree[name].get("arrhenius")
        if isinstance(arr, xr.DataTree) and "component" in arr.ds.coords:
            components += [str(c) for c in arr.ds["component"].values if str(c) not in components]
    head = f"  {'sample':<16}{'spectra':>8}{'fits ok':>9}{'failed':>8}"
    head += "".join(f"  {'σ25 ' + c + ' (S/cm)':>26}" for c in components)
    lines += ["", head]
    for name in samples:
        node = tree[name]
        n_spectra: int | str = "-"
        if "spectra" in node.children:
            n_spectra = len(node["spectra"].children)
        ok: int | str = "-"
        bad: int | str = "-"
        if "fit" in node.children and "status" in node["fit"].ds:
            status = np.asarray(node["fit"].ds["status"].values)
            ok, bad = int(np.sum(status == 0)), int(np.sum(status != 0))
            if n_spectra == "-":
                n_spectra = int(status.size)
        row = f"  {name:<16}{n_spectra!s:>8}{ok!s:>9}{bad!s:>8}"
        arr_ds = node["arrhenius"].ds if "arrhenius" in node.children else None
        for comp in components:
            text = "-"
            if arr_ds is not None and "sigma_25C" in arr_ds and comp in arr_ds["component"]:
                value = float(arr_ds["sigma_25C"].sel(component=comp))
                err = (float(arr_ds["sigma_25C_stderr"].sel(component=comp))
                       if "sigma_25C_stderr" in arr_ds else None)
                text = _fmt_sigma(value, err)
            row += f"  {text:>26}"
        lines.append(row)
    if "campaign" in tree.children and tree["campaign"].attrs.get("best_sample"):
        lines += ["", f"  best sample {tree['campaign'].attrs['best_sample']} "
                      "(highest total σ at 25 °C)"]
    if "failures" in tree.children:
        fails = tree["failures"].ds
        dims = list(fails.sizes)
        n = int(fails.sizes[dims[0]]) if dims else 0
        lines += ["", f"  failures    {n}"]
        for i in range(n):
            fields = [f"{fails[v].values[i]!s}" for v in fails.data_vars
                      if fails[v].dims == (dims[0],)]
            lines.append("    " + " | ".join(fields))
    else:
        lines += ["", "  failures    0"]
    return "\n".join(lines)
