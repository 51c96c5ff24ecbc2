"""``eis-pipeline export``: the spectra and fits of a results file for other programs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from eis_pipeline.cli.report import recorded_inputs
from eis_pipeline.exceptions import EisError
from eis_pipeline.io.export import FORMATS, export_results
from eis_pipeline.io.hdf5.read import read_results
from eis_pipeline.io.outputs import check_outputs


@click.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--to", "to", type=click.Choice(FORMATS), required=True,
              help="csv: data, fit and residuals per spectrum; zview: ZView/ZPlot .z files; "
                   "bdf: Battery Data Format columns (frequency_hertz, real_impedance_ohm, "
                   "imaginary_impedance_ohm).")
def export(results: Path, folder: Path, to: str) -> None:
    """Write every spectrum of RESULTS (.h5) into FOLDER/<sample>/, one file per spectrum.

    Each sample also gets FOLDER/<sample>_impedance_py.csv: its fitted parameters under
    impedance.py's names and units, with the circuit and an initial_guess list that pastes into
    impedance.py's CustomCircuit(circuit, initial_guess=[...]). FOLDER may not hold the
    results file or any raw file the spectra were read from.

    \b
    Example:
      eis-pipeline export results.h5 exported --to zview
    """

    try:
        tree = read_results(results)
        check_outputs(recorded_inputs(results, tree), folders=[folder])
        written = export_results(tree, folder, to)
    except (EisError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"wrote {len(written)} files to {folder}")
