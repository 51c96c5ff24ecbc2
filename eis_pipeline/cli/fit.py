"""``eis-pipeline fit``: fit an equivalent circuit to instrument exports directly.

A quick campaign: the files become one sample (:func:`eis_pipeline.config.files.
campaign_from_files`) that goes through the same stages as ``eis-pipeline run`` (read,
prepare, fit, check, physics) and, with ``-o``, the same results writer, so every results
file has one layout (DESIGN.md section 7) and one reader (``read_results``, ``inspect``).
The command prints a parameter table with uncertainties per sweep, the goodness of fit and
the solver status, and conductivities when the geometry is known.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import NoReturn, cast

import click
import xarray as xr

from eis_pipeline.circuits import PRESETS, compile_circuit
from eis_pipeline.cli.options import geometry_options
from eis_pipeline.config import FitDefaults, Geometry
from eis_pipeline.config.files import campaign_from_files
from eis_pipeline.exceptions import EisError
from eis_pipeline.fitting import compiled_lm
from eis_pipeline.fitting.solver import Status
from eis_pipeline.io.registry import list_formats
from eis_pipeline.pipeline import run
from eis_pipeline.report.fit_tables import conductivity_table, fits_table
from eis_pipeline.vocabulary import AUTO_CIRCUIT, WEIGHTINGS, Weighting, is_auto_circuit

DEFAULT_PRESET = "bulk-gb-electrode"
#: the sample name of the quick campaign (its group in the results file)
SAMPLE = "fit"

def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with status 1 (no traceback)."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


def check_preset(preset: str | None) -> None:
    """An unknown ``--preset`` is a usage error naming the closest preset."""

    if preset is None or preset == AUTO_CIRCUIT or preset in PRESETS:
        return
    close = difflib.get_close_matches(preset, list(PRESETS), n=1, cutoff=0.4)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise click.BadParameter(
        f"unknown preset {preset!r}; {hint}choose one of {', '.join(PRESETS)} or "
        f"{AUTO_CIRCUIT!r} (`eis-pipeline circuits` describes them); a circuit string goes "
        "in --circuit", param_hint="--preset")


def check_circuit(circuit: str) -> None:
    """A circuit string that does not parse fails before any file is read."""

    try:
        compile_circuit(circuit)
    except EisError as err:
        fail(str(err))


def check_format(format_: str | None) -> None:
    """An unknown ``--format`` is a usage error, raised before any file is read."""

    names = [str(r["name"]) for r in list_formats()]
    if format_ is None or format_ in names:
        return
    close = difflib.get_close_matches(format_, names, n=1, cutoff=0.4)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise click.BadParameter(f"unknown format {format_!r}; {hint}`eis-pipeline formats` "
                             "lists the importers", param_hint="--format")


def check_output(output: Path | None) -> None:
    """Fail before fitting, not after, when ``-o`` cannot be written."""
    if output is None:
        return
    folder = output.resolve().parent
    if not folder.is_dir():
        raise click.BadParameter(f"folder {str(folder)!r} does not exist; create it first",
                                 param_hint="-o/--output")


def _geometry_used(node: xr.DataTree) -> Geometry | None:
    """The geometry the physics stage used (recorded on the sample's group), said when it
    came from the file headers."""
    geometry = Geometry.from_attrs(node.attrs)
    if geometry is not None and node.attrs.get("geometry_source") == "file header":
        click.echo(f"geometry from the file header: {geometry.describe()}", err=True)
    return geometry


def report(tree: xr.DataTree) -> int:
    """Print the tables of the quick campaign; returns the number of failures and failed
    fits (the exit status is 1 when there are any)."""
    failures = tree["failures"].ds
    n_failures = failures.sizes.get("failure", 0)
    for i in range(n_failures):
        click.echo(f"error: {failures['reason'].values[i]}", err=True)
    node = tree.children[SAMPLE]
    if "fit" not in node.children:
        fail("no spectra could be read" if "spectra" not in node.children
             else "no spectrum could be fitted")
    fits = node["fit"].ds
    selection = node["selection"].ds if "selection" in node.children else None
    if selection is not None:
        click.echo(f"model selection by {selection.attrs['criterion'].upper()} over "
                   f"{selection.sizes['candidate']} presets   weighting "
                   f"{fits.attrs['weighting']}\n")
    else:
        click.echo(f"circuit {fits.attrs['circuit']}"
                   + (f"  (preset {fits.attrs['preset']})" if fits.attrs["preset"] else "")
                   + f"   weighting {fits.attrs['weighting']}\n")
    click.echo(fits_table(fits, selection))
    geometry = _geometry_used(node)
    if geometry is not None and "conductivity" in node.children:
        click.echo("")
        click.echo(conductivity_table(node["conductivity"].ds, geometry))
    for warning in filter(None, str(node.attrs.get("warnings", "")).split("\n")):
        click.echo(f"\nwarning: {warning}", err=True)
    n = fits.sizes["spectrum"]
    n_failed = int((fits.status == Status.FAILED).sum())
    n_stopped = int((~fits.converged.astype(bool)).sum()) - n_failed
    for count, what in ((n_failed, "failed (no fit; the reason is in the table)"),
                        (n_stopped, "did not converge")):
        if count:
            click.echo(f"\n{count} of {n} fits {what}", err=True)
    n_pinned = int(fits.at_bound.any("param").sum())
    if n_pinned:
        click.echo(f"\n{n_pinned} of {n} fits have parameters at a bound "
                   "(marked '(at bound)')", err=True)
    return n_failures + n_failed


@click.command("fit")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--preset", default=None,
              help=f"Circuit preset (default {DEFAULT_PRESET}); `eis-pipeline circuits` "
                   "lists them. `auto` fits the pellet presets (two arcs, or the "
                   "high-frequency intercept and one arc, with and without stray "
                   "inductance) and keeps the lowest BIC per sweep, as `run` does.")
@click.option("--circuit", default=None,
              help='Circuit string in impedance.py notation, e.g. "R0-p(R1,CPE1)-CPE2", or '
                   'Boukamp CDC, e.g. "R(RQ)Q" (`eis-pipeline circuits` lists the elements).')
@click.option("--weighting", type=click.Choice(WEIGHTINGS), default="modulus",
              show_default=True, help="Residual weights: 1/|Z|, 1/|Z'| and 1/|Z''|, or 1.")
@click.option("--f-min-hz", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Fit only points at or above this frequency (Hz), e.g. to leave out the "
                   "electrode spike.")
@click.option("--f-max-hz", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Fit only points at or below this frequency (Hz), e.g. to leave out "
                   "cable inductance.")
@click.option("--format", "format_", default=None,
              help="Importer name when detection is not wanted (`eis-pipeline formats`).")
@geometry_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the results (the layout of `eis-pipeline run`, one sample called "
                   "'fit') to this HDF5 file, with a CSV summary beside it.")
@click.option("--plots", "plots", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Save a Nyquist plot (with each fitted arc), a Bode plot "
              "(with residuals) and the Kramers-Kronig/DRT checks of every sweep into this "
              "folder, created if missing.")
def fit(files: tuple[Path, ...], preset: str | None, circuit: str | None, weighting: str,
        f_min_hz: float | None, f_max_hz: float | None, format_: str | None,
        geometry: dict[str, float], output: Path | None, plots: Path | None) -> None:
    """Fit an equivalent circuit to every sweep of FILES and print the parameters.

    \b
    Examples:
      eis-pipeline fit pellet_25C.mpt
      eis-pipeline fit data/*.mpt --preset hf-intercept-gb-electrode -o fits.h5
      eis-pipeline fit run.txt --circuit "R0-p(R1,CPE1)-CPE2" --weighting unit
      eis-pipeline fit pellet.mpt --f-min-hz 10 --f-max-hz 1e6
      eis-pipeline fit pellet_25C.mpt --thickness-mm 0.8 --diameter-mm 10
      eis-pipeline fit data/*.DTA --preset auto --plots fit_plots/

    The files are one sample of a quick campaign: the same stages as `eis-pipeline run`
    (fits, Kramers-Kronig and DRT checks, conductivity when the geometry is known: from
    --thickness-mm with --diameter-mm or --area-cm2, or --cell-constant-per-cm, else from
    the file headers when they carry one) and,
    with -o, the same results file. Parameters are printed with their standard errors,
    "(undetermined)" where the data do not fix a value, "(at bound)" where one sits on a
    bound. Exit status 1 when a file cannot be read or a sweep cannot be fitted (the other
    sweeps are still fitted and printed).
    """

    if preset is not None and circuit is not None:
        raise click.UsageError("give either --preset or --circuit, not both")
    if is_auto_circuit(circuit):
        raise click.UsageError("model selection is --preset auto; --circuit takes one circuit")
    check_preset(preset)
    check_format(format_)
    check_output(output)
    spec = circuit or preset or DEFAULT_PRESET
    if circuit is not None:
        check_circuit(circuit)
    if f_min_hz is not None and f_max_hz is not None and f_min_hz >= f_max_hz:
        raise click.UsageError(f"--f-min-hz {f_min_hz:g} must be below --f-max-hz {f_max_hz:g}")
    settings = FitDefaults(circuit=spec, weighting=cast(Weighting, weighting), format=format_,
                           f_min_hz=f_min_hz, f_max_hz=f_max_hz)
    config = campaign_from_files(files, settings, name=SAMPLE,
                                 geometry=Geometry.from_mm(**geometry) if geometry else None,
                                 output=output or "fit.h5")

    if compiled_lm.needs_compiling():
        click.echo(compiled_lm.COMPILING_NOTE, err=True)
    try:
        tree = run(config, write=output is not None, plots="none", keep_spectra=True)
    except (EisError, OSError) as err:
        fail(str(err))
    bad = report(tree)
    try:
        if output is not None:
            click.echo(f"\nwrote {output}")
        if plots is not None:
            from eis_pipeline.report.plots import write_sample_plots  # matplotlib only here

            count = len(write_sample_plots(tree.children[SAMPLE], plots, spectra=True))
            click.echo(f"\nwrote {count} plots to {plots / SAMPLE}")
    except (EisError, OSError) as err:
        fail(str(err))
    except Exception as err:   # a figure that cannot be drawn; the fits are printed and kept
        fail(f"plots: {type(err).__name__}: {err}")
    if bad:
        raise SystemExit(1)
