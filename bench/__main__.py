"""Run every ``bench/bench_*.py`` and write ``bench/RESULTS.md``.

Each benchmark module defines ``run(quick: bool) -> str`` returning a Markdown section (a
``## heading`` and its tables). ``python -m bench [NAME ...] [--quick]`` runs some or all;
naming some replaces only their sections of an existing RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGES = ("eis-pipeline", "numpy", "numba", "scipy", "xarray", "h5py", "h5netcdf", "impedance",
            "dask", "matplotlib")


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE, check=False).stdout.strip() or "unknown"
    return "\n".join([
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, commit {commit}",
        f"- machine: {cpu}, {os.cpu_count()} cores{mem}, {platform.system()} "
        f"{platform.release()}",
        f"- Python {platform.python_version()}; " + ", ".join(versions),
    ])


def _split(text: str) -> tuple[str, list[str]]:
    """(header, sections): a section starts at a line ``## ...``."""
    parts = ("\n" + text.strip()).split("\n## ")
    return parts[0].strip(), ["## " + p.strip() for p in parts[1:]]


def merge_sections(previous: str, sections: list[str]) -> str:
    """``previous`` RESULTS.md with the sections of the same headings replaced by
    ``sections`` (new headings appended), and a header line saying what was re-run when."""
    header, old = _split(previous)
    new = {sec.splitlines()[0]: sec for sec in sections}
    merged = [new.pop(sec.splitlines()[0], sec) for sec in old] + list(new.values())
    rerun = machine_description().splitlines()[0].removeprefix("- date: ")
    titles = ", ".join(sec.splitlines()[0].removeprefix("## ") for sec in sections)
    header += f"\n- re-run {rerun}: {titles}"
    return header + "\n\n" + "\n\n".join(merged)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sets, for a smoke test")
    parser.add_argument("-o", "--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    available = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    names = args.names or available
    unknown = set(names) - set(available)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; available: {available}")
    sections = []
    for name in names:
        print(f"running bench_{name} ...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        sections.append(module.run(quick=args.quick))
    text = "# Benchmark results\n\n" + machine_description() + "\n\n" + "\n\n".join(sections)
    if args.names and args.output.is_file() and not args.quick:
        # some benchmarks only: replace their sections, keep the others as measured before
        text = merge_sections(args.output.read_text(), sections)
    if args.quick:
        print(text)
    else:
        tmp = args.output.with_suffix(".md.tmp")
        tmp.write_text(text + "\n")
        tmp.replace(args.output)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
