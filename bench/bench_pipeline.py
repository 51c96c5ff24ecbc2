"""End-to-end throughput: raw files -> fits, checks, physics -> HDF5 (``eis-pipeline run``).

A campaign of N EC-Lab files is made by copying the demo's mill120 spectra (six temperatures)
under new names, in a temporary folder; it is run serially and with 2 local processes, without
plots. Reported: wall time, spectra/s end to end, and the peak resident memory of this process
(workers excluded).
"""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """
[campaign]
name = "throughput"
output = "results.h5"
plots = false

[defaults]
circuit = "bulk-gb-electrode-inductance"
f_min_hz = 1.0

[[samples]]
name = "bench"
files = ["data/*.mpt"]
temperature = {{from = "filename", pattern = "_(?P<celsius>-?\\\\d+)C\\\\.mpt$"}}
thickness_mm = 0.71
diameter_mm = 9.98
"""


def _campaign(folder: Path, n_files: int) -> Path:
    sources = sorted((ROOT / "sample_data" / "mill120min").glob("*.mpt"))
    data = folder / "data"
    data.mkdir()
    for i in range(n_files):
        src = sources[i % len(sources)]
        temperature = src.stem.rsplit("_", 1)[1]
        shutil.copy(src, data / f"copy{i:05d}_{temperature}.mpt")
    config = folder / "campaign.toml"
    config.write_text(CONFIG.format())
    return config


def run(quick: bool) -> str:
    from eis_pipeline.pipeline import run as run_campaign

    sizes = (120,) if quick else (600, 2400)
    rows = []
    for n_files in sizes:
        for jobs in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                config = _campaign(Path(tmp), n_files)
                start = time.perf_counter()
                tree = run_campaign(config, jobs=jobs, progress=False, plots=False)
                elapsed = time.perf_counter() - start
                n_spectra = tree["bench"]["fit"].ds.sizes["spectrum"]
                converged = int(tree["bench"]["fit"].ds["converged"].sum())
                size_mb = (Path(tmp) / "results.h5").stat().st_size / 1e6
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            rows.append(f"| {n_files} | {jobs} | {n_spectra} | {elapsed:.1f} | "
                        f"{n_spectra / elapsed:.0f} | {converged / n_spectra:.1%} | "
                        f"{size_mb:.1f} | {rss:.0f} |")
    return "\n".join([
        "## End-to-end campaign throughput (`eis-pipeline run`)",
        "",
        "EC-Lab `.mpt` files (70 points, 7 MHz-1 Hz, copies of the demo's mill120 pellet),",
        "bulk-gb-electrode-inductance, with Kramers-Kronig and DRT per spectrum; no plots.",
        "Time from raw files to the HDF5 file renamed into place.",
        "",
        "| files | jobs | spectra | wall s | spectra/s | converged | HDF5 MB | peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
    ])
