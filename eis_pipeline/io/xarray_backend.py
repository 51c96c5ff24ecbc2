"""The ``"eis"`` xarray backend: ``xr.open_dataset(path, engine="eis")``.

Any file :func:`eis_pipeline.read_spectra` reads opens through xarray too. A file holds one or
more sweeps: ``open_dataset`` returns one (``sweep=0`` by default), ``open_datatree`` returns
all of them as children ``sweep_0``, ``sweep_1``, ...

A campaign's results file (HDF5, written by ``eis-pipeline run``) opens through the same
engine with :func:`eis_pipeline.io.hdf5.read_results`: ``xr.open_datatree(path,
engine="eis")`` gives what ``engine="h5netcdf"`` gives, loaded, in a fraction of the time
(h5netcdf opens each dataset by path some 30 times and names each dimension by asking HDF5
to search the file for the scale's path, which grows with samples x variables:
docs/results.md). ``group=`` selects a node (``open_dataset`` then returns that node).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import xarray as xr
from xarray.backends import BackendEntrypoint

from eis_pipeline.exceptions import FormatError
from eis_pipeline.io.registry import importers, read_spectra


def _path(filename_or_obj: Any) -> Path:
    if isinstance(filename_or_obj, str | os.PathLike):
        return Path(filename_or_obj)
    raise TypeError(f"the 'eis' engine reads files by path, got {type(filename_or_obj).__name__}")


def _drop(ds: xr.Dataset, drop_variables: str | Iterable[str] | None) -> xr.Dataset:
    if drop_variables is None:
        return ds
    names = [drop_variables] if isinstance(drop_variables, str) else list(drop_variables)
    return ds.drop_vars(names, errors="ignore")


def _is_hdf5(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file (by its signature, not its name): a results file."""
    import h5py  # only for results files: the importers do not need it

    return path.is_file() and bool(h5py.is_hdf5(path))


def _results_groups(path: Path, group: str | None,
                    drop_variables: str | Iterable[str] | None) -> dict[str, xr.Dataset]:
    """The results file's nodes (those under ``group``, renamed relative to it)."""
    from eis_pipeline.io.hdf5 import read_results

    tree = read_results(path)
    if group not in (None, "", "/"):
        try:
            node = tree[str(group).strip("/")]
        except KeyError:
            node = None
        if not isinstance(node, xr.DataTree):
            raise KeyError(f"{path}: no group {group!r}; its groups: "
                           f"{', '.join(n.path for n in tree.subtree)}")
        tree = node

    def key(node: xr.DataTree) -> str:
        relative = node.relative_to(tree)
        return "/" if relative == "." else f"/{relative}"

    return {key(n): _drop(n.to_dataset(inherit=False), drop_variables) for n in tree.subtree}


class EisBackendEntrypoint(BackendEntrypoint):
    """Open impedance exports of every format eis_pipeline reads.

    Examples
    --------
    >>> ds = xr.open_dataset("pellet_25C.mpt", engine="eis")              # doctest: +SKIP
    >>> ds = xr.open_dataset("run.DTA", engine="eis", format="gamry-dta", sweep=1)  # doctest: +SKIP
    >>> tree = xr.open_datatree("loops.mpt", engine="eis")                # doctest: +SKIP
    """

    description = "Impedance spectra from potentiostat exports (eis_pipeline importers)"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "format", "sweep", "group")

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        format: str | None = None,
        sweep: int = 0,
        group: str | None = None,
    ) -> xr.Dataset:
        path = _path(filename_or_obj)
        if _is_hdf5(path):
            return _results_groups(path, group, drop_variables)["/"]
        spectra = read_spectra(path, format=format)
        if not -len(spectra) <= sweep < len(spectra):
            raise FormatError(f"{path}: has {len(spectra)} sweep(s); sweep={sweep} is out of "
                              f"range (use 0..{len(spectra) - 1})")
        return _drop(spectra[sweep], drop_variables)

    def open_groups_as_dict(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        format: str | None = None,
        group: str | None = None,
    ) -> dict[str, xr.Dataset]:
        path = _path(filename_or_obj)
        if _is_hdf5(path):
            return _results_groups(path, group, drop_variables)
        spectra = read_spectra(path, format=format)
        root = xr.Dataset(attrs={k: spectra[0].attrs[k]
                                 for k in ("source", "source_sha256", "source_format",
                                           "instrument")}
                          | {"n_sweeps": len(spectra)})
        groups = {"/": root}
        for i, ds in enumerate(spectra):
            groups[f"/sweep_{i}"] = _drop(ds, drop_variables)
        return groups

    def open_datatree(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        format: str | None = None,
        group: str | None = None,
    ) -> xr.DataTree:
        path = _path(filename_or_obj)
        if drop_variables is None and group in (None, "", "/") and _is_hdf5(path):
            from eis_pipeline.io.hdf5 import read_results

            # read_results' tree as it is: rebuilding it from its groups cost 25-40 % more
            return read_results(path)
        groups = self.open_groups_as_dict(filename_or_obj, drop_variables=drop_variables,
                                          format=format, group=group)
        return xr.DataTree.from_dict(groups)

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        try:
            path = _path(filename_or_obj)
        except TypeError:
            return False

        suffix = path.suffix.lower()
        return suffix not in {".nc", ".h5", ".hdf5", ".zarr"} and any(
            suffix in imp.suffixes for imp in importers().values())
