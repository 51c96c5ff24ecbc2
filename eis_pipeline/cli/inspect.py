"""``eis-pipeline inspect``: what is in an instrument export or a results file."""

from __future__ import annotations

from pathlib import Path

import click

from eis_pipeline.exceptions import EisError
from eis_pipeline.io.registry import check_input_file
from eis_pipeline.report.describe import describe_results, describe_spectra

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "format_", metavar="NAME",
              help="Importer to use instead of detecting it (see `eis-pipeline formats`).")
def inspect(paths: tuple[Path, ...], format_: str | None) -> None:
    """Describe instrument exports or results files.

    For an instrument export: format, instrument, sweeps, points, frequency range, |Z| range,
    temperature and the header metadata. For a results file written by `eis-pipeline run`:
    its samples, fits, conductivities and failures.

    \b
    Examples:
      eis-pipeline inspect sample_data/mill045min/*.mpt
      eis-pipeline inspect results.h5
    """
    failed = False
    for path in paths:
        try:
            check_input_file(path)   # a FIFO would block the sniff below; a loop is not "missing"
            with path.open("rb") as fh:
                is_hdf5 = fh.read(8) == HDF5_SIGNATURE
            if is_hdf5:
                click.echo(describe_results(path))
            else:
                click.echo(describe_spectra(path, format_))
        except (EisError, OSError) as exc:
            failed = True
            click.echo(f"error: {exc}", err=True)
    if failed:
        raise SystemExit(1)
