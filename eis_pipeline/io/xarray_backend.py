"""The ``"eis"`` xarray backend: ``xr.open_dataset(path, engine="eis")``.

Any file :func:`eis_pipeline.read_spectra` reads opens through xarray too. A file holds one or
more sweeps: ``open_dataset`` returns one (``sweep=0`` by default), ``open_datatree`` returns
all of them as children ``sweep_0``, ``sweep_1``, ...
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


class EisBackendEntrypoint(BackendEntrypoint):
    """Open impedance exports of every format eis_pipeline reads.

    Examples
    --------
    >>> ds = xr.open_dataset("pellet_25C.mpt", engine="eis")              # doctest: +SKIP
    >>> ds = xr.open_dataset("run.DTA", engine="eis", format="gamry-dta", sweep=1)  # doctest: +SKIP
    >>> tree = xr.open_datatree("loops.mpt", engine="eis")                # doctest: +SKIP
    """

    description = "Impedance spectra from potentiostat exports (eis_pipeline importers)"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "format", "sweep")

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        format: str | None = None,
        sweep: int = 0,
    ) -> xr.Dataset:
        path = _path(filename_or_obj)
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
    ) -> dict[str, xr.Dataset]:
        path = _path(filename_or_obj)
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
    ) -> xr.DataTree:
        groups = self.open_groups_as_dict(filename_or_obj, drop_variables=drop_variables,
                                          format=format)
        return xr.DataTree.from_dict(groups)

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        try:
            path = _path(filename_or_obj)
        except TypeError:
            return False

        suffix = path.suffix.lower()
        return suffix not in {".nc", ".h5", ".hdf5", ".zarr"} and any(
            suffix in imp.suffixes for imp in importers().values())
