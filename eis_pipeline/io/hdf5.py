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

Encoding choices, so that plain h5py and ``xr.open_datatree(path, engine="h5netcdf")`` both
read the file without help:

- complex variables are stored as h5netcdf writes them: an HDF5 compound ``{r, i}`` committed
  as ``_PFNC_DOUBLE_COMPLEX_TYPE`` (the nc-complex convention understood by netCDF-C ≥ 4.9 and
  netCDF4-python); h5py and xarray read them back as complex128 directly;
- attributes that netCDF cannot hold are converted once, here: mappings and non-numeric
  lists become JSON strings, booleans become 0/1, None values are dropped;
- boolean variables are stored as int8 by xarray's own encoding (restored on read).

Writes go to a temporary file in the destination folder, are flushed to disk (fsync) and
renamed over the destination (``os.replace``, atomic on POSIX and Windows): a crash or a kill
during the write leaves the previous file untouched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline.exceptions import EisError

__all__ = ["ResultsError", "describe_results", "read_results", "write_results"]

ENGINE = "h5netcdf"
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


def _clean_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in attrs.items():
        cleaned = _clean_attr(value)
        if cleaned is not None:
            out[str(key)] = cleaned
    return out


def _encode_dataset(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy(deep=False)
    ds.attrs = _clean_attrs(ds.attrs)
    for name in ds.variables:
        ds[name].attrs = _clean_attrs(ds[name].attrs)
    return ds


def _encode_tree(tree: xr.DataTree, root_attrs: Mapping[str, Any]) -> xr.DataTree:
    """A copy of ``tree`` with netCDF-safe attributes and the provenance root attributes."""
    nodes: dict[str, xr.Dataset] = {}
    for node in tree.subtree:
        ds = _encode_dataset(node.to_dataset(inherit=False))
        if node.is_root:
            ds.attrs.update(_clean_attrs(root_attrs))
        nodes[node.path] = ds
    return xr.DataTree.from_dict(nodes)


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


# --------------------------------------------------------------------------- writing

def _temp_path(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX,
                                dir=path.parent)
    os.close(fd)
    return Path(name)


def _remove_stale_temps(path: Path) -> None:
    """Delete temporary files left by writers of ``path`` that were killed (pid gone)."""
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    encoded = _encode_tree(tree, _provenance(tree, config, history))
    tmp = _temp_path(path)
    try:
        encoded.to_netcdf(tmp, engine="h5netcdf", mode="w")
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError | TypeError | ValueError):
            raise ResultsError(f"{path}: could not write results: {type(exc).__name__}: "
                               f"{exc}; the previous file (if any) is unchanged") from exc
        raise
    return path


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
        with xr.open_datatree(path, engine=ENGINE) as tree:
            return tree.load().copy(deep=True)
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
