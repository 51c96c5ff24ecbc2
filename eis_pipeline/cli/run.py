"""``eis-pipeline run``: a whole campaign from its TOML config or from measurement folders."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from eis_pipeline.cli.options import geometry_options
from eis_pipeline.cli.report import check_report_output, report_command_line
from eis_pipeline.config import CampaignConfig, load_config
from eis_pipeline.exceptions import EisError
from eis_pipeline.fitting import compiled_lm
from eis_pipeline.folder import plan_folders
from eis_pipeline.io.hdf5.read import read_results
from eis_pipeline.pipeline import run as run_campaign
from eis_pipeline.report.tables import format_summary
from eis_pipeline.timelimit import TIME_LIMIT_S


def with_series_fit(cfg: CampaignConfig, series_fit: str) -> CampaignConfig:
    """``cfg`` with ``series_fit`` set for every sample (the ``--series-fit`` flag)."""
    return replace(cfg, samples=tuple(
        replace(s, settings=replace(s.settings, series_fit=series_fit)) for s in cfg.samples))


def plural(n: int, noun: str) -> str:
    """``1 sample``, ``2 samples``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def without_prefix(reason: str, file: str) -> str:
    """First line of a failure reason, without the ``<file>:`` the reason often starts with.

    The failure line already names the file; ``file: file:12: message`` would say it twice.
    """
    first = reason.splitlines()[0] if reason else ""
    if file and first.startswith(file):
        rest = first[len(file):]
        if rest.startswith(": "):
            return rest[2:]
        if rest.startswith(":"):
            return "line " + rest[1:]   # "file:64: message" -> "line 64: message"
    return first


@click.command()
@click.argument("sources", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Results file (.h5). Default: `output` in the config's [campaign] table "
                   "(for folders: DIRNAME_results.h5 here).")
@geometry_options
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              envvar="EIS_PIPELINE_JOBS", show_envvar=True,
              help="Worker processes on this machine.")
@click.option("--scheduler", metavar="ADDRESS", envvar="EIS_PIPELINE_SCHEDULER",
              show_envvar=True,
              help="Run on a dask.distributed cluster instead, e.g. tcp://10.0.0.5:8786.")
@click.option("--resume", is_flag=True,
              help="Reuse results for files whose content and settings are unchanged.")
@click.option("--strict", is_flag=True, help="Stop at the first failure instead of recording it.")
@click.option("--plots", type=click.Choice(["none", "summary", "all"]), default=None,
              help="Plots beside the results: none; summary (Arrhenius, trends); all (also "
                   "Nyquist and Bode of every spectrum, slow for big campaigns). "
                   "Default: summary, or none when the config says plots = false.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: only on a terminal).")
@click.option("--series-fit", type=click.Choice(["none", "global"]), default=None,
              help="global: also fit each sample's temperature series as one "
                   "Arrhenius-constrained model (fit_temperature_series) and cross-check σ "
                   "model-free (Jonscher σ_dc); the summary shows the global E_a beside the "
                   "per-spectrum one. Default: the config's series_fit.")
@click.option("--time-limit", "time_limit_s", type=click.FloatRange(min=0), default=TIME_LIMIT_S,
              show_default=True, metavar="SECONDS",
              help="Seconds each file may take to read, and to fit and check; a file over "
                   "it is recorded in /failures and the run goes on (0: no limit). Compiling the "
                   "numba kernels (a first run without `eis-pipeline compile`) is not counted.")
@click.option("--report", "html_report", is_flag=True,
              help="Also write RESULTS.html, the self-contained report (as `eis-pipeline "
                   "report RESULTS.h5`).")
def run(sources: tuple[Path, ...], output: Path | None, geometry: dict[str, float],
        jobs: int, scheduler: str | None,
        resume: bool, strict: bool, plots: str | None, progress: bool | None,
        series_fit: str | None, time_limit_s: float, html_report: bool) -> None:
    """Run the campaign described by a CONFIG (TOML), or by folders, into one HDF5 file.

    SOURCES is one config file, or one or more measurement folders: each subfolder holding
    impedance files is a sample (files directly in the folder form one too). Temperatures come
    from the file or folder names (25C, -20degC, 298K, T25, RT), else from the files; geometry
    from the flags (a pellet's --thickness-mm with --diameter-mm or --area-cm2, or a cell's
    --cell-constant-per-cm, for every sample), else a samples.csv beside the subfolders, else
    the file headers. What was
    inferred is printed before anything is fitted; `eis-pipeline init DIR` writes it as a
    config to edit and keep.

    Reads every file of every sample, fits the circuit, checks each spectrum
    (Kramers-Kronig, DRT), computes conductivities and activation energies, and summarises
    the campaign. Writes RESULTS.h5 (atomically: an interrupted run never leaves a broken
    file), RESULTS.csv with one row per sample, and plots in RESULTS_plots/.

    A file that cannot be read or fitted is recorded in /failures and the run goes on; the
    exit code is then 1 (2 for a bad config or command line).

    \b
    Examples:
      eis-pipeline run configs/example.toml
      eis-pipeline run configs/example.toml -o results/today.h5 --jobs 2 --plots all
      eis-pipeline run big.toml --resume          # refit only new or changed files
      eis-pipeline run data/ --thickness-mm 0.8 --diameter-mm 10
      eis-pipeline run cells/ --cell-constant-per-cm 1.0    # conductivity cells
      eis-pipeline run configs/example.toml --series-fit global   # + one-model E_a
      eis-pipeline inspect results/today.h5       # look at it again later

    Options may also come from the environment (EIS_PIPELINE_JOBS, EIS_PIPELINE_SCHEDULER);
    a flag wins over the environment, which wins over the config.
    """

    try:
        if len(sources) == 1 and sources[0].is_file():
            if geometry:
                raise click.UsageError("geometry flags are for folder runs; a config gives "
                                       "the geometry per sample")
            cfg = load_config(sources[0])
        else:
            if not all(s.is_dir() for s in sources):
                raise click.UsageError("give one config file, or one or more folders")
            plan = plan_folders(sources, geometry=geometry)
            click.echo(plan.describe(), err=True)
            cfg = plan.config()
    except (EisError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if series_fit is not None:
        cfg = with_series_fit(cfg, series_fit)
    out = output or cfg.output
    want_plots = plots if plots is not None else ("summary" if cfg.plots else "none")
    n_files = sum(len(s.paths) for s in cfg.samples)
    click.echo(f"campaign {cfg.name!r}: {plural(len(cfg.samples), 'sample')}, "
               f"{plural(n_files, 'file')} -> {out}", err=True)

    if compiled_lm.needs_compiling():
        click.echo(compiled_lm.COMPILING_NOTE, err=True)
    try:
        if html_report:   # refused before hours of fitting, not after
            check_report_output(out.with_suffix(".html"),
                                [out, *(p for s in cfg.samples for p in s.paths)])
        tree = run_campaign(cfg, output=out, jobs=jobs, scheduler=scheduler, resume=resume,
                            strict=strict, progress=progress, plots=want_plots,
                            time_limit_s=time_limit_s)
    except (EisError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if want_plots != "none":
        click.echo(f"plots in {out.with_name(out.stem + '_plots')}", err=True)
    click.echo(format_summary(tree))
    if html_report:
        from eis_pipeline.report.html import write_report  # matplotlib: only for a report

        # from the file: the in-memory tree may have dropped the spectra to save memory
        page = write_report(read_results(out), out.with_suffix(".html"),
                            command=report_command_line(), jobs=jobs, progress=progress)
        click.echo(f"report: {page}", err=True)
    failures = tree["failures"].ds
    n_failed = failures.sizes.get("failure", 0)
    reused = int(tree.attrs.get("reused_files", 0))
    click.echo(f"\nresults: {out}  summary: {out.with_suffix('.csv')}"
               + (f"  (reused {reused} unchanged files)" if reused else ""))
    if n_failed:
        click.echo(f"{n_failed} failure(s) recorded in /failures:", err=True)
        for i in range(n_failed):
            file = str(failures["file"].values[i])
            where = file or f"sample {failures['sample'].values[i]}"   # a sample-wide stage
            click.echo(f"  [{failures['stage'].values[i]}] {where}: "
                       f"{without_prefix(str(failures['reason'].values[i]), file)}", err=True)
        sys.exit(1)
