"""``eis-pipeline inspect``: what is in an instrument export or a results file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from eis_pipeline.exceptions import EisError
from eis_pipeline.io.hdf5 import describe_results
from eis_pipeline.io.registry import read_spectra

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def describe_spectra(path: Path, format: str | None) -> str:
    """A human-readable summary of every sweep in an instrument export."""
    import numpy as np


    spectra = read_spectra(path, format=format)
    first = spectra[0]
    lines = [
        f"{path}",
        f"  format      {first.attrs['source_format']}",
        f"  instrument  {first.attrs.get('instrument') or 'unknown'}",
        f"  sha256      {first.attrs['source_sha256'][:16]}...",
        f"  sweeps      {len(spectra)}",
        "",
        f"  {'sweep':>5}  {'points':>6}  {'f_max (Hz)':>11}  {'f_min (Hz)':>11}  "
        f"{'|Z|min (ohm)':>12}  {'|Z|max (ohm)':>12}  {'T (°C)':>8}",
    ]
    for ds in spectra:
        f = ds.frequency.values
        z = np.abs(ds.impedance.values)
        temp = ""
        if "temperature" in ds:
            t = ds.temperature.values
            t = t[np.isfinite(t)]
            if t.size:
                temp = f"{np.mean(t) - 273.15:8.2f}"
        lines.append(f"  {ds.attrs['sweep']:>5}  {f.size:>6}  {f.max():11.4g}  {f.min():11.4g}  "
                     f"{z.min():12.4g}  {z.max():12.4g}  {temp:>8}")
    extra = sorted(set().union(*(set(ds.attrs) for ds in spectra))
                   - {"source", "source_sha256", "source_format", "instrument", "sweep",
                      "original_metadata"})
    if extra:
        lines.append("")
        width = max(12, *(len(key) + 2 for key in extra))
        for key in extra:
            lines.append(f"  {key:<{width}}{first.attrs.get(key)}")
    meta = json.loads(first.attrs.get("original_metadata") or "{}")
    if meta:
        lines.append("")
        lines.append("  metadata (first sweep):")
        for key, value in list(meta.items())[:25]:
            text = str(value)
            lines.append(f"    {key}: {text[:70] + '...' if len(text) > 70 else text}")
        if len(meta) > 25:
            lines.append(f"    ... {len(meta) - 25} more entries")
    return "\n".join(lines)


@click.command()
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
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
