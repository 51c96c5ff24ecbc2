"""``eis-pipeline export``: the spectra and fits of a results file for other programs."""

from __future__ import annotations

from pathlib import Path

import click

from eis_pipeline.io.export import FORMATS, export_results
from eis_pipeline.io.hdf5.read import read_results


@click.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--to", "to", type=click.Choice(FORMATS), required=True,
              help="csv: data, fit and residuals per spectrum; zview: ZView/ZPlot .z files; "
                   "bdf: Battery Data Format columns (frequency_hertz, real_impedance_ohm, "
                   "imaginary_impedance_ohm).")
def export(results: Path, folder: Path, to: str) -> None:
    """Write every spectrum of RESULTS (.h5) into FOLDER/<sample>/, one file per spectrum.

    Each sample also gets FOLDER/<sample>_impedance_py.csv: its fitted parameters under
    impedance.py's names and units, with the circuit and an initial_guess list that pastes into
    impedance.py's CustomCircuit(circuit, initial_guess=[...]).

    \b
    Example:
      eis-pipeline export results.h5 exported --to zview
    """

    written = export_results(read_results(results), folder, to)
    click.echo(f"wrote {len(written)} files to {folder}")
