"""Results-file I/O: write_results / read_results time and size against campaign size.

Two layouts of the same spectra are compared: one group per spectrum
(``/<sample>/spectra/<id>``, DESIGN.md section 7) and one packed ``(spectrum, point)`` array
per sample (``/<sample>/spectra``), to show what the per-spectrum groups cost.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

from eis_pipeline.io.hdf5 import read_results, write_results

POINTS = 70                 # 7 MHz - 1 Hz at 10 points per decade
SPECTRA_PER_SAMPLE = 6


def _spectrum(rng: np.random.Generator) -> xr.Dataset:
    f = np.logspace(np.log10(7e6), 0, POINTS)
    z = 100 / (1 + 1j * f / 1e5) + rng.normal(size=POINTS) * (1 + 1j)
    return xr.Dataset(
        {"impedance": ("frequency", z, {"units": "ohm"}),
         "impedance_fit": ("frequency", z * 1.001, {"units": "ohm"}),
         "impedance_residual": ("frequency", z * 0.001, {"units": "ohm"})},
        coords={"frequency": ("frequency", f, {"units": "Hz"})},
        attrs={"source": "x.mpt", "sweep": 0})


def tree_per_spectrum(n_spectra: int, rng: np.random.Generator) -> xr.DataTree:
    nodes: dict[str, xr.Dataset] = {"/": xr.Dataset()}
    for i in range(n_spectra):
        nodes[f"/s{i // SPECTRA_PER_SAMPLE:04d}/spectra/{i % SPECTRA_PER_SAMPLE:03d}"] = (
            _spectrum(rng))
    return xr.DataTree.from_dict(nodes)


def tree_packed(n_spectra: int, rng: np.random.Generator) -> xr.DataTree:
    nodes: dict[str, xr.Dataset] = {"/": xr.Dataset()}
    n_samples = -(-n_spectra // SPECTRA_PER_SAMPLE)
    for s in range(n_samples):
        specs = [_spectrum(rng) for _ in range(SPECTRA_PER_SAMPLE)]
        nodes[f"/s{s:04d}/spectra"] = xr.Dataset({
            name: (("spectrum", "point"), np.stack([d[name].values for d in specs]))
            for name in ("impedance", "impedance_fit", "impedance_residual")
        } | {"frequency": (("spectrum", "point"),
                           np.stack([d["frequency"].values for d in specs]))})
    return xr.DataTree.from_dict(nodes)


def _time(func: object, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool) -> str:
    sizes = (24, 240) if quick else (24, 240, 1200)
    repeats = 1 if quick else 3
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            for layout, build in (("group per spectrum", tree_per_spectrum),
                                  ("packed per sample", tree_packed)):
                tree = build(n, rng)
                path = Path(tmp) / f"{layout.split()[0]}_{n}.h5"
                t_write = _time(lambda tree=tree, path=path: write_results(tree, path), repeats)
                t_read = _time(lambda path=path: read_results(path), repeats)
                rows.append(f"| {n} | {layout} | {t_write:.3f} | {t_read:.3f} | "
                            f"{path.stat().st_size / 1e6:.2f} |")
    return "\n".join([
        "## Results file I/O (write_results / read_results)",
        "",
        f"Spectra of {POINTS} points (impedance, fit, residual: complex128), "
        f"{SPECTRA_PER_SAMPLE} per sample; best of {repeats}. Write includes fsync and the "
        "atomic rename.",
        "",
        "| spectra | layout | write (s) | read (s) | size (MB) |",
        "|---:|---|---:|---:|---:|",
        *rows,
    ])
