"""Read throughput of the PalmSens, Ivium, Zahner, Autolab and Elchemea importers.

Every real export of these formats in ``../shared/formats/`` is read repeatedly; the table gives
the median wall time of the importer alone (``Importer.read``) and of the full
``read_spectra`` path (sniffing, SHA-256, contract validation), with throughput in MB/s and
points/s. impedance.py's ``readAutolab`` on the same Autolab file is the peer reference.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from eis_pipeline.io.registry import get_importer, read_spectra

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "formats"
FILES = [
    ("autolab-txt", "impedance_py/exampleDataAutolab.txt"),
    ("autolab-dfr", "pyimpspec/data.dfr"),
    ("autolab-p00", "pyimpspec/data.P00"),
    ("elchemea-i2b", "pyimpspec/data.i2b"),
    ("ivium-idf", "pyimpspec/data.idf"),
    ("ivium-idf", "pyimpspec/data.ids"),
    ("ivium-idf", "impedance_py/exampleDataIvium.idf"),
    ("palmsens-pssession", "pyimpspec/data.pssession"),
    ("palmsens-pssession", "palmsens/eis_5freq.pssession"),
    ("palmsens-pssession", "palmsens/eis_3ch_4scan_5freq.pssession"),
    ("zahner-ism", "zahner/rc-data.ism"),
    ("zahner-ism", "zahner/li-ion-battery.ism"),
    ("zahner-ism", "zahner/500uR_measurement_pro.ism"),
]


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm caches (registry discovery, imports, page cache)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(quick: bool) -> str:
    """Markdown section with one row per file."""
    head = "## Vendor importers (PalmSens, Ivium, Zahner, Autolab, Elchemea): read throughput"
    if not SHARED.is_dir():
        return f"{head}\n\nSkipped: {SHARED} not found.\n"
    repeats = 5 if quick else 30
    rows = ["| format | file | KiB | sweeps | points | importer ms | read_spectra ms | MB/s | "
            "points/s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for fmt, rel in FILES:
        path = SHARED / rel
        if not path.is_file():
            continue
        importer = get_importer(fmt)
        spectra = importer.read(path)
        points = sum(ds.sizes["frequency"] for ds in spectra)
        t_imp = _median_seconds(lambda imp=importer, p=path: imp.read(p), repeats)
        t_all = _median_seconds(lambda p=path: read_spectra(p), repeats)
        size = path.stat().st_size
        rows.append(f"| {fmt} | {rel} | {size / 1024:.1f} | {len(spectra)} | {points} | "
                    f"{t_imp * 1e3:.2f} | {t_all * 1e3:.2f} | {size / t_imp / 1e6:.1f} | "
                    f"{points / t_imp:,.0f} |")
    peer = ""
    try:
        from impedance.preprocessing import readAutolab

        path = SHARED / "impedance_py" / "exampleDataAutolab.txt"
        t_peer = _median_seconds(lambda: readAutolab(str(path)), repeats)
        t_ours = _median_seconds(lambda: get_importer("autolab-txt").read(path), repeats)
        peer = ("\nPeer: impedance.py `readAutolab` on exampleDataAutolab.txt "
                f"{t_peer * 1e3:.2f} ms vs autolab-txt {t_ours * 1e3:.2f} ms (ours also "
                "validates the point count, keeps the header and builds an xarray Dataset).\n")
    except ImportError:
        peer = "\nPeer: impedance.py not installed, no comparison.\n"
    note = (f"\nMedian of {repeats} reads after one warm-up read; files from "
            "`../shared/formats/`. Small files are dominated by per-file overhead (building "
            "the Dataset, JSON-encoding the header), not by parsing.\n")
    return "\n".join([head, "", *rows]) + "\n" + peer + note
