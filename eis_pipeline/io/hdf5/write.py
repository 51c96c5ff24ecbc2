"""Writing a results file: :class:`ResultsWriter` (piece by piece) and :func:`write_results`.

A file is written with h5py directly rather than through ``DataTree.to_netcdf``: xarray
reopens the file for every group and h5netcdf's per-group bookkeeping grows with the number
of groups, which made a 240-spectrum campaign take tens of seconds
(``python -m bench results_io`` measures both). Each tree is encoded (:mod:`.encode`), then
written group by group (:mod:`.groups`) into a temporary file that replaces the destination
only once complete and on disk (:mod:`eis_pipeline.io.atomic`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr

from eis_pipeline import __version__
from eis_pipeline.io.atomic import fsync, fsync_dir, remove_stale_temps, temp_path
from eis_pipeline.io.hdf5.encode import encode_tree, provenance_attrs
from eis_pipeline.io.hdf5.errors import ResultsError
from eis_pipeline.io.hdf5.groups import GroupWriter, write_node

__all__ = ["ResultsWriter", "write_results"]


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
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.path)
        self.tmp = temp_path(self.path)
        try:
            # Creation order is tracked (as netCDF-4 does): groups read back in order.
            self.h5 = h5py.File(self.tmp, "w", track_order=True)
            self.h5.attrs["_NCProperties"] = np.bytes_(
                f"version=2,eis_pipeline={__version__},h5py={h5py.__version__},"
                f"hdf5={h5py.version.hdf5_version}")
            root = xr.DataTree(xr.Dataset(attrs=dict(attrs or {})))
            self._writer = GroupWriter(self.h5)
            self.write(root, "/", provenance=provenance_attrs(root, config, history))
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
        """Write ``tree`` (netCDF-safe encoding applied here) as the group at path ``at``.

        A tree that cannot be encoded raises :class:`ResultsError` with nothing written: the
        file stays open for the other groups (:attr:`is_open`). A failure while writing
        abandons the file."""
        try:
            encoded = encode_tree(tree, provenance or {}, root_attrs=provenance is not None)
        except Exception as exc:
            raise self._error(exc) from exc
        try:
            write_node(self._writer, encoded, at)
        except BaseException as exc:
            self.discard()
            raise self._error(exc) from exc

    @property
    def is_open(self) -> bool:
        """Groups can still be written (no write failed, not closed or discarded)."""
        return bool(self.h5)

    def close(self) -> Path:
        """Finish: flush to disk and rename into place."""
        try:
            self.h5.close()
            fsync(self.tmp)
            os.replace(self.tmp, self.path)
            fsync_dir(self.path.parent)
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


def write_results(tree: xr.DataTree, path: str | Path, *,
                  config: str | Mapping[str, Any] | None = None,
                  history: str | None = None) -> Path:
    """Write a campaign's results atomically.

    Parameters
    ----------
    tree : xarray.DataTree
        The results, laid out as in :mod:`eis_pipeline.io.hdf5`'s docstring. Not modified.
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
