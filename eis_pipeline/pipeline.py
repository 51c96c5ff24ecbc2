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

import json
from collections import Counter
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline.config import CampaignConfig, SampleConfig, load_config
from eis_pipeline.config.files import geometry_from_headers
from eis_pipeline.exceptions import EisError
from eis_pipeline.tasks import (
    FileTask,
    TaskResult,
    failure_record,
    plan_tasks,
    process_task,
    reusable_results,
)

# --------------------------------------------------------------------------- per sample

def _concat(parts: Sequence[xr.Dataset | None], *, renumber: bool = True
            ) -> xr.Dataset | None:
    """Stack datasets along ``spectrum``, NaN-padding their other dimensions; ``renumber``
    makes the ``spectrum`` coordinate 0..n-1."""
    present = [p for p in parts if p is not None]
    if not present:
        return None
    sizes: dict[Hashable, int] = {}
    for part in present:
        for dim, size in part.sizes.items():
            if dim != "spectrum":
                sizes[dim] = max(sizes.get(dim, 0), size)

    def pad(part: xr.Dataset) -> xr.Dataset:
        # Positional dimensions are padded; labelled ones (an index) align by label below.
        short = {dim: (0, sizes[dim] - n) for dim, n in part.sizes.items()
                 if dim != "spectrum" and dim not in part.indexes and n < sizes[dim]}
        return part.pad(short) if short else part

    merged = _concat_alike(present)
    if merged is None:
        padded = [pad(part) for part in present]
        merged = xr.concat(padded, dim="spectrum", data_vars="minimal", coords="minimal",
                           compat="override", combine_attrs="override", join="outer")
    if not renumber:
        return merged
    return merged.assign_coords(spectrum=np.arange(merged.sizes["spectrum"]))


def _concat_alike(parts: Sequence[xr.Dataset]) -> xr.Dataset | None:
    """:func:`_concat` for the common case, one numpy concatenation per variable: parts
    with the same variables on the same dimensions, equal sizes and labels off ``spectrum``
    (nothing to pad or align). None otherwise. (``xr.concat`` of a campaign's hundreds of
    small per-file datasets costs more than the fits.)"""
    first = parts[0]
    if len(parts) == 1 or "spectrum" not in first.dims:
        return None
    names = list(first.variables)
    for part in parts[1:]:
        if list(part.variables) != names:
            return None
        for name in names:
            a, b = first.variables[name], part.variables[name]
            if a.dims != b.dims or (a.dtype != b.dtype
                                    and not a.dtype.kind == b.dtype.kind == "U"):
                return None   # (strings of other widths concatenate to the widest)
            if "spectrum" not in a.dims:
                if a.shape != b.shape or (name in first.indexes and not a.equals(b)):
                    return None
            else:   # the same sizes off the spectrum axis
                axis = a.dims.index("spectrum")
                if a.shape[:axis] + a.shape[axis + 1:] != b.shape[:axis] + b.shape[axis + 1:]:
                    return None
    variables = {}
    for name in names:
        var = first.variables[name]
        if "spectrum" in var.dims:
            axis = var.dims.index("spectrum")
            data = np.concatenate([p.variables[name].values for p in parts], axis=axis)
            variables[name] = xr.Variable(var.dims, data, var.attrs)
        else:
            variables[name] = var
    coords = [n for n in names if n in first.coords]
    return xr.Dataset({n: v for n, v in variables.items() if n not in coords},
                      coords={n: variables[n] for n in coords}, attrs=first.attrs)


def _order(results: Sequence[TaskResult]) -> list[TaskResult]:
    """Task results in a deterministic order (by their first source file)."""
    return sorted(results, key=lambda r: str(r.spectra[0].attrs["source"]) if r.spectra else "")


def analyse_sample(sample: SampleConfig, results: Sequence[TaskResult]) -> xr.DataTree:
    """Combine a sample's task results and run the physics stage on them."""
    from eis_pipeline.physics.arrhenius import arrhenius_by_component
    from eis_pipeline.physics.conductivity import conductivity

    ordered = _order(results)
    node = xr.DataTree(name=sample.name)
    node.attrs.update(_sample_attrs(sample))
    spectra = [ds for r in ordered for ds in r.spectra]
    if not spectra:
        return node
    node["spectra"] = xr.DataTree.from_dict({ds.attrs["spectrum_id"]: ds for ds in spectra})
    fits = _concat([r.fits for r in ordered])
    if fits is None:  # spectra come only with fits; nothing to analyse otherwise
        return node
    node["fit"] = xr.DataTree(fits)
    validation = _concat([r.validation for r in ordered])
    if validation is not None:
        node["validation"] = xr.DataTree(validation)
    for group in ("drt", "selection"):
        stacked = _concat([getattr(r, group) for r in ordered])
        if stacked is not None:
            node[group] = xr.DataTree(stacked)
    from eis_pipeline.fitting.combined import split_fits

    geometry = sample.geometry
    if geometry is None:   # a quick campaign (``eis-pipeline fit``): the headers' geometry
        geometry = geometry_from_headers([ds.attrs for ds in spectra])
        node.attrs["geometry_source"] = "none" if geometry is None else "file header"
        if geometry is None:
            return node
        node.attrs["geometry"] = json.dumps(_known(asdict(geometry)))
    # One physics pass per circuit ("auto" mixes them), rows put back in spectrum order.
    parts = [conductivity(group, **geometry.physics_kwargs())
             for group in split_fits(fits).values()]
    cond = _concat(parts, renumber=False)
    if cond is None:
        return node
    cond = cond.sortby("spectrum")
    node["conductivity"] = xr.DataTree(cond)
    node["arrhenius"] = xr.DataTree(arrhenius_by_component(
        cond, form=sample.settings.arrhenius_form,
        breakpoints=sample.settings.arrhenius_breakpoints,
        breakpoint_K=sample.settings.arrhenius_breakpoint_K))
    return node


def _known(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _sample_attrs(sample: SampleConfig) -> dict[str, Any]:
    geometry = {} if sample.geometry is None else _known(asdict(sample.geometry))
    return {"geometry": json.dumps(geometry), "synthesis": json.dumps(dict(sample.synthesis)),
            "circuit": sample.settings.circuit, "files": len(sample.paths),
            **{f"synthesis_{k}": v for k, v in sample.synthesis.items()}}


def failures_dataset(failures: Sequence[dict[str, str]]) -> xr.Dataset:
    """The ``/failures`` table: one row per file or spectrum that could not be processed."""
    keys = ("sample", "file", "stage", "error", "reason")
    return xr.Dataset({k: ("failure", np.array([f[k] for f in failures], dtype=str)
                           if failures else np.array([], dtype=str)) for k in keys})


def campaign_node(config: CampaignConfig, samples: dict[str, xr.DataTree]) -> xr.DataTree:
    """``/campaign``: one row per sample, and the trends against each synthesis parameter."""
    from eis_pipeline.physics.campaign import campaign_trends, summarise_campaign

    rows = []
    for sample in config.samples:
        node = samples[sample.name]
        rows.append({"name": sample.name, "synthesis": dict(sample.synthesis),
                     "arrhenius": node["arrhenius"].ds if "arrhenius" in node.children
                     else {}})
    summary = summarise_campaign(rows)
    counts = {
        "n_spectra": [samples[s.name]["fit"].sizes["spectrum"] if "fit" in samples[s.name]
                      else 0 for s in config.samples],
        "n_converged": [int(samples[s.name]["fit"].ds["converged"].sum())
                        if "fit" in samples[s.name] else 0 for s in config.samples],
        "n_kk_failed": [int((~samples[s.name]["validation"].ds["kk_passed"]).sum())
                        if "validation" in samples[s.name] else 0 for s in config.samples],
    }
    summary = summary.assign({k: ("sample", np.array(v)) for k, v in counts.items()})
    node = xr.DataTree(summary, name="campaign")
    trends = campaign_trends(summary)
    if trends.sizes:
        node["trends"] = xr.DataTree(trends)
    return node


def finish_sample(sample: SampleConfig, results: Sequence[TaskResult],
                  failures: list[dict[str, str]]) -> xr.DataTree:
    """:func:`analyse_sample`, recording a failure (and an empty node) instead of raising."""
    try:
        return analyse_sample(sample, results)
    except Exception as exc:
        failures.append(failure_record(sample.name, "", "physics", exc))
        return xr.DataTree(name=sample.name)


def assemble_tree(config: CampaignConfig, samples: dict[str, xr.DataTree],
                  failures: Sequence[dict[str, str]]) -> xr.DataTree:
    """The results tree of DESIGN.md section 7, samples in config order."""
    root = xr.DataTree()
    root.attrs.update(root_attrs(config))
    for sample in config.samples:
        root[sample.name] = samples[sample.name]
    root["campaign"] = campaign_node(config, samples)
    root["failures"] = xr.DataTree(failures_dataset(failures))
    return root


def root_attrs(config: CampaignConfig) -> dict[str, Any]:
    """Attributes of the results root (the writer adds version, date and history)."""
    return {"config": config.to_json(), "campaign": config.name}


# --------------------------------------------------------------------------- the run

def iter_results(tasks: Sequence[FileTask], *, jobs: int = 1, scheduler: Any = None,
                 progress: bool | None = None) -> Iterator[TaskResult]:
    """Process tasks with the chosen backend, yielding results as they complete."""
    from eis_pipeline.parallel import run_tasks

    for _, result in run_tasks(process_task, tasks, jobs=jobs, scheduler=scheduler,
                               progress=progress, desc="fitting"):
        yield result


def run(config: str | Path | CampaignConfig, *, output: str | Path | None = None,
        jobs: int = 1, scheduler: Any = None, resume: bool = False, strict: bool = False,
        progress: bool | None = None, plots: bool | str | None = None,
        write: bool = True, keep_spectra: bool | None = None) -> xr.DataTree:
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
    reused: list[TaskResult] = []
    skip: set[tuple[str, str]] = set()
    if resume and out.is_file():
        from eis_pipeline.io.hdf5 import read_results

        reused, skip = reusable_results(cfg, read_results(out))
    tasks, failures = plan_tasks(cfg, skip=skip)
    if strict and failures:
        raise EisError(failures[0]["reason"])
    keep = (not write) if keep_spectra is None else keep_spectra
    pending = Counter(task.sample for task in tasks)
    collected: dict[str, list[TaskResult]] = {s.name: [] for s in cfg.samples}
    for result in reused:
        collected[result.sample].append(result)
    by_name = {s.name: s for s in cfg.samples}
    samples: dict[str, xr.DataTree] = {}
    folder = out.with_name(out.stem + "_plots")
    writer = None
    if write:
        from eis_pipeline.io.hdf5 import ResultsWriter

        writer = ResultsWriter(out, config=cfg.to_json(),
                               attrs={**root_attrs(cfg), "reused_files": len(skip)})

    def finish(name: str) -> None:
        # A sample is analysed, plotted and written as soon as its last task is in; only
        # its summaries stay in memory (unless keep_spectra).
        node = finish_sample(by_name[name], collected.pop(name), failures)
        if writer is not None:
            writer.write(node, f"/{name}")
        if write and mode != "none":
            from eis_pipeline.report.plots import write_sample_plots

            write_sample_plots(node, folder, fmt=cfg.plot_format, spectra=mode == "all")
        if not keep and "spectra" in node.children:
            # a new root over the other children: copying the node would copy every spectrum
            node = xr.DataTree(node.to_dataset(inherit=False), name=node.name,
                               children={k: v for k, v in node.children.items()
                                         if k != "spectra"})
        samples[name] = node

    try:
        for name in [s.name for s in cfg.samples if not pending[s.name]]:
            finish(name)
        for result in iter_results(tasks, jobs=jobs, scheduler=scheduler, progress=progress):
            if strict and result.failures:
                raise EisError(result.failures[0]["reason"])
            collected[result.sample].append(result)
            failures.extend(result.failures)
            pending[result.sample] -= 1
            if not pending[result.sample]:
                finish(result.sample)
        tree = assemble_tree(cfg, samples, failures)
        tree.attrs["reused_files"] = len(skip)
        if writer is not None:
            writer.write(tree.children["campaign"], "/campaign")
            writer.write(tree.children["failures"], "/failures")
            writer.close()
    except BaseException:
        if writer is not None:
            writer.discard()
        raise
    if write:
        from eis_pipeline.report.plots import write_campaign_plots
        from eis_pipeline.report.tables import write_csv_summary

        write_csv_summary(tree, out.with_suffix(".csv"))
        if mode != "none":
            write_campaign_plots(tree, folder, fmt=cfg.plot_format)
    return tree


def _plot_mode(plots: bool | str | None, config_default: bool) -> str:
    """``plots`` argument -> "none", "summary" or "all"."""
    if plots is None:
        return "summary" if config_default else "none"
    if isinstance(plots, bool):
        return "summary" if plots else "none"
    if plots not in ("none", "summary", "all"):
        raise ValueError(f"plots must be 'none', 'summary' or 'all', got {plots!r}")
    return plots
