"""Read throughput of the text-based vendor importers over the real files in ../shared/formats/.

For each file: the time of ``read_spectra`` (detection, decoding, parsing, building the
datasets, SHA-256, validation), the time of the importer's ``read`` alone, and the time of
impedance.py's ``preprocessing.readFile`` for the formats it supports (it returns two arrays,
no metadata, no validation). Median of repeated runs, file in the page cache. Two synthetic
large files (the real ZCURVE / ZPlot rows repeated to ~20 000 points) show the cost per point.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "formats"

#: (file, importer name, impedance.py instrument key or None)
FILES = [
    ("impedance_py/exampleDataGamry.DTA", "gamry-dta", "gamry"),
    ("pyimpspec/data.dta", "gamry-dta", None),            # decimal commas: impedance.py fails
    ("pyimpspec/drift-corrected-data.dta", "gamry-dta", None),
    ("impedance_py/exampleDataZPlot.z", "zplot-z", "zplot"),
    ("impedance_py/Circuit1_EIS_1.z", "zplot-z", "zplot"),
    ("pyimpspec/data.z", "zplot-z", "zplot"),
    ("novocontrol/Example2a.txt", "novocontrol-txt", None),
    ("impedance_py/exampleDataCHInstruments.txt", "chi-txt", "chinstruments"),
    ("impedance_py/exampleDataPowersuite.txt", "powersuite-txt", "powersuite"),
    ("impedance_py/exampleDataParstat.txt", "parstat-txt", "parstat"),
    ("impedance_py/exampleDataVersaStudio.par", "versastudio-par", "versastudio"),
    ("pyimpspec/data.par", "versastudio-par", None),
]


def _median_s(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: imports, page cache
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _peer(path: Path, key: str | None) -> Callable[[], object] | None:
    if key is None:
        return None
    try:
        from impedance import preprocessing
    except ImportError:
        return None

    def call() -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return preprocessing.readFile(str(path), instrument=key)

    try:
        call()
    except Exception:  # the peer cannot read this file: report it as such
        return None
    return call


def _scaled(src: Path, marker: Callable[[str], bool], target: int, out: Path) -> int:
    """Write ``src`` with its data rows (lines where ``marker`` is true) repeated."""
    lines = src.read_bytes().decode("latin-1").splitlines()
    rows = [i for i, s in enumerate(lines) if marker(s)]
    block = lines[rows[0]:rows[-1] + 1]
    copies = max(1, target // len(block))
    out.write_bytes("\n".join([*lines[:rows[0]], *block * copies, *lines[rows[-1] + 1:]])
                    .encode("latin-1") + b"\n")
    return len(block) * copies


def run(quick: bool) -> str:
    """Markdown section: one table row per file."""
    from eis_pipeline.io.registry import get_importer, read_spectra

    if not SHARED.is_dir():
        return "## Text importers: read throughput\n\nSkipped: ../shared/formats/ not found.\n"
    repeats = 5 if quick else 40
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = [(SHARED / rel, rel, name, key) for rel, name, key in FILES]
        if not quick:
            big_dta = Path(tmp) / "large_gamry.DTA"
            n = _scaled(SHARED / "impedance_py/exampleDataGamry.DTA",
                        lambda s: s.startswith("\t") and s[1:2].isdigit() and "E-006" in s,
                        20_000, big_dta)
            big_z = Path(tmp) / "large_zplot.z"
            m = _scaled(SHARED / "impedance_py/Circuit1_EIS_1.z",
                        lambda s: s[:1].isdigit(), 20_000, big_z)
            files += [(big_dta, f"synthetic: Gamry rows x{n // 72}", "gamry-dta", "gamry"),
                      (big_z, f"synthetic: ZPlot rows x{m // 48}", "zplot-z", "zplot")]
        for path, label, name, key in files:
            spectra = read_spectra(path)
            points = sum(ds.sizes["frequency"] for ds in spectra)
            size = path.stat().st_size
            reps = repeats if size < 1_000_000 else max(3, repeats // 10)
            full = _median_s(lambda p=path: read_spectra(p), reps)
            imp = get_importer(name)
            only = _median_s(lambda p=path, i=imp: i.read(p), reps)
            peer = _peer(path, key)
            peer_s = _median_s(peer, reps) if peer is not None else None
            rows.append(
                f"| {name} | `{label}` | {points} | {size / 1024:.1f} | {full * 1e3:.2f} | "
                f"{only * 1e3:.2f} | {points / only:,.0f} | {size / only / 1e6:.1f} | "
                + (f"{peer_s * 1e3:.2f}" if peer_s is not None else "n/a") + " |")
    header = (
        "## Text importers: read throughput\n\n"
        f"Median of {repeats} runs per file (fewer for files over 1 MB), after one warm-up. "
        "`read_spectra` includes detection, SHA-256 and validation; `read` is the importer "
        "alone. impedance.py 1.7.1 `readFile` for comparison where it reads the file "
        "(n/a: no reader, or it fails, e.g. on decimal commas).\n\n"
        "| format | file | points | KiB | read_spectra (ms) | read (ms) | points/s (read) "
        "| MB/s (read) | impedance.py (ms) |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
    return header + "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(run(quick=True))
