"""``eis-pipeline fit``: fit an equivalent circuit to instrument exports directly.

Every sweep of every file is fitted in one batch; the command prints a parameter table with
uncertainties per sweep, the goodness of fit and the solver status. ``-o out.h5`` writes the
fits dataset (docs/contracts.md) as netCDF4/HDF5 through h5netcdf. netCDF has no complex type,
so complex variables are stored as ``<name>_real`` and ``<name>_imag`` (attr ``complex_part``)
rather than through h5netcdf's ``invalid_netcdf=True``, which plain netCDF readers reject;
booleans are encoded by xarray itself (int8 with ``dtype: bool``, decoded back on reading).
The file is written to a temporary name beside the target and renamed into place.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, NoReturn

import click

from eis_pipeline.exceptions import EisError
from eis_pipeline.vocabulary import AUTO_CIRCUIT as AUTO
from eis_pipeline.vocabulary import WEIGHTINGS as WEIGHTING_CHOICES

DEFAULT_PRESET = "bulk-gb-electrode"


#: Why a parameter ends on a bound, and what to do (the note under a fit in ``fits_table``).
AT_BOUND_HINT = ("the circuit does not suit this spectrum (an element the data do not need, "
                 "or one standing in for a feature it cannot describe)")
AT_BOUND_ADVICE = "; try --preset auto or another circuit"


def format_value(value: float, stderr: float, at_bound: bool = False) -> str:
    """``1.234e+05 ± 2.1e+02``; ``(fixed)`` for a zero stderr; ``(at bound)`` when the fit
    ended on a bound (user bound or safeguard); ``(undetermined)`` when the data do not pin
    the value down (no standard error, or one larger than the value)."""
    if stderr == 0:
        return f"{value:.5g} (fixed)"
    if at_bound:   # the more specific diagnosis: the error of a pinned value means little
        shown = "" if stderr != stderr else f" ± {stderr:.2g}"
        return f"{value:.5g}{shown} (at bound)"
    if stderr != stderr or stderr > abs(value):  # NaN, or uncertain beyond the value
        shown = "" if stderr != stderr else f" ± {stderr:.2g}"
        return f"{value:.5g}{shown} (undetermined)"
    return f"{value:.5g} ± {stderr:.2g}"


def fits_table(fits: Any, advice: str = AT_BOUND_ADVICE) -> str:
    """Human-readable parameter tables, one block per spectrum.

    A fit with parameters on a bound gets a note naming them, with :data:`AT_BOUND_HINT`
    and ``advice``.
    """
    import numpy as np

    lines: list[str] = []
    names = [str(p) for p in fits.param.values]
    units = [str(u) for u in fits.param_units.values]
    width = max(len(n) for n in names)
    for i in range(fits.sizes["spectrum"]):
        row = fits.isel(spectrum=i)
        temp = float(row.temperature)
        where = f"{row.source.item() or '<spectrum>'}  sweep {int(row.sweep)}"
        if np.isfinite(temp):
            where += f"  T = {temp - 273.15:.2f} °C"
        lines.append(where)
        status = int(row.status)
        if status == 4:   # failed before fitting: no numbers to show
            lines.append(f"  {row.message.item()}")
            lines.append("")
            continue
        pinned = (row.at_bound.values.astype(bool) if "at_bound" in row
                  else np.zeros(len(names), dtype=bool))
        for j, name in enumerate(names):
            text = format_value(float(row.value[j]), float(row.stderr[j]), bool(pinned[j]))
            lines.append(f"  {name:<{width}}  {text:<28} {units[j]}")
        lines.append(f"  chi-square {float(row.chi_square):.4g}   reduced "
                     f"{float(row.reduced_chi_square):.4g}   points {int(row.n_points)}   "
                     f"iterations {int(row.n_iterations)}")
        lines.append(f"  status {status}: {row.message.item()}")
        if pinned.any():
            at = ", ".join(n for n, b in zip(names, pinned.tolist(), strict=True) if b)
            lines.append(f"  note: {at} at a bound: {AT_BOUND_HINT}{advice}")
        lines.append("")
    return "\n".join(lines).rstrip()


def geometry_from_files(spectra: list[Any]) -> tuple[float | None, float | None]:
    """Thickness and diameter (mm) when every spectrum's header gave the same ones
    (Novocontrol exports carry them as ``thickness_cm``/``diameter_cm``)."""
    found = {(ds.attrs.get("thickness_cm"), ds.attrs.get("diameter_cm")) for ds in spectra}
    if len(found) != 1:
        return None, None
    thickness_cm, diameter_cm = found.pop()
    if thickness_cm is None or diameter_cm is None:
        return None, None
    click.echo(f"geometry from the file header: thickness {10 * thickness_cm:g} mm, "
               f"diameter {10 * diameter_cm:g} mm", err=True)
    return 10.0 * float(thickness_cm), 10.0 * float(diameter_cm)


def conductivity_table(fits: Any, thickness_mm: float, diameter_mm: float) -> str:
    """σ ± stderr (S/cm) of bulk, grain boundary and total per sweep, with role doubts."""
    from eis_pipeline.physics.conductivity import conductivity

    cond = conductivity(fits, thickness_cm=thickness_mm / 10.0, diameter_cm=diameter_mm / 10.0)
    components = [str(c) for c in cond.component.values]
    lines = [f"conductivity (S/cm)   thickness {thickness_mm:g} mm, diameter {diameter_mm:g} mm"]
    for i in range(cond.sizes["spectrum"]):
        row = cond.isel(spectrum=i)
        lines.append(f"{row.source.item() or '<spectrum>'}  sweep {int(row.sweep)}")
        for comp in components:
            value = float(row.conductivity.sel(component=comp))
            text = ("n/a" if value != value
                    else format_value(value, float(row.conductivity_stderr.sel(component=comp))))
            lines.append(f"  {comp:<15} {text}")
        flags = str(row.role_flags.item()) if "role_flags" in row else ""
        if flags:
            lines.append(f"  note: {flags}")
    return "\n".join(lines)


def netcdf_ready(fits: Any) -> Any:
    """The fits dataset with complex variables split into real/imag pairs (module docstring)."""
    import numpy as np

    out = fits.copy()
    for name in list(out.variables):
        var = out[name]
        if np.iscomplexobj(var.values):
            attrs = dict(var.attrs)
            out[f"{name}_real"] = var.real.assign_attrs({**attrs, "complex_part": "real"})
            out[f"{name}_imag"] = var.imag.assign_attrs({**attrs, "complex_part": "imag"})
            out = out.drop_vars(name)
    return out


def write_fits(fits: Any, path: Path) -> None:
    """Write atomically: a temporary file in the target folder, then rename."""
    from eis_pipeline.io.atomic import replacing

    with replacing(path.resolve()) as tmp:
        netcdf_ready(fits).to_netcdf(tmp, engine="h5netcdf")


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with status 1 (no traceback)."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


def check_preset(preset: str | None) -> None:
    """An unknown ``--preset`` is a usage error naming the closest preset."""
    from eis_pipeline.circuits import PRESETS

    if preset is None or preset == AUTO or preset in PRESETS:
        return
    close = difflib.get_close_matches(preset, list(PRESETS), n=1, cutoff=0.4)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise click.BadParameter(
        f"unknown preset {preset!r}; {hint}choose one of {', '.join(PRESETS)} or {AUTO!r} "
        "(`eis-pipeline circuits` describes them); a circuit string goes in --circuit",
        param_hint="--preset")


def check_format(format_: str | None) -> None:
    """An unknown ``--format`` is a usage error, raised before any file is read."""
    from eis_pipeline.io.registry import list_formats

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


def fit_auto(spectra: list[Any], weighting: str, thickness_mm: float | None,
             diameter_mm: float | None, output: Path | None,
             plots: Path | None = None) -> None:
    """``--preset auto``: per sweep the chosen preset, the BIC table, the chosen fit."""
    from eis_pipeline.fitting.selection import fits_by_circuit, select_circuit

    result = select_circuit(spectra, weighting=weighting)
    click.echo(f"model selection by {result.criterion.upper()} over "
               f"{result.evidence.sizes['candidate']} presets   weighting {weighting}\n")
    for i, chosen in enumerate(result.chosen):
        if not chosen:
            ev = result.evidence.isel(spectrum=i)
            click.echo(f"{ev.source.item() or '<spectrum>'}  sweep {int(ev.sweep)}\n"
                       "  no candidate could be fitted\n")
            continue
        fits = result.fits[chosen].isel(spectrum=[i])
        note = "" if result.selection_converged[i] else "  (no candidate converged)"
        block = fits_table(fits, advice="").split("\n", 1)
        click.echo(block[0])
        click.echo(f"  chosen {chosen}: {fits.attrs['circuit']}{note}")
        click.echo(result.table(i))
        click.echo("")
        click.echo(block[1] if len(block) > 1 else "")
        click.echo("")
    groups = fits_by_circuit(result)
    if thickness_mm is not None and diameter_mm is not None:
        for name, fits in groups.items():
            click.echo(f"{name}: " + conductivity_table(fits, thickness_mm, diameter_mm))
    if output is not None:
        write_selection(result.evidence, groups, output)
        click.echo(f"wrote {output}")
    if plots is not None:
        pairs = [(ds, result.fits[chosen].isel(spectrum=[i]))
                 for i, (ds, chosen) in enumerate(zip(spectra, result.chosen, strict=True))
                 if chosen]
        click.echo(f"wrote {write_fit_plots(pairs, plots)} plots to {plots}")
    n_bad = int((~result.selection_converged).sum())
    if n_bad:
        click.echo(f"\n{n_bad} of {len(result.chosen)} sweeps: no candidate converged", err=True)


def write_fit_plots(pairs: list[tuple[Any, Any]], folder: Path) -> int:
    """Nyquist (with each fitted arc) and Bode figures of each sweep into ``folder``:
    ``<file stem>_s<sweep>_nyquist.png`` and ``..._bode.png``. ``pairs`` holds (spectrum,
    its one-row fits dataset). Returns the number of files written."""
    import json

    import numpy as np
    from tqdm.auto import tqdm

    from eis_pipeline.reporting import fitted_arcs, spectrum_title, write_spectrum_plots

    folder.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    written = 0
    for spectrum, row in tqdm(pairs, desc="plots", unit="sweep", disable=None, leave=False):
        source = Path(str(spectrum.attrs.get("source") or "spectrum"))
        sweep = int(spectrum.attrs.get("sweep", 0))
        stem = f"{source.stem}_s{sweep}"
        if stem in used:   # the same file name in two folders
            stem = f"{stem}_{sum(u.startswith(stem) for u in used) + 1}"
        used.add(stem)
        n = spectrum.sizes["frequency"]
        z_fit = row["impedance_fit"].values[0, :n]
        fit = (spectrum["frequency"].values, z_fit) if np.isfinite(z_fit).all() else None
        values = dict(zip(row["param"].values.astype(str), row["value"].values[0], strict=True))
        arcs, series = fitted_arcs(spectrum["frequency"].values, values,
                                   json.loads(str(row.attrs.get("roles") or "{}")))
        title = spectrum_title(f"{source.name} · sweep {sweep}", spectrum)
        written += len(write_spectrum_plots(spectrum, fit, arcs, series, title, folder / stem))
    return written


def write_selection(evidence: Any, groups: dict[str, Any], path: Path) -> None:
    """Evidence in the root group, each chosen preset's fits in group ``fits/<preset>``."""
    from eis_pipeline.io.atomic import replacing

    with replacing(path.resolve()) as tmp:
        evidence.to_netcdf(tmp, engine="h5netcdf", mode="w")
        for name, fits in groups.items():
            netcdf_ready(fits).to_netcdf(tmp, engine="h5netcdf", mode="a",
                                         group=f"fits/{name}")


@click.command("fit")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--preset", default=None,
              help=f"Circuit preset (default {DEFAULT_PRESET}); `eis-pipeline circuits` "
                   "lists them. `auto` fits the one- and two-arc presets, with and without "
                   "stray inductance, and keeps the lowest BIC per sweep.")
@click.option("--circuit", default=None,
              help='Circuit string in impedance.py notation, e.g. "R0-p(R1,CPE1)-CPE2", or '
                   'Boukamp CDC, e.g. "R(RQ)Q" (`eis-pipeline circuits` lists the elements).')
@click.option("--weighting", type=click.Choice(WEIGHTING_CHOICES), default="modulus",
              show_default=True, help="Residual weights: 1/|Z|, 1, or 1/|Z'| and 1/|Z''|.")
@click.option("--format", "format_", default=None,
              help="Importer name when detection is not wanted (`eis-pipeline formats`).")
@click.option("--thickness-mm", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Pellet thickness in mm (with --diameter-mm: conductivity).")
@click.option("--diameter-mm", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Pellet diameter in mm.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the fits dataset to this HDF5 (netCDF4) file.")
@click.option("--plots", "plots", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Save a Nyquist plot (with each fitted arc) and a Bode plot "
              "(with residuals) of every sweep into this folder, created if missing.")
def fit(files: tuple[Path, ...], preset: str | None, circuit: str | None, weighting: str,
        format_: str | None, thickness_mm: float | None, diameter_mm: float | None,
        output: Path | None, plots: Path | None) -> None:
    """Fit an equivalent circuit to every sweep of FILES and print the parameters.

    \b
    Examples:
      eis-pipeline fit pellet_25C.mpt
      eis-pipeline fit data/*.mpt --preset hf-intercept-gb-electrode -o fits.h5
      eis-pipeline fit run.txt --circuit "R0-p(R1,CPE1)-CPE2" --weighting unit
      eis-pipeline fit data/*.DTA --preset auto --plots fit_plots/

    Parameters are printed with their standard errors, "(undetermined)" where the data
    do not fix a value, "(at bound)" where one sits on a bound. Exit status 1 when a
    file cannot be read or a sweep cannot be fitted (the other sweeps are still
    fitted and printed).
    """
    import warnings

    from eis_pipeline.exceptions import ConvergenceWarning
    from eis_pipeline.fitting.batch import fit_spectra
    from eis_pipeline.fitting.solver import Status
    from eis_pipeline.io.registry import read_spectra

    if preset is not None and circuit is not None:
        raise click.UsageError("give either --preset or --circuit, not both")
    if (thickness_mm is None) != (diameter_mm is None):
        raise click.UsageError("--thickness-mm and --diameter-mm go together")
    if circuit == AUTO:
        raise click.UsageError("model selection is --preset auto; --circuit takes one circuit")
    check_preset(preset)
    check_format(format_)
    check_output(output)
    spec = circuit or preset or DEFAULT_PRESET
    auto = circuit is None and preset == AUTO
    spectra = []
    failed = 0
    for path in files:
        try:
            spectra.extend(read_spectra(path, format=format_))
        except (EisError, OSError) as err:
            failed += 1
            click.echo(f"error: {err}", err=True)
    if not spectra:
        fail("no spectra could be read")
    if thickness_mm is None:
        thickness_mm, diameter_mm = geometry_from_files(spectra)
    from eis_pipeline.fitting import compiled_lm

    if compiled_lm.needs_compiling():
        click.echo(compiled_lm.COMPILING_NOTE, err=True)
    if auto:
        try:
            fit_auto(spectra, weighting, thickness_mm, diameter_mm, output, plots)
        except (EisError, OSError) as err:
            fail(str(err))
        if failed:
            raise SystemExit(1)
        return
    try:
        with warnings.catch_warnings():
            # the table shows every fit's status; no need for a warning on top
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits = fit_spectra(spectra, circuit=spec, weighting=weighting, errors="ignore")
    except EisError as err:
        fail(str(err))
    click.echo(f"circuit {fits.attrs['circuit']}"
               + (f"  (preset {fits.attrs['preset']})" if fits.attrs["preset"] else "")
               + f"   weighting {weighting}\n")
    click.echo(fits_table(fits))
    try:
        if thickness_mm is not None and diameter_mm is not None:
            click.echo("")
            click.echo(conductivity_table(fits, thickness_mm, diameter_mm))
        if output is not None:
            write_fits(fits, output)
            click.echo(f"\nwrote {output}")
        if plots is not None:
            count = write_fit_plots([(ds, fits.isel(spectrum=[i]))
                                     for i, ds in enumerate(spectra)], plots)
            click.echo(f"\nwrote {count} plots to {plots}")
    except (EisError, OSError) as err:
        fail(str(err))
    n_failed = int((fits.status == Status.FAILED).sum())
    n_stopped = int(((fits.status != Status.CONVERGED) & (fits.status != Status.FAILED)).sum())
    for count, what in ((n_failed, "failed (no fit; the reason is in the table)"),
                        (n_stopped, "did not converge")):
        if count:
            click.echo(f"\n{count} of {fits.sizes['spectrum']} fits {what}", err=True)
    n_pinned = int(fits.at_bound.any("param").sum())
    if n_pinned:
        click.echo(f"\n{n_pinned} of {fits.sizes['spectrum']} fits have parameters at a bound "
                   "(marked '(at bound)')", err=True)
    if failed or n_failed:
        raise SystemExit(1)
