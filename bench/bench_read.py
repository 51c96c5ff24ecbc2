"""Read speed of every importer over every real export in ../shared/formats/.

One table row per format: files, total MB, median time per file, and throughput (MB/s,
spectra/s, points/s) of :func:`eis_pipeline.read_spectra`, the call users make (detection by
content, decoding, parsing, building the datasets, SHA-256 and contract validation). In the
same run, impedance.py 1.7.1's ``preprocessing.readFile`` reads the same files for the formats
it supports (it returns one frequency and one impedance array, sweeps concatenated, without
metadata or validation); the ratio column is its time over ours on the files it reads. A last
table gives the median and 90th percentile of the largest file, ``yadg/vsp_peis_with.mpt``
(1.6 MB, 32 sweeps), against the 0.2 s target.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "formats"
LARGE_FILE = "yadg/vsp_peis_with.mpt"
TARGET_S = 0.2
#: our importer -> impedance.py ``readFile`` instrument key (None: its CSV reader)
PEER_KEYS: dict[str, str | None] = {
    "gamry-dta": "gamry", "autolab-txt": "autolab", "parstat-txt": "parstat",
    "zplot-z": "zplot", "versastudio-par": "versastudio", "powersuite-txt": "powersuite",
    "biologic-mpt": "biologic", "chi-txt": "chinstruments", "generic-csv": None,
}


def _times(fn: Callable[[], object], repeats: int) -> list[float]:
    """CPU times of ``repeats`` calls after one warm-up call (imports, page cache).

    CPU time of the process (reading is single-threaded), not wall time: on a machine
    shared with other work, wall times of sub-millisecond reads vary by a factor of two.
    """
    fn()
    out = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        out.append(time.process_time() - t0)
    return out


def _peer(path: Path, fmt: str) -> Callable[[], object] | None:
    """impedance.py's reader for ``path``, or None when it has none or fails on the file."""
    if fmt not in PEER_KEYS:
        return None
    try:
        from impedance import preprocessing
    except ImportError:
        return None

    def call() -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return preprocessing.readFile(str(path), instrument=PEER_KEYS[fmt])

    try:
        call()
    except Exception:  # e.g. decimal commas or a layout it does not know: not comparable
        return None
    return call


@dataclass
class _Row:
    files: int = 0
    nbytes: int = 0
    spectra: int = 0
    points: int = 0
    medians: list[float] = field(default_factory=list)
    read_only: list[float] = field(default_factory=list)
    peer_files: int = 0
    peer_s: float = 0.0
    ours_on_peer_files_s: float = 0.0


def _measure(repeats: int) -> tuple[dict[str, _Row], list[float] | None]:
    from eis_pipeline.io.registry import get_importer, read_spectra

    rows: dict[str, _Row] = defaultdict(_Row)
    large: list[float] | None = None
    for path in sorted(p for p in SHARED.rglob("*") if p.is_file()):
        try:
            spectra = read_spectra(path)
        except Exception:  # README, reference JSONs, files meant to be rejected
            continue
        fmt = spectra[0].attrs["source_format"]
        times = _times(partial(read_spectra, path), repeats)
        median = statistics.median(times)
        row = rows[fmt]
        row.files += 1
        row.nbytes += path.stat().st_size
        row.spectra += len(spectra)
        row.points += sum(ds.sizes["frequency"] for ds in spectra)
        row.medians.append(median)
        importer = get_importer(fmt)
        row.read_only.append(statistics.median(_times(partial(importer.read, path), repeats)))
        peer = _peer(path, fmt)
        if peer is not None:
            row.peer_files += 1
            row.peer_s += statistics.median(_times(peer, repeats))
            row.ours_on_peer_files_s += median
        if path.relative_to(SHARED).as_posix() == LARGE_FILE:
            large = times + _times(partial(read_spectra, path), max(0, 30 - repeats))
    return rows, large


def run(quick: bool) -> str:
    """Markdown section: one row per format, then the large-file row."""
    head = "## Reading files: every format, every shared export"
    if not SHARED.is_dir():
        return f"{head}\n\nSkipped: {SHARED} not found.\n"
    repeats = 3 if quick else 15
    load_before = os.getloadavg()[0]
    rows, large = _measure(repeats)
    load = f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    lines = [
        head, "",
        f"`read_spectra` (detection, parsing, datasets, SHA-256, validation) on every readable "
        f"file of `../shared/formats/`: median of {repeats} reads per file after a warm-up, "
        f"CPU time of the process ({load}). "
        "Throughput = totals over the per-file medians. *parse only*: the importer's `read` "
        "alone (no detection, hashing or validation), median over files as well. "
        "impedance.py: `preprocessing.readFile` "
        "on the same files, where it reads them (files it fails on, e.g. decimal commas, are "
        "left out of both sides of the ratio); ratio > 1 means eis_pipeline is faster.", "",
        "| format | files | MB | median ms/file | MB/s | spectra/s | points/s "
        "| parse only, median ms/file | impedance.py files | impedance.py ms/file "
        "| ratio (impedance.py / ours) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    total = _Row()
    for fmt in sorted(rows):
        r = rows[fmt]
        seconds = sum(r.medians)
        peer = (f"{r.peer_files} | {r.peer_s / r.peer_files * 1e3:.2f} | "
                f"{r.peer_s / r.ours_on_peer_files_s:.2f}" if r.peer_files else "0 | n/a | n/a")
        lines.append(f"| {fmt} | {r.files} | {r.nbytes / 1e6:.3f} | "
                     f"{statistics.median(r.medians) * 1e3:.2f} | {r.nbytes / 1e6 / seconds:.1f} | "
                     f"{r.spectra / seconds:,.0f} | {r.points / seconds:,.0f} | "
                     f"{statistics.median(r.read_only) * 1e3:.2f} | {peer} |")
        for name in ("files", "nbytes", "spectra", "points", "peer_files", "peer_s",
                     "ours_on_peer_files_s"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
        total.medians += r.medians
        total.read_only += r.read_only
    seconds = sum(total.medians)
    lines.append(f"| **all** | {total.files} | {total.nbytes / 1e6:.3f} | "
                 f"{statistics.median(total.medians) * 1e3:.2f} | "
                 f"{total.nbytes / 1e6 / seconds:.1f} | {total.spectra / seconds:,.0f} | "
                 f"{total.points / seconds:,.0f} | "
                 f"{statistics.median(total.read_only) * 1e3:.2f} | "
                 f"{total.peer_files} | "
                 f"{total.peer_s / max(total.peer_files, 1) * 1e3:.2f} | "
                 f"{total.peer_s / max(total.ours_on_peer_files_s, 1e-12):.2f} |")
    if large is not None:
        median, p90 = statistics.median(large), float(np.percentile(large, 90))
        verdict = "meets" if p90 <= TARGET_S else "misses"
        lines += ["", f"Largest file, `{LARGE_FILE}` "
                  f"({(SHARED / LARGE_FILE).stat().st_size / 1e6:.2f} MB, 32 sweeps x 70 points), "
                  f"{len(large)} reads:", "",
                  "| file | reads | median (s) | p90 (s) | target (s) | |",
                  "|---|---:|---:|---:|---:|---|",
                  f"| `{LARGE_FILE}` | {len(large)} | {median:.4f} | {p90:.4f} | {TARGET_S} "
                  f"| {verdict} the target |"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick=True))
