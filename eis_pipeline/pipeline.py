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

import hashlib
import json
import re
import traceback
import warnings
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline.config import (
    AUTO_CIRCUIT,
    CampaignConfig,
    FitDefaults,
    SampleConfig,
    load_config,
)
from eis_pipeline.exceptions import EisError

#: files per task: enough to batch the fits, few enough to spread over workers
FILES_PER_TASK = 8
#: "auto" candidates for pellets: the bulk always shows, as an arc or as the high-frequency
#: intercept. The single-arc presets (no series resistance) would label a lone arc "bulk"
#: even when it is the grain-boundary arc sitting on an intercept, so they are left out.
PELLET_CANDIDATES = ("bulk-gb-electrode", "bulk-gb-electrode-inductance",
                     "hf-intercept-gb-electrode", "hf-intercept-gb-electrode-no-inductance")
_FIT_CURVES = ("frequency", "impedance", "impedance_fit", "impedance_residual")


@dataclass(frozen=True)
class FileTask:
    """Some files of one sample, with everything needed to process them anywhere."""

    sample: str
    paths: tuple[Path, ...]
    temperatures_K: tuple[float | None, ...]
    temperature_kind: str
    settings: FitDefaults
    settings_hash: str


@dataclass
class TaskResult:
    """What a task produced: spectra with fits, fit rows, validation rows, failures."""

    sample: str
    spectra: list[xr.Dataset] = field(default_factory=list)
    fits: xr.Dataset | None = None
    validation: xr.Dataset | None = None
    drt: xr.Dataset | None = None
    selection: xr.Dataset | None = None
    failures: list[dict[str, str]] = field(default_factory=list)


def settings_hash(sample: SampleConfig) -> str:
    """Hash of everything that changes a sample's fits: analysis settings and temperatures."""
    from dataclasses import asdict

    text = json.dumps({"settings": asdict(sample.settings),
                       "temperature": [sample.temperature.kind, sample.temperature.pattern,
                                       sorted(sample.temperature.table_K.items())]},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def spectrum_id(path: Path, sweep: int) -> str:
    """A group name for one sweep of one file: ``<stem>_s<sweep>``, netCDF-safe."""
    stem = re.sub(r"[^A-Za-z0-9_.+-]", "_", path.stem)
    return f"{stem}_s{sweep}"


# --------------------------------------------------------------------------- one task

def _failure(sample: str, path: Path | str, stage: str, exc: BaseException) -> dict[str, str]:
    reason = str(exc) if isinstance(exc, EisError | OSError) else (
        f"{type(exc).__name__}: {exc} (internal error; please report it with this file)\n"
        + "".join(traceback.format_exception_only(exc)).strip())
    return {"sample": sample, "file": str(path), "stage": stage,
            "error": type(exc).__name__, "reason": reason}


def prepare_spectrum(ds: xr.Dataset, settings: FitDefaults, temperature_K: float | None,
                     temperature_kind: str) -> xr.Dataset:
    """Apply the frequency window and attach the temperature (K) as a variable."""
    f = ds["frequency"].values
    keep = np.ones(f.size, dtype=bool)
    if settings.f_min_hz is not None:
        keep &= f >= settings.f_min_hz
    if settings.f_max_hz is not None:
        keep &= f <= settings.f_max_hz
    if not keep.all():
        ds = ds.isel(frequency=keep)
    if ds.sizes["frequency"] == 0:
        raise EisError(f"{ds.attrs.get('source')}: no points between f_min_hz="
                       f"{settings.f_min_hz} and f_max_hz={settings.f_max_hz}; widen the window")
    if temperature_K is None and temperature_kind == "metadata":
        temperature_K = ds.attrs.get("temperature_K")
    if temperature_K is not None:
        ds = ds.assign(temperature=("frequency", np.full(ds.sizes["frequency"],
                                                         float(temperature_K)),
                                    {"units": "K", "long_name": "sample temperature"}))
    elif temperature_kind == "column" and "temperature" not in ds:
        raise EisError(f"{ds.attrs.get('source')}: the config takes the temperature from a "
                       "column, but this file has none; use temperature = {from = "
                       "\"filename\", ...} or a table")
    return ds


def process_task(task: FileTask) -> TaskResult:
    """Read, prepare, fit and check the files of one task (runs in a worker)."""
    from threadpoolctl import threadpool_limits

    # The solves are small: BLAS threads only contend with each other and with other workers.
    with threadpool_limits(limits=1):
        return _process_task(task)


def _process_task(task: FileTask) -> TaskResult:
    from eis_pipeline.io.registry import read_spectra
    from eis_pipeline.validation.tables import drt_table, kramers_kronig_table

    result = TaskResult(task.sample)
    spectra: list[xr.Dataset] = []
    for path, temp in zip(task.paths, task.temperatures_K, strict=True):
        try:
            for ds in read_spectra(path, format=task.settings.format):
                ds = prepare_spectrum(ds, task.settings, temp, task.temperature_kind)
                ds.attrs["spectrum_id"] = spectrum_id(path, int(ds.attrs["sweep"]))
                spectra.append(ds)
        except Exception as exc:
            result.failures.append(_failure(task.sample, path, "read", exc))
    if not spectra:
        return result
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-converged fits are counted in the summary
            fits, curves, result.selection = fit_task_spectra(spectra, task.settings)
    except Exception as exc:
        for ds in spectra:
            result.failures.append(_failure(task.sample, ds.attrs["source"], "fit", exc))
        return result
    ids = [ds.attrs["spectrum_id"] for ds in spectra]
    fits = fits.assign_coords(
        spectrum_id=("spectrum", ids),
        source_sha256=("spectrum", [ds.attrs["source_sha256"] for ds in spectra]))
    fits.attrs["settings_hash"] = task.settings_hash
    for i, ds in enumerate(spectra):
        n = ds.sizes["frequency"]
        spectra[i] = ds.assign(
            impedance_fit=("frequency", curves["impedance_fit"].values[i, :n],
                           {"units": "ohm", "long_name": "fitted impedance"}),
            impedance_residual=("frequency", curves["impedance_residual"].values[i, :n],
                                {"units": "ohm", "long_name": "data minus fit"}))
    result.spectra = spectra
    result.fits = fits.drop_vars([v for v in _FIT_CURVES if v in fits.variables])
    if result.selection is not None:
        result.selection = result.selection.assign_coords(spectrum_id=("spectrum", ids))
    result.validation = kramers_kronig_table(spectra, ids)
    if task.settings.drt:
        result.drt = drt_table(spectra, ids)
    return result


def fit_task_spectra(spectra: list[xr.Dataset], settings: FitDefaults
                     ) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset | None]:
    """Fit the spectra with the configured circuit, or choose one per spectrum ("auto").

    Returns the fits dataset (for "auto" the combined one of :mod:`eis_pipeline.fitting.
    combined`), a dataset with the fitted curves in input order, and the selection evidence
    (None for a fixed circuit).
    """
    from eis_pipeline.fitting.batch import fit_spectra

    if settings.circuit != AUTO_CIRCUIT:
        fits = fit_spectra(spectra, circuit=settings.circuit, weighting=settings.weighting,
                           errors="ignore")
        return fits, fits, None
    from eis_pipeline.fitting.combined import combine_fits
    from eis_pipeline.fitting.selection import chosen_fits, fits_by_circuit, select_circuit

    selection = select_circuit(spectra, candidates=PELLET_CANDIDATES,
                               weighting=settings.weighting, drt=settings.drt)
    unfit = [ds.attrs["spectrum_id"] for ds, c in zip(spectra, selection.chosen, strict=True)
             if not c]
    if unfit:
        raise EisError(f"no candidate circuit could be fitted to {', '.join(unfit)}")
    fits = combine_fits(fits_by_circuit(selection))
    return fits, chosen_fits(selection), selection.evidence


# --------------------------------------------------------------------------- planning

def plan_tasks(config: CampaignConfig, *, skip: set[tuple[str, str, str]] | None = None
               ) -> tuple[list[FileTask], list[dict[str, str]]]:
    """Cut the campaign into tasks; ``skip`` holds (sample, path, sha256) already done.

    Returns the tasks and the failures found while planning (e.g. a file name that does not
    match the temperature pattern).
    """
    from eis_pipeline.io.registry import sha256_file

    tasks: list[FileTask] = []
    failures: list[dict[str, str]] = []
    for sample in config.samples:
        digest = settings_hash(sample)
        todo: list[tuple[Path, float | None]] = []
        for path in sample.paths:
            if skip and (sample.name, str(path), sha256_file(path)) in skip:
                continue
            try:
                todo.append((path, sample.temperature.from_file(path)))
            except EisError as exc:
                failures.append(_failure(sample.name, path, "config", exc))
        for start in range(0, len(todo), FILES_PER_TASK):
            chunk = todo[start:start + FILES_PER_TASK]
            tasks.append(FileTask(sample.name, tuple(p for p, _ in chunk),
                                  tuple(t for _, t in chunk), sample.temperature.kind,
                                  sample.settings, digest))
    return tasks, failures


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

    padded = [pad(part) for part in present]
    merged = xr.concat(padded, dim="spectrum", data_vars="minimal", coords="minimal",
                       compat="override", combine_attrs="override", join="outer")
    if not renumber:
        return merged
    return merged.assign_coords(spectrum=np.arange(merged.sizes["spectrum"]))


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

    # One physics pass per circuit ("auto" mixes them), rows put back in spectrum order.
    parts = [conductivity(group, **sample.geometry.physics_kwargs())
             for group in split_fits(fits).values()]
    cond = _concat(parts, renumber=False)
    if cond is None:
        return node
    cond = cond.sortby("spectrum")
    node["conductivity"] = xr.DataTree(cond)
    node["arrhenius"] = xr.DataTree(arrhenius_by_component(
        cond, form=sample.settings.arrhenius_form,  # type: ignore[arg-type]
        breakpoints=sample.settings.arrhenius_breakpoints,
        breakpoint_K=sample.settings.arrhenius_breakpoint_K))
    return node


def _sample_attrs(sample: SampleConfig) -> dict[str, Any]:
    from dataclasses import asdict

    geometry = {k: v for k, v in asdict(sample.geometry).items() if v is not None}
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


def build_tree(config: CampaignConfig, results: Sequence[TaskResult],
               failures: Sequence[dict[str, str]]) -> xr.DataTree:
    """The results tree of DESIGN.md section 7."""
    by_sample: dict[str, list[TaskResult]] = {s.name: [] for s in config.samples}
    all_failures = list(failures)
    for r in results:
        by_sample[r.sample].append(r)
        all_failures.extend(r.failures)
    samples: dict[str, xr.DataTree] = {}
    for sample in config.samples:
        try:
            samples[sample.name] = analyse_sample(sample, by_sample[sample.name])
        except Exception as exc:
            all_failures.append(_failure(sample.name, "", "physics", exc))
            samples[sample.name] = xr.DataTree(name=sample.name)
    root = xr.DataTree()
    root.attrs["config"] = config.to_json()
    root.attrs["campaign"] = config.name
    for name, node in samples.items():
        root[name] = node
    root["campaign"] = campaign_node(config, samples)
    root["failures"] = xr.DataTree(failures_dataset(all_failures))
    return root


# --------------------------------------------------------------------------- resume

def reusable_results(config: CampaignConfig, previous: xr.DataTree
                     ) -> tuple[list[TaskResult], set[tuple[str, str, str]]]:
    """Task results recovered from a previous results file for files whose content (SHA-256)
    and sample settings are unchanged, and the keys of those files."""
    results: list[TaskResult] = []
    done: set[tuple[str, str, str]] = set()
    for sample in config.samples:
        if sample.name not in previous.children or "fit" not in previous[sample.name].children:
            continue
        node = previous[sample.name]
        fits = node["fit"].ds
        if fits.attrs.get("settings_hash") != settings_hash(sample):
            continue
        sources = fits["source"].values.astype(str)
        shas = fits["source_sha256"].values.astype(str)
        for path in sample.paths:
            rows = np.flatnonzero(sources == str(path))
            if rows.size == 0:
                continue
            from eis_pipeline.io.registry import sha256_file

            digest = sha256_file(path)
            if not np.all(shas[rows] == digest):
                continue
            ids = fits["spectrum_id"].values[rows].astype(str)
            result = TaskResult(sample.name)
            result.spectra = [node["spectra"][i].to_dataset() for i in ids]
            result.fits = fits.isel(spectrum=rows)
            for group, attr in (("validation", "validation"), ("drt", "drt")):
                if group in node.children:
                    setattr(result, attr, node[group].ds.isel(spectrum=rows))
            results.append(result)
            done.add((sample.name, str(path), digest))
    return results, done


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
        progress: bool | None = None, plots: bool | None = None,
        write: bool = True) -> xr.DataTree:
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
    plots : bool, optional
        Write plots beside the results; default: the config's ``plots``.
    write : bool
        Write the HDF5 file, CSV summary and plots (False: only return the tree).

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
    reused: list[TaskResult] = []
    skip: set[tuple[str, str, str]] = set()
    if resume and out.is_file():
        from eis_pipeline.io.hdf5 import read_results

        reused, skip = reusable_results(cfg, read_results(out))
    tasks, failures = plan_tasks(cfg, skip=skip)
    if strict and failures:
        raise EisError(failures[0]["reason"])
    results = list(reused)
    for result in iter_results(tasks, jobs=jobs, scheduler=scheduler, progress=progress):
        if strict and result.failures:
            raise EisError(f"{result.failures[0]['file']}: {result.failures[0]['reason']}")
        results.append(result)
    tree = build_tree(cfg, results, failures)
    tree.attrs["reused_files"] = len(skip)
    if write:
        from eis_pipeline.io.hdf5 import write_results
        from eis_pipeline.reporting import write_csv_summary, write_plots

        write_results(tree, out, config=cfg.to_json())
        write_csv_summary(tree, out.with_suffix(".csv"))
        if cfg.plots if plots is None else plots:
            write_plots(tree, out.with_name(out.stem + "_plots"), fmt=cfg.plot_format)
    return tree
