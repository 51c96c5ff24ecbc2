"""A whole campaign, from raw exports to one results tree (DESIGN.md sections 2 and 7).

The work is cut into tasks of a few files of one sample; each task reads its files, prepares
the spectra (temperature, frequency window), fits them in one batch and checks them
(Kramers-Kronig, DRT). Tasks run serially, in local processes or on a dask cluster
(:mod:`eis_pipeline.parallel`) and return plain datasets, so every backend gives the same
result. Per sample, the fits then go through the physics stage (conductivity, Arrhenius), and
the campaign is summarised. Failures are recorded with their reason and the run goes on.

Only :func:`run` writes files (HDF5 via :mod:`eis_pipeline.io.hdf5`, CSV, plots); everything
before it is pure.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline.config import CampaignConfig, SampleConfig, load_config
from eis_pipeline.exceptions import EisError, GeometryError, OutputError
from eis_pipeline.fitting.chosen import ChosenFits
from eis_pipeline.io.atomic import remove_stale_temps
from eis_pipeline.io.hdf5 import ResultsWriter, read_results
from eis_pipeline.io.hdf5.errors import ResultsError
from eis_pipeline.io.outputs import check_outputs
from eis_pipeline.packing import concat_packed, spectrum_attrs, unpack_spectra
from eis_pipeline.parallel import run_tasks
from eis_pipeline.physics.arrhenius import arrhenius_by_component
from eis_pipeline.physics.campaign import campaign_trends, summarise_campaign
from eis_pipeline.physics.conductivity import conductivity
from eis_pipeline.physics.geometry import Geometry, header_geometry
from eis_pipeline.physics.plausibility import (
    conductivity_warnings,
    geometry_mix_warnings,
    repeated_temperature_warnings,
    temperature_warnings,
)
from eis_pipeline.physics.series_fit import model_free_for_campaign, series_fit_for_campaign
from eis_pipeline.report.tables import write_csv_summary
from eis_pipeline.stacking import stack
from eis_pipeline.tasks import (
    FileTask,
    SamplePlots,
    TaskResult,
    failure_record,
    plan_tasks,
    prepare_process,
    process_task,
    reusable_results,
)
from eis_pipeline.timelimit import TIME_LIMIT_S

# --------------------------------------------------------------------------- per sample

def _order(results: Sequence[TaskResult]) -> list[TaskResult]:
    """Task results in a deterministic order (by their first source file)."""
    return sorted(results, key=lambda r: "" if r.spectra is None
                  else str(r.spectra["source"].values[0]))


@dataclass
class SampleParts:
    """A sample's results as they are built: its attributes and one dataset per group.

    The node is made once at the end (:meth:`tree`): each assignment into a DataTree aligns
    and copies, which cost more than the physics. A caller that holds the parts keeps what
    was built even when an unforeseen error escapes (:func:`finish_sample`).
    """

    name: str
    attrs: dict[str, Any]
    groups: dict[str, xr.Dataset] = field(default_factory=dict)

    def tree(self, failures: list[dict[str, Any]] | None = None) -> xr.DataTree:
        """The sample node; a group that cannot become a node is recorded (with
        ``failures``) and left out, so the others are kept."""
        children = {}
        for key, ds in self.groups.items():
            with _recorded(failures, self.name, f"assemble {key}"):
                children[key] = xr.DataTree(ds)
        node = xr.DataTree(xr.Dataset(attrs=self.attrs), name=self.name)
        node.children = children   # attached as built: DataTree(children=...) copies each
        return node


def analyse_sample(sample: SampleConfig, results: Sequence[TaskResult],
                   failures: list[dict[str, Any]] | None = None, *,
                   parts: SampleParts | None = None) -> xr.DataTree:
    """Combine a sample's task results and run the physics stage on them.

    With ``failures``, a stage that fails (assembling a group, conductivity, Arrhenius) is
    recorded there and what came before it is kept (spectra and fits are never lost to a
    later stage); without, it raises. The groups are collected in ``parts`` when given.
    """
    def stage(name: str) -> Any:
        return _recorded(failures, sample.name, name)

    parts = SampleParts(sample.name, {}) if parts is None else parts
    parts.attrs.update(_sample_attrs(sample))
    attrs, groups = parts.attrs, parts.groups
    ordered = _order(results)
    # Each group on its own: raw spectra survive a fits table that cannot be combined.
    spectra = None
    with stage("assemble spectra"):
        spectra = concat_packed([r.spectra for r in ordered])
    if spectra is None:
        return parts.tree(failures)
    groups["spectra"] = spectra
    fits = chosen = None
    with stage("assemble fit"):
        chosen = ChosenFits.concat([r.fits for r in ordered])
        fits = None if chosen is None else chosen.table()
    if fits is None or chosen is None:  # spectra come only with fits: nothing to analyse
        return parts.tree(failures)
    groups["fit"] = fits
    for group in ("validation", "drt", "selection"):
        with stage(f"assemble {group}"):
            stacked = stack([getattr(r, group) for r in ordered])
            if stacked is not None:
                groups[group] = stacked

    warnings = (temperature_warnings(fits["temperature"].values,
                                     fits["source"].values.astype(str))
                if "temperature" in fits.coords and "source" in fits.coords else [])
    attrs["warnings"] = "\n".join(warnings)
    geometry, attrs["geometry_source"] = sample.geometry, sample.geometry_source
    headers = spectrum_attrs(spectra)
    warnings += geometry_mix_warnings([Geometry.from_attrs(h) for h in headers],
                                      [str(h.get("source", "")) for h in headers])
    attrs["warnings"] = "\n".join(warnings)
    if geometry is None:   # no configured geometry: the files' headers', when they agree
        geometry = header_geometry(headers)
        attrs["geometry_source"] = "none" if geometry is None else "file header"
    if geometry is None:
        if sample.geometry_required:
            with stage("conductivity"):
                raise GeometryError(
                    "no pellet geometry: fitted, but no conductivity. Give thickness_mm with "
                    "diameter_mm or area_cm2 (or cell_constant_per_cm) for the sample or in "
                    "[defaults]; the files' headers carry none (or disagree)")
        return parts.tree(failures)
    attrs.update(geometry.to_attrs())
    with stage("conductivity"):
        # One physics pass per circuit ("auto" mixes them), rows put back in spectrum order.
        cond_parts = [conductivity(group, geometry=geometry)
                      for group in chosen.groups.values()]
        stacked = stack(cond_parts, renumber=False)
        if stacked is not None:   # (one circuit: in order already, sortby would copy it)
            groups["conductivity"] = (stacked if stacked.indexes["spectrum"].is_monotonic_increasing
                                      else stacked.sortby("spectrum"))
            warnings += conductivity_warnings(groups["conductivity"])
            warnings += repeated_temperature_warnings(groups["conductivity"])
            attrs["warnings"] = "\n".join(warnings)
    if "conductivity" not in groups:
        return parts.tree(failures)
    cond = groups["conductivity"]
    with stage("arrhenius"):
        known = (np.isfinite(cond["temperature"].values) if "temperature" in cond.coords
                 else np.zeros(cond.sizes["spectrum"], dtype=bool))
        sources = (cond["source"].values.astype(str) if "source" in cond.coords
                   else np.full(known.size, ""))
        for source in dict.fromkeys(sources[~known] if sample.temperature.required else []):
            unknown = EisError("no temperature for this file: fitted, but left out of the "
                               "Arrhenius fit; give it in the config (temperature = {from = "
                               '"filename", pattern = ...} or a table)')
            if failures is None:
                raise unknown
            failures.append(failure_record(sample.name, source, "temperature", unknown))
        if known.sum() >= 2:
            groups["arrhenius"] = arrhenius_by_component(
                cond if known.all() else cond.isel(spectrum=known),
                form=sample.settings.arrhenius_form,
                breakpoints=sample.settings.arrhenius_breakpoints,
                breakpoint_K=sample.settings.arrhenius_breakpoint_K,
                weighting=sample.settings.arrhenius_weighting,  # type: ignore[arg-type]
                reference_temperature_K=sample.settings.reference_temperature_K)
    if sample.settings.series_fit == "global" and "arrhenius" in groups:
        each = unpack_spectra(spectra)
        # the per-spectrum "auto" search found a transition: search the global fit too
        split = (sample.settings.arrhenius_breakpoints == "auto"
                 and "model" in groups["arrhenius"]
                 and bool(np.any(groups["arrhenius"]["model"].values.astype(str) != "line")))
        with stage("series_fit"):
            groups["series_fit"] = series_fit_for_campaign(
                each, fits, sample.settings.circuit, geometry,
                sample.settings.arrhenius_form, sample.settings.reference_temperature_K,
                sample.settings.arrhenius_breakpoint_K, search_breakpoint=split)
        with stage("model_free"):
            groups["model_free"] = model_free_for_campaign(each, cond, geometry)
    return parts.tree(failures)


@contextlib.contextmanager
def _recorded(failures: list[dict[str, Any]] | None, sample: str, stage: str,
              file: str = "") -> Iterator[None]:
    """Run a block; an exception in it is recorded in ``failures`` (None: raised)."""
    if failures is None:
        yield
        return
    try:
        yield
    except Exception as exc:
        failures.append(failure_record(sample, file, stage, exc))



def _sample_attrs(sample: SampleConfig) -> dict[str, Any]:
    return {"synthesis": json.dumps(dict(sample.synthesis)),
            "circuit": sample.settings.circuit, "files": len(sample.paths),
            **{f"synthesis_{k}": v for k, v in sample.synthesis.items()}}


def failures_dataset(failures: Sequence[dict[str, Any]]) -> xr.Dataset:
    """The ``/failures`` table: one row per file or spectrum that could not be processed."""
    keys = ("sample", "file", "stage", "error", "reason")
    return xr.Dataset({k: ("failure", np.array([f[k] for f in failures], dtype=str)
                           if failures else np.array([], dtype=str)) for k in keys})


def campaign_node(config: CampaignConfig, samples: dict[str, xr.DataTree]) -> xr.DataTree:
    """``/campaign``: one row per sample, and the trends against each synthesis parameter."""

    rows = []
    for sample in config.samples:
        node = samples[sample.name]
        rows.append({"name": sample.name, "synthesis": dict(sample.synthesis),
                     "arrhenius": node["arrhenius"].ds if "arrhenius" in node.children
                     else {}})
    summary = summarise_campaign(rows)
    counts: dict[str, list[int]] = {"n_spectra": [], "n_converged": [], "n_kk_failed": []}
    for sample in config.samples:
        # the groups' arrays, not a DatasetView per count
        groups = samples[sample.name].children
        fit = groups["fit"].variables if "fit" in groups else None
        kk = groups["validation"].variables if "validation" in groups else None
        counts["n_spectra"].append(0 if fit is None else groups["fit"].sizes["spectrum"])
        counts["n_converged"].append(0 if fit is None else int(fit["converged"].values.sum()))
        counts["n_kk_failed"].append(0 if kk is None
                                     else int((~kk["kk_passed"].values).sum()))
    summary = summary.assign({k: ("sample", np.array(v)) for k, v in counts.items()})
    node = xr.DataTree(summary, name="campaign")
    trends = campaign_trends(summary)
    if trends.sizes:
        node["trends"] = xr.DataTree(trends)
    return node


def finish_sample(sample: SampleConfig, results: Sequence[TaskResult],
                  failures: list[dict[str, Any]]) -> xr.DataTree:
    """:func:`analyse_sample`, recording failures instead of raising. An error no stage
    caught (an internal one) is recorded too, and the groups built before it are kept."""
    parts = SampleParts(sample.name, {})
    try:
        return analyse_sample(sample, results, failures, parts=parts)
    except Exception as exc:
        failures.append(failure_record(sample.name, "", "physics", exc))
        return parts.tree(failures)


def assemble_tree(config: CampaignConfig, samples: dict[str, xr.DataTree],
                  failures: list[dict[str, Any]], *, strict: bool = False,
                  config_json: str | None = None) -> xr.DataTree:
    """The results tree of DESIGN.md section 7, samples in config order. A campaign summary
    that fails is recorded in ``failures`` (raised when ``strict``) and left empty.
    ``config_json``: ``config.to_json()`` if already made."""
    root = xr.DataTree()
    root.attrs.update(root_attrs(config, config_json))
    # A sample node of no tree is attached as it is (root[name] = node copies the subtree:
    # a shallow copy of every group, more than the physics); one in a tree is copied.
    root.children = {s.name: samples[s.name] if samples[s.name].parent is None
                     else samples[s.name].copy() for s in config.samples}
    root["campaign"] = xr.DataTree(name="campaign")
    with _recorded(None if strict else failures, "", "campaign"):
        root["campaign"] = campaign_node(config, samples)
    root["failures"] = xr.DataTree(failures_dataset(failures))
    return root


def root_attrs(config: CampaignConfig, config_json: str | None = None) -> dict[str, Any]:
    """Attributes of the results root (the writer adds version, date and history);
    ``config_json``: ``config.to_json()`` if already made (~0.1 ms per sample to build)."""
    return {"config": config.to_json() if config_json is None else config_json,
            "campaign": config.name}


# --------------------------------------------------------------------------- the run

@dataclass(frozen=True)
class WholeSample:
    """A task holding every file of its sample still to process: its worker analyses the
    sample as well (:func:`finish_sample`: conductivity, Arrhenius, series fit), so that in a
    parallel run the parent only writes it (that work in the parent capped ``--jobs``)."""

    task: FileTask
    sample: SampleConfig
    #: its figures, rendered by the worker too (drawing them in the parent capped
    #: ``--jobs`` next): "none", "summary" or "all" (:func:`render_plots`), and their format
    plots: str = "none"
    plot_format: str = "png"


def process_item(item: FileTask | WholeSample) -> TaskResult:
    """:func:`~eis_pipeline.tasks.process_task`, and for a :class:`WholeSample` the sample's
    analysis and figures too (the same functions the parent would run, so the same results
    and the same bytes)."""
    if isinstance(item, FileTask):
        return process_task(item)
    done = process_task(item.task)
    recorded: list[dict[str, Any]] = []
    node = finish_sample(item.sample, [done], recorded)
    plots = render_plots(node, item.plots, item.plot_format) if item.plots != "none" else None
    return TaskResult(done.sample, failures=done.failures, node=node,
                      analysis_failures=recorded, plots=plots)


def render_plots(node: xr.DataTree, mode: str, fmt: str, *,
                 strict: bool = False) -> SamplePlots:
    """A sample's figure files (``mode`` "summary" or "all",
    :func:`eis_pipeline.report.plots.render_sample_plots`) and what drawing them recorded:
    each figure that fails (stage "plot"), and any other error, which leaves none; with
    ``strict`` the first failure is raised."""
    plots = SamplePlots()
    failures = None if strict else plots.failures
    with _recorded(failures, str(node.name), "plot"):
        from eis_pipeline.report.plots import render_sample_plots  # matplotlib: ~1 s

        plots.files = render_sample_plots(node, fmt=fmt, spectra=mode == "all",
                                          failures=failures)
    return plots


def iter_results(tasks: Sequence[FileTask | WholeSample], *, jobs: int = 1,
                 scheduler: Any = None, progress: bool | None = None) -> Iterator[TaskResult]:
    """Process tasks with the chosen backend, yielding results as they complete."""

    for _, result in run_tasks(process_item, tasks, jobs=jobs, scheduler=scheduler,
                               progress=progress, desc="fitting", prepare=prepare_process):
        yield result


def run(config: str | Path | CampaignConfig, *, output: str | Path | None = None,
        jobs: int = 1, scheduler: Any = None, resume: bool = False, strict: bool = False,
        progress: bool | None = None, plots: bool | str | None = None,
        write: bool = True, keep_spectra: bool | None = None,
        time_limit_s: float | None = TIME_LIMIT_S) -> xr.DataTree:
    """Run a whole campaign.

    Parameters
    ----------
    config : path or CampaignConfig
        The campaign's TOML config (see ``configs/example.toml``).
    output : path, optional
        Results file (HDF5); default: the config's ``output``.
    jobs : int
        Local worker processes.
    scheduler : str or distributed.Client, optional
        A dask.distributed scheduler to run the tasks on instead.
    resume : bool
        Reuse the previous results for files whose content and settings are unchanged.
    strict : bool
        Stop at the first failure (raise it) instead of recording it and going on.
    progress : bool or None
        Progress bar: None shows it on a terminal only.
    plots : {"none", "summary", "all"} or bool, optional
        Plots beside the results (``<output stem>_plots/``): "summary" is Arrhenius per
        sample and trends per campaign, "all" adds Nyquist, Bode and checks per spectrum;
        True means "summary". Default: "summary" when the config's ``plots`` is true.
    write : bool
        Write the HDF5 file, CSV summary and plots (False: only return the tree).
    keep_spectra : bool, optional
        Keep every spectrum in the returned tree. Default: only when not writing; a written
        run streams each sample's spectra to the file as soon as the sample is done, so a
        campaign of thousands of files never holds them all (``read_results`` reads them
        back).
    time_limit_s : float or None
        Seconds each file may take to read, and to fit and check (default 300); a file over
        the limit is recorded in ``/failures`` (stage and limit) and the rest goes on. None
        or 0: no limit. It interrupts Python code at once and compiled code when it returns;
        on a dask cluster (tasks in threads) it does not apply.

    Returns
    -------
    xarray.DataTree
        The results, laid out as in DESIGN.md section 7.

    Examples
    --------
    >>> tree = run("configs/example.toml", plots=False)         # doctest: +SKIP
    >>> tree["campaign"].ds.sigma_25C.sel(component="total")    # doctest: +SKIP
    """
    cfg = config if isinstance(config, CampaignConfig) else load_config(config)
    out = Path(output) if output is not None else cfg.output
    mode = _plot_mode(plots, cfg.plots)
    folder = plots_folder(out)
    if write:
        check_run_outputs(cfg, out, folder if mode != "none" else None)
        remove_stale_temps(out)
        if mode != "none":
            remove_stale_temps(folder, recursive=True)
    reused: list[TaskResult] = []
    skip: set[tuple[str, str]] = set()
    if resume and out.is_file():
        reused, skip = reusable_results(cfg, read_results(out))
    workers = _workers(jobs, scheduler)   # (a dask client: asks the scheduler)
    tasks, failures = plan_tasks(cfg, skip=skip, time_limit_s=time_limit_s, workers=workers)
    if strict and failures:
        raise failures[0]["exception"]
    keep = (not write) if keep_spectra is None else keep_spectra
    pending = Counter(task.sample for task in tasks)
    collected: dict[str, list[TaskResult]] = {s.name: [] for s in cfg.samples}
    for result in reused:
        collected[result.sample].append(result)
    by_name = {s.name: s for s in cfg.samples}
    items: list[FileTask | WholeSample] = list(tasks)
    if not strict and workers != 1:   # parallel: the workers analyse whole samples
        drawn = mode if write else "none"
        items = [WholeSample(t, by_name[t.sample], drawn, cfg.plot_format)
                 if pending[t.sample] == 1 and not collected[t.sample] else t for t in tasks]
    samples: dict[str, xr.DataTree] = {}
    writer = None
    config_json = cfg.to_json()   # once: the writer's and the tree's root attributes
    if write:
        writer = ResultsWriter(out, config=config_json,
                               attrs={**root_attrs(cfg, config_json), "reused_files": len(skip)})

    def finish(name: str) -> None:
        # A sample is analysed, plotted and written as soon as its last task is in; only
        # its summaries stay in memory (unless keep_spectra).
        done = collected.pop(name)
        if len(done) == 1 and done[0].node is not None:          # analysed by its worker
            node = done[0].node
            failures.extend(done[0].analysis_failures)
        elif strict:
            node = analyse_sample(by_name[name], done)
        else:
            node = finish_sample(by_name[name], done, failures)
        if writer is not None:
            try:
                writer.write(node, f"/{name}")
            except ResultsError as exc:
                if strict or not writer.is_open:
                    raise
                # this sample's group could not be encoded: recorded, the others are written
                failures.append(failure_record(name, "", "write", exc))
        if write and mode != "none":
            # after the node is written: a figure that fails loses no fit, and is recorded
            # on its own (the sample's other figures are still drawn). A worker that
            # analysed the sample has rendered them; otherwise they are rendered here.
            plots = done[0].plots if len(done) == 1 else None
            if plots is None:
                plots = render_plots(node, mode, cfg.plot_format, strict=strict)
            failures.extend(plots.failures)
            with _recorded(None if strict else failures, name, "plot"):
                from eis_pipeline.report.plots import write_rendered

                write_rendered(plots.files, folder, name,
                               failures=None if strict else failures)
        if not keep and "spectra" in node.children:
            # a new root over the other children, moved to it (not copied, as
            # DataTree(children=...) would; copying the node would copy every spectrum)
            kept = {k: v for k, v in node.children.items() if k != "spectra"}
            node = xr.DataTree(node.to_dataset(inherit=False), name=node.name)
            node.children = kept
        samples[name] = node

    with sigterm_exits():   # a kill runs the clean-up below: no temporary files left
        try:
            for name in [s.name for s in cfg.samples if not pending[s.name]]:
                finish(name)
            for result in iter_results(items, jobs=jobs, scheduler=scheduler, progress=progress):
                if strict and result.failures:
                    raise result.failures[0]["exception"]
                collected[result.sample].append(result)
                failures.extend(result.failures)
                pending[result.sample] -= 1
                if not pending[result.sample]:
                    finish(result.sample)
            tree = assemble_tree(cfg, samples, failures, strict=strict,
                                 config_json=config_json)
            tree.attrs["reused_files"] = len(skip)
            if write and mode != "none":
                with _recorded(None if strict else failures, "", "plot"):
                    from eis_pipeline.report.plots import write_campaign_plots

                    write_campaign_plots(tree, folder, fmt=cfg.plot_format)
                tree["failures"] = xr.DataTree(failures_dataset(failures))
            if writer is not None:
                writer.write(tree.children["campaign"], "/campaign")
                writer.write(tree.children["failures"], "/failures")
                writer.close()
        except BaseException:
            if writer is not None:
                writer.discard()
            raise
    if write:
        write_csv_summary(tree, out.with_suffix(".csv"))
    return tree


def _workers(jobs: int, scheduler: Any) -> int | None:
    """How many tasks run at once: ``jobs``, or a dask client's threads (None for a
    scheduler address: not known before connecting)."""
    if scheduler is None:
        return jobs
    nthreads = getattr(scheduler, "nthreads", None)   # distributed.Client.nthreads()
    return sum(nthreads().values()) if callable(nthreads) else None


@contextlib.contextmanager
def sigterm_exits() -> Iterator[None]:
    """Inside the block, SIGTERM raises ``SystemExit(143)`` (instead of ending the process
    on the spot), so that clean-up runs: workers stopped, temporary files deleted, the
    previous results file left as it was. Only in the main thread, and only when SIGTERM
    has its default action (an application's own handler is kept)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def exit_(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, exit_)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def plots_folder(out: Path) -> Path:
    """The plots folder beside results file ``out``: ``<stem>_plots``."""
    return out.with_name(out.stem + "_plots")


def check_run_outputs(config: CampaignConfig, out: Path, plots: Path | None) -> None:
    """Refuse a results file, CSV summary or plots folder that would replace an input file
    or the config (:func:`eis_pipeline.io.outputs.check_outputs`)."""

    csv = out.with_suffix(".csv")
    if csv == out:
        raise OutputError("the results file would be overwritten by the CSV summary written "
                          "beside it; name it .h5", out)
    inputs = [p for s in config.samples for p in s.paths]
    if config.path is not None:
        inputs.append(config.path)
    check_outputs(inputs, files=[csv], hdf5=[out], folders=[plots] if plots else [])


def _plot_mode(plots: bool | str | None, config_default: bool) -> str:
    """``plots`` argument -> "none", "summary" or "all"."""
    if plots is None:
        return "summary" if config_default else "none"
    if isinstance(plots, bool):
        return "summary" if plots else "none"
    if plots not in ("none", "summary", "all"):
        raise ValueError(f"plots must be 'none', 'summary' or 'all', got {plots!r}")
    return plots
