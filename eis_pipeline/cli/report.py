"""``eis-pipeline report``: a self-contained HTML report of a results file."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from eis_pipeline.io.hdf5.read import read_results
from eis_pipeline.report.html import write_report


def report_command_line() -> str:
    """The command line that is running, for the report's provenance."""
    return shlex.join(["eis-pipeline", *sys.argv[1:]])


@click.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="HTML file to write. Default: RESULTS with the suffix .html.")
def report(results: Path, output: Path | None) -> None:
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

    output = output or results.with_suffix(".html")
    if output.resolve() == results.resolve():
        raise click.BadParameter("the report would overwrite the results file", param_hint="-o")
    path = write_report(read_results(results), output, command=report_command_line())
    click.echo(f"report -> {path}")
