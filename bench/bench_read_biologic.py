"""Read speed of the BioLogic EC-Lab importers on the real exports in ../shared/formats/.

For each shared ``.mpt``/``.mpr`` file: the importer's own ``read`` (parse + build datasets) and
the full :func:`read_spectra` (adds detection, SHA-256 and validation), as the median of several
runs after one warm-up run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from eis_pipeline.io.registry import get_importer, read_spectra

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "formats"
FILES = [
    "impedance_py/exampleDataBioLogic.mpt",
    "impedance_py/exampleDataBioLogic.mpr",
    "pyimpspec/data.mpt",
    "pyimpspec/case-multiple-spectra.mpt",
    "yadg/peis.mpt",
    "yadg/peis.mpr",
    "yadg/peis.issue_149.mpt",
    "yadg/peis.issue_149.mpr",
    "yadg/peis.issue_225.with_ece.mpt",
    "yadg/peis.issue_225.with_ece.mpr",
    "yadg/zir.mpt",
    "yadg/zir.mpr",
    "yadg/geis.mpt",
    "yadg/geis.mpr",
    "yadg/vsp_peis_with.mpt",
    "yadg/vsp_peis_with.mpr",
]


def _median_seconds(func: Callable[[], object], repeats: int) -> float:
    func()  # warm-up: imports, page cache
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(quick: bool) -> str:
    """Markdown section: per-file read time, throughput and spectra per second."""
    repeats = 3 if quick else 15
    lines = [
        "## BioLogic EC-Lab import (biologic-mpt, biologic-mpr)",
        "",
        f"Median of {repeats} runs after a warm-up, files from `../shared/formats/`. "
        "*read*: the importer alone; *read_spectra*: plus detection, SHA-256 and validation.",
        "",
        "| file | size (kB) | sweeps × points | read (ms) | MB/s | spectra/s "
        "| read_spectra (ms) |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    missing = []
    for name in FILES:
        path = SHARED / name
        if not path.is_file():
            missing.append(name)
            continue
        importer = get_importer("biologic-mpr" if path.suffix == ".mpr" else "biologic-mpt")
        spectra = importer.read(path)
        sizes = sorted({ds.sizes["frequency"] for ds in spectra})
        shape = f"{len(spectra)} × {'/'.join(map(str, sizes))}"
        t_read = _median_seconds(lambda p=path, imp=importer: imp.read(p), repeats)
        t_full = _median_seconds(lambda p=path: read_spectra(p), repeats)
        size = path.stat().st_size
        lines.append(f"| `{name}` | {size / 1e3:.1f} | {shape} | {t_read * 1e3:.2f} | "
                     f"{size / 1e6 / t_read:.1f} | {len(spectra) / t_read:.0f} | "
                     f"{t_full * 1e3:.2f} |")
    if missing:
        lines += ["", "Skipped (not found in ../shared/formats/): "
                  + ", ".join(f"`{m}`" for m in missing)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(quick=True))
