"""Results-file I/O: writing, ``read_results`` and ``xr.open_datatree`` against campaign shape.

The results of a real run (the demo's mill120 spectra through ``eis_pipeline.run``, fixed
preset, Kramers-Kronig and DRT: every group a sample has) are tiled along ``spectrum`` into
campaigns of several shapes: few samples with many spectra, and many samples with six each.
Each is written in today's layout (a sample's spectra packed in ``/<sample>/spectra``, one
dataset per variable) and, for the smallest campaign, in the earlier layout (a group per
spectrum, ``/<sample>/spectra/<id>``), whose ``open_datatree`` took 730 s for 2,016 files.
Times are CPU seconds of this process (the machine is shared: wall times are reported too).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from bench.bench_pipeline import _campaign
from eis_pipeline.io.hdf5 import read_results, write_results
from eis_pipeline.packing import unpack_spectra

SHAPES = ((8, 30), (8, 250), (24, 6), (336, 6))     # (samples, spectra per sample)
#: most samples opened with h5netcdf: its time grows with samples² (each dimension name is a
#: search of the file from its root), 51 s at 24 samples, hours at 336
H5NETCDF_MAX_SAMPLES = 24


def _sample_node(folder: Path) -> xr.DataTree:
    from eis_pipeline.pipeline import run

    tree = run(_campaign(folder, 6), progress=False, plots=False, write=False,
               keep_spectra=True)
    node = tree["bench"]
    assert isinstance(node, xr.DataTree)
    return node


def _tiled(node: xr.DataTree, n: int) -> dict[str, xr.Dataset]:
    """The node's groups with ``n`` spectra (its rows repeated)."""
    groups = {}
    for name, child in node.children.items():
        ds = child.to_dataset(inherit=False)
        if "spectrum" in ds.dims:
            rows = np.arange(n) % ds.sizes["spectrum"]
            ds = ds.isel(spectrum=rows).assign_coords(spectrum=np.arange(n))
            if "spectrum_id" in ds.coords:
                ds = ds.assign_coords(spectrum_id=("spectrum", [f"s{i:04d}" for i in range(n)]))
        groups[name] = ds
    return groups


def campaign_tree(node: xr.DataTree, n_samples: int, per_sample: int, *,
                  packed: bool = True) -> xr.DataTree:
    groups = _tiled(node, per_sample)
    nodes: dict[str, xr.Dataset] = {"/": xr.Dataset(attrs={"campaign": "bench"})}
    for s in range(n_samples):
        nodes[f"/s{s:04d}"] = node.to_dataset(inherit=False)
        for name, ds in groups.items():
            if name == "spectra" and not packed:
                for spectrum in unpack_spectra(ds):
                    nodes[f"/s{s:04d}/spectra/{spectrum.attrs['spectrum_id']}"] = spectrum
            else:
                nodes[f"/s{s:04d}/{name}"] = ds
    return xr.DataTree.from_dict(nodes)


def _timed(func: Callable[[], Any]) -> tuple[float, float]:
    """(CPU s, wall s) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    func()
    return time.process_time() - cpu, time.perf_counter() - wall


def _open(path: Path, engine: str = "h5netcdf") -> None:
    with xr.open_datatree(path, engine=engine) as tree:
        tree.load()


def run(quick: bool) -> str:
    shapes = SHAPES[:1] if quick else SHAPES
    rows = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        node = _sample_node(Path(tmp) / "campaign")
        _open(write_results(campaign_tree(node, 1, 6), Path(tmp) / "warm.h5"))   # imports
        for n_samples, per_sample in shapes:
            for packed in (True, False) if (n_samples, per_sample) == SHAPES[0] else (True,):
                tree = campaign_tree(node, n_samples, per_sample, packed=packed)
                path = Path(tmp) / f"{n_samples}x{per_sample}{'p' if packed else 'g'}.h5"
                write = _timed(partial(write_results, tree, path))
                read = _timed(partial(read_results, path))
                opened = (_timed(partial(_open, path)) if n_samples <= H5NETCDF_MAX_SAMPLES
                          else None)
                opened_eis = _timed(partial(_open, path, "eis"))
                layout = "packed per sample" if packed else "group per spectrum (earlier)"
                rows.append(
                    f"| {n_samples} × {per_sample} = {n_samples * per_sample} | {layout} | "
                    f"{write[0]:.2f} ({write[1]:.2f}) | {read[0]:.2f} ({read[1]:.2f}) | "
                    + (f"{opened[0]:.2f} ({opened[1]:.2f}) | " if opened is not None
                       else "not run (hours: grows with samples²) | ")
                    + f"{opened_eis[0]:.2f} ({opened_eis[1]:.2f}) | "
                    f"{path.stat().st_size / 1e6:.1f} |")
    return "\n".join([
        "## Results file I/O (write, read_results, xr.open_datatree)",
        "",
        "A real sample's results (6 demo spectra through `run`, fixed preset, KK and DRT) "
        "tiled into campaigns of samples × spectra; `open_datatree` includes loading every "
        "variable; `engine=\"eis\"` is the same call through eis_pipeline's xarray backend "
        "(`read_results` underneath; the same tree). CPU seconds (wall seconds in brackets); "
        "load average (1/5/15 min) "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the start on {os.cpu_count()} "
        "cores.",
        "",
        "| samples × spectra | layout | write s | read_results s | open_datatree (h5netcdf) s "
        "| open_datatree (engine=\"eis\") s | MB |",
        "|---|---|---:|---:|---:|---:|---:|",
        *rows,
    ])
