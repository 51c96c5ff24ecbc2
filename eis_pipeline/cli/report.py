"""``eis-pipeline report``: a self-contained HTML report of a results file."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click
import xarray as xr

from eis_pipeline.exceptions import EisError, OutputError
from eis_pipeline.io.hdf5.read import read_results
from eis_pipeline.io.outputs import check_outputs

# eis_pipeline.report.html (matplotlib, ~1 s) is imported where a report is written or
# recognised, not here: `run` and `export` import this module and most runs write no report.


def report_command_line() -> str:
    """The command line that is running, for the report's provenance."""
    return shlex.join(["eis-pipeline", *sys.argv[1:]])


def recorded_inputs(results: Path, tree: xr.DataTree) -> list[Path]:
    """The results file and every raw file its spectra were read from: what a report or an
    export must never overwrite."""
    sources = [Path(str(source)) for node in tree.children.values()
               if "spectra" in node.children and "source" in node["spectra"].ds.coords
               for source in node["spectra"].ds["source"].values if str(source)]
    return [results, *sources]


def is_report(path: Path) -> bool:
    """Whether ``path`` is an HTML report this tool wrote (its generator tag near the top)."""
    from eis_pipeline.report.html import GENERATOR

    try:
        with open(path, "rb") as f:
            return GENERATOR.encode() in f.read(2048)
    except OSError:
        return False


def check_report_output(output: Path, inputs: list[Path]) -> None:
    """Refuse a report path that is an input (the results file, a raw file), a folder, or an
    existing file that is not a previous report (a results file above all)."""

    check_outputs(inputs, files=[output])
    if os.path.lexists(output) and not is_report(output):
        raise OutputError("a file that is not a report written by eis-pipeline is already "
                          "there (a results file or someone's data); choose another -o, or "
                          "delete the file if it is not needed", output)


@click.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="HTML file to write. Default: RESULTS with the suffix .html. Only a "
                   "previous report is replaced, never a results or raw data file.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default="the number of CPUs",
              help="Processes drawing the per-spectrum figures (the slow part).")
def report(results: Path, output: Path | None, jobs: int) -> None:
    """Write one self-contained HTML file describing RESULTS (.h5).

    The file needs no network when opened (figures are inline, no external scripts) and
    prints cleanly: campaign summary (σ at 25 °C with extrapolated values marked, activation
    energies, fit and Kramers-Kronig counts), trends against every varied synthesis
    parameter, per-sample Arrhenius plots, per-spectrum Nyquist/Bode/KK/DRT figures reachable
    from each sample's table, the failures and the provenance (versions, config, file hashes).

    \b
    Example:
      eis-pipeline report results.h5 -o report.html
    """

    from eis_pipeline.report.html import write_report

    output = output or results.with_suffix(".html")
    try:
        tree = read_results(results)
        check_report_output(output, recorded_inputs(results, tree))
        path = write_report(tree, output, command=report_command_line(), jobs=jobs,
                            progress=None)
    except (EisError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"report -> {path}")
