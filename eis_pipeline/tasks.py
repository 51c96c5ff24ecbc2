"""The unit of work of a campaign: a few files of one sample, read, fitted and checked.

:func:`plan_tasks` cuts a campaign into :class:`FileTask` objects; :func:`process_task` runs
one anywhere (this process, a worker process, a dask worker) and returns plain datasets in a
:class:`TaskResult`; :func:`reusable_results` recovers results of unchanged files from a
previous results file (``--resume``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import traceback
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import xarray as xr

from eis_pipeline.config import AUTO_CIRCUIT, CampaignConfig, FitDefaults, SampleConfig
from eis_pipeline.conventions import with_spectrum_variable
from eis_pipeline.exceptions import EisError, FitError
from eis_pipeline.fitting.batch import CURVES, SpectraFitResults, fit_spectra_results
from eis_pipeline.fitting.chosen import ChosenFits
from eis_pipeline.fitting.selection import chosen_fits, fits_by_circuit, select_circuit
from eis_pipeline.io.registry import read_spectra, sha256_file
from eis_pipeline.packing import concat_packed, pack_spectra
from eis_pipeline.stacking import stack
from eis_pipeline.timelimit import TIME_LIMIT_S, time_limit
from eis_pipeline.validation.tables import compute_drts, drt_table, kramers_kronig_table

if TYPE_CHECKING:
    from eis_pipeline.fitting.selection import SelectionResult
    from eis_pipeline.validation.drt import DrtResult

#: most files per task. Every stage of a task is batched over its spectra (fits, Kramers-Kronig,
#: DRT), and each batch pays a set-up (starting-point grids, stacked solves, numba dispatch)
#: that a task of 8 files spreads thinly: a 120-file sample costs 1.5x more CPU in 8-file
#: tasks than in one (bench/RESULTS.md, end-to-end section). The bound keeps a task's memory
#: and time limit modest and the results of a large sample streaming in.
FILES_PER_TASK = 64
#: fewest files per task when a sample is split to feed parallel workers
MIN_FILES_PER_TASK = 8
#: tasks per worker aimed at when splitting a sample: a slower task then leaves another
#: worker idle for at most half of its share
TASKS_PER_WORKER = 2
#: "auto" candidates for pellets: the bulk always shows, as an arc or as the high-frequency
#: intercept. The single-arc presets (no series resistance) would label a lone arc "bulk"
#: even when it is the grain-boundary arc sitting on an intercept, so they are left out.
PELLET_CANDIDATES = ("bulk-gb-electrode", "bulk-gb-electrode-inductance",
                     "hf-intercept-gb-electrode", "hf-intercept-gb-electrode-no-inductance")


@dataclass(frozen=True)
class FileTask:
    """Some files of one sample, with everything needed to process them anywhere."""

    sample: str
    paths: tuple[Path, ...]
    temperatures_K: tuple[float | None, ...]
    temperature_kind: str
    settings: FitDefaults
    settings_hash: str
    #: each file's spectrum-id stem, unique within the sample (:func:`spectrum_stems`)
    stems: tuple[str, ...] = ()
    #: seconds allowed per file for reading, and for fitting and checking (None: no limit)
    time_limit_s: float | None = None


@dataclass
class TaskResult:
    """What a task produced: its spectra with their fitted curves, packed
    (:func:`eis_pipeline.packing.pack_spectra`: one array per variable, what the parent
    writes as it is), fit rows, validation rows, failures."""

    sample: str
    spectra: xr.Dataset | None = None
    #: the fit of each spectrum with its circuit (the stored table: :meth:`ChosenFits.table`)
    fits: ChosenFits | None = None
    validation: xr.Dataset | None = None
    drt: xr.Dataset | None = None
    selection: xr.Dataset | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    #: the whole sample analysed by the worker (:func:`eis_pipeline.pipeline.run` in
    #: parallel): the node to write, and what its analysis recorded; the datasets above
    #: are then not sent back
    node: xr.DataTree | None = None
    analysis_failures: list[dict[str, Any]] = field(default_factory=list)
    #: that sample's figures, rendered by the worker for the parent to write after the node
    #: (:func:`eis_pipeline.report.plots.render_sample_plots`), and what drawing them recorded
    plots: SamplePlots | None = None


@dataclass
class SamplePlots:
    """A sample's figure files as ``(what, path in the plots folder, bytes)``, and the
    failures drawing them recorded (stage "plot")."""

    files: list[tuple[str, str, bytes]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)


def settings_hash(sample: SampleConfig) -> str:
    """Hash of everything that changes a sample's fits: analysis settings and temperatures."""
    text = json.dumps({"settings": asdict(sample.settings),
                       "temperature": [sample.temperature.kind, sample.temperature.pattern,
                                       sorted(sample.temperature.table_K.items())]},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def spectrum_id(path: Path, sweep: int, stem: str | None = None) -> str:
    """A group name for one sweep of one file: ``<stem>_s<sweep>``, netCDF-safe."""
    return f"{stem or _safe_stem(path)}_s{sweep}"


def _safe_stem(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.+-]", "_", path.stem)[:80]
    return stem if stem and not stem.startswith(".") else f"_{stem}"


def spectrum_stems(paths: Sequence[Path]) -> dict[Path, str]:
    """Each file's spectrum-id stem, unique among ``paths``: files of one sample in two
    folders under the same name (two pellets' ``25C.mpt``) would otherwise share group
    names, and one would silently replace the other in the results file. A stem shared by
    several files gets a short hash of the file's path."""
    stems = {p: _safe_stem(p) for p in paths}
    counts = Counter(stems.values())
    return {p: s if counts[s] == 1 else
            f"{s}_{hashlib.sha256(str(p).encode()).hexdigest()[:8]}" for p, s in stems.items()}


# --------------------------------------------------------------------------- one task

def failure_record(sample: str, path: Path | str, stage: str, exc: BaseException) -> dict[str, Any]:
    """One row of ``/failures``: sample, file, stage, exception type and reason (message),
    and the exception itself (``"exception"``, not written; ``--strict`` raises it)."""
    reason = str(exc) if isinstance(exc, EisError | OSError) else (
        f"{type(exc).__name__}: {exc} (internal error; please report it with this file)\n"
        + "".join(traceback.format_exception_only(exc)).strip())
    return {"sample": sample, "file": str(path), "stage": stage,
            "error": type(exc).__name__, "reason": reason, "exception": exc}


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
        ds = with_spectrum_variable(ds, "temperature",
                                    np.full(ds.sizes["frequency"], float(temperature_K)),
                                    {"units": "K", "long_name": "sample temperature"})
    elif temperature_kind == "column" and "temperature" not in ds:
        raise EisError(f"{ds.attrs.get('source')}: the config takes the temperature from a "
                       "column, but this file has none; use temperature = {from = "
                       "\"filename\", ...} or a table")
    return ds


def prepare_process() -> None:
    """Load what the first task of every process would load on its own, so that local
    workers forked after this inherit it (:func:`eis_pipeline.parallel.run_tasks`): xarray's
    first ``Variable`` of a process looks for dask arrays, importing dask.array when dask is
    installed (~0.5 s of CPU per process, more than a task of 30 spectra fits in)."""
    xr.Variable("spectrum", np.zeros(1))


def process_task(task: FileTask) -> TaskResult:
    """Read, prepare, fit and check the files of one task (runs in a worker)."""
    from threadpoolctl import threadpool_limits

    # The solves are small: BLAS threads only contend with each other and with other workers.
    with threadpool_limits(limits=1):
        return _process_task(task)


def _over_limit(task: FileTask, what: str, files: int = 1) -> str:
    limit = task.time_limit_s or 0.0
    budget = "" if files == 1 else f", {limit * files:g} s for these {files} files"
    return (f"{what} took longer than the time limit of {limit:g} s per file{budget}; "
            "give more with --time-limit SECONDS (0: no limit)")


def _process_task(task: FileTask) -> TaskResult:
    result = TaskResult(task.sample)
    stems = dict(zip(task.paths, task.stems, strict=False))
    spectra: list[xr.Dataset] = []
    for path, temp in zip(task.paths, task.temperatures_K, strict=True):
        try:
            with time_limit(task.time_limit_s, _over_limit(task, "reading")):
                read = read_spectra(path, format=task.settings.format)
            for ds in read:
                ds = prepare_spectrum(ds, task.settings, temp, task.temperature_kind)
                ds.attrs["spectrum_id"] = spectrum_id(path, int(ds.attrs["sweep"]),
                                                      stems.get(path))
                spectra.append(ds)
        except Exception as exc:
            result.failures.append(failure_record(task.sample, path, "read", exc))
    return _analyse(task, spectra, result) if spectra else result


def _analyse(task: FileTask, spectra: list[xr.Dataset], result: TaskResult) -> TaskResult:
    """Fit and check ``spectra`` into ``result``. When the batch fails, the spectra are
    analysed one at a time, so that only the one at fault is recorded as failed."""
    stage = "drt"
    files = len({ds.attrs.get("source") for ds in spectra})
    limit = None if task.time_limit_s is None else task.time_limit_s * files
    try:
        with time_limit(limit, _over_limit(task, "fitting and checking", files)):
            # Each spectrum's DRT is computed once and used twice: by "auto" circuit
            # selection (arc counts, seeds for fits that did not converge) and for the
            # /<sample>/drt table.
            drts = compute_drts(spectra) if task.settings.drt else None
            stage = "fit"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # non-converged fits: counted in the summary
                fits, curves, selection, unfit = fit_task_spectra(spectra, task.settings,
                                                                  drts=drts)
            failures = [failure_record(
                task.sample, spectra[i].attrs["source"], "fit",
                FitError(f"{spectra[i].attrs['spectrum_id']}: no candidate circuit could be "
                         f"fitted ({spectra[i].sizes['frequency']} points)")) for i in unfit]
            if unfit:   # "auto": nothing fitted to these; the others go on
                kept = [i for i in range(len(spectra)) if i not in set(unfit)]
                spectra = [spectra[i] for i in kept]
                drts = None if drts is None else [drts[i] for i in kept]
            ids = [ds.attrs["spectrum_id"] for ds in spectra]
            fits = fits.assign_per_spectrum(
                spectrum_id=ids, source_sha256=[ds.attrs["source_sha256"] for ds in spectra]
            ).assign_attrs(settings_hash=task.settings_hash)
            # One array per variable for the parent to write (no dataset per spectrum).
            packed = pack_spectra(spectra, extra={
                "impedance_fit": (curves["impedance_fit"].values,
                                  {"units": "ohm", "long_name": "fitted impedance"}),
                "impedance_residual": (curves["impedance_residual"].values,
                                       {"units": "ohm", "long_name": "data minus fit"})})
            stage = "validation"
            validation = kramers_kronig_table(spectra, ids)
            table = None if drts is None else drt_table(spectra, ids, drts)
    except Exception as exc:
        if len(spectra) > 1:   # find the spectrum at fault: the others are analysed alone
            return _one_by_one(task, spectra, result)
        result.failures.append(failure_record(task.sample, spectra[0].attrs["source"], stage,
                                              exc))
        return result
    result.failures.extend(failures)
    result.spectra = packed
    result.fits = fits.drop_vars(CURVES)  # ("auto": the candidates' fits)
    if selection is not None:
        result.selection = selection.assign_coords(spectrum_id=("spectrum", ids))
    result.validation = validation
    result.drt = table
    return result


def fit_task_spectra(spectra: list[xr.Dataset], settings: FitDefaults, *,
                     drts: Sequence[DrtResult | None] | None = None
                     ) -> tuple[ChosenFits, xr.Dataset, xr.Dataset | None, list[int]]:
    """Fit the spectra with the configured circuit, or choose one per spectrum ("auto").

    Returns each spectrum's fit with its circuit (:class:`~eis_pipeline.fitting.chosen.
    ChosenFits`), a dataset with the fitted curves in input order, and the selection evidence
    (None for a fixed circuit), and the positions of the spectra nothing could be fitted to
    ("auto"; left out of the other three). ``drts`` are the spectra's DRTs if already
    computed (one per spectrum, :func:`eis_pipeline.validation.tables.compute_drts`), used
    by "auto" selection when ``settings.drt`` is set instead of computing them again.
    """

    chain: Literal["temperature"] | None = \
        "temperature" if settings.chain == "temperature" else None
    if settings.circuit != AUTO_CIRCUIT:
        results = fit_spectra_results(spectra, circuit=settings.circuit,
                                      weighting=settings.weighting, errors="ignore",
                                      chain=chain)
        return ChosenFits.single(results.parameters), results.curves, None, []

    selection = select_circuit(spectra, candidates=PELLET_CANDIDATES,
                               weighting=settings.weighting, drt=settings.drt, drts=drts,
                               chain=chain)
    unfit = [i for i, c in enumerate(selection.chosen) if not c]
    if unfit:
        if len(unfit) == len(spectra):
            raise FitError("no candidate circuit could be fitted to any spectrum")
        selection = _without(selection, unfit)
    # parameter tables only: the curves go to the spectra (chosen_fits), not the fit table
    chosen = ChosenFits(fits_by_circuit(selection, curves=False), auto=True)
    return chosen, chosen_fits(selection), selection.evidence, unfit


def _without(selection: SelectionResult, rows: Sequence[int]) -> SelectionResult:
    """``selection`` without the spectra at positions ``rows``, renumbered 0..n-1."""
    keep = np.setdiff1d(np.arange(len(selection.chosen)), rows)

    def cut(ds: xr.Dataset) -> xr.Dataset:
        ds = ds.isel(spectrum=keep)
        return ds.assign_coords(spectrum=np.arange(keep.size)) if "spectrum" in ds.coords \
            else ds

    return replace(selection, chosen=tuple(selection.chosen[i] for i in keep),
                   evidence=cut(selection.evidence),
                   results={k: SpectraFitResults(cut(v.parameters), cut(v.curves))
                            for k, v in selection.results.items()})


def _one_by_one(task: FileTask, spectra: list[xr.Dataset], result: TaskResult
                ) -> TaskResult:
    """A task's spectra analysed one at a time (after the batch failed): the failure is
    recorded for the spectra that fail alone, the others keep their results."""

    parts = [_analyse(task, [ds], TaskResult(task.sample)) for ds in spectra]
    for part in parts:
        result.failures.extend(part.failures)
    result.spectra = concat_packed([p.spectra for p in parts])
    result.fits = ChosenFits.concat([p.fits for p in parts])
    for group in ("validation", "drt", "selection"):
        setattr(result, group, stack([getattr(p, group) for p in parts]))
    return result


# --------------------------------------------------------------------------- planning

def files_per_task(n_files: int, workers: int | None) -> int:
    """Files per task for a sample of ``n_files`` run on ``workers`` parallel workers (None:
    unknown, a cluster): as few tasks as keep every worker busy (:data:`TASKS_PER_WORKER`
    each), between :data:`MIN_FILES_PER_TASK` and :data:`FILES_PER_TASK` files. Results do
    not depend on it: every stage treats each spectrum of a batch on its own."""
    if workers is None:
        share = MIN_FILES_PER_TASK
    elif workers <= 1:
        share = FILES_PER_TASK
    else:
        share = max(MIN_FILES_PER_TASK, math.ceil(n_files / (TASKS_PER_WORKER * workers)))
    return max(1, min(FILES_PER_TASK, share))


def plan_tasks(config: CampaignConfig, *, skip: set[tuple[str, str]] | None = None,
               time_limit_s: float | None = TIME_LIMIT_S, workers: int | None = 1
               ) -> tuple[list[FileTask], list[dict[str, Any]]]:
    """Cut the campaign into tasks; ``skip`` holds (sample, path) already done (see
    :func:`reusable_results`, which has checked their content); ``time_limit_s`` is the
    seconds each file may take to read, and to fit and check (None or 0: no limit);
    ``workers`` is how many tasks run at once (None: unknown), which sets the task size
    (:func:`files_per_task`).

    Returns the tasks and the failures found while planning (e.g. a file name that does not
    match the temperature pattern).
    """
    tasks: list[FileTask] = []
    failures: list[dict[str, Any]] = []
    for sample in config.samples:
        digest = settings_hash(sample)
        stems = spectrum_stems(sample.paths)
        todo: list[tuple[Path, float | None]] = []
        for path in sample.paths:
            if skip and (sample.name, str(path)) in skip:
                continue
            try:
                todo.append((path, sample.temperature.from_file(path)))
            except EisError as exc:
                failures.append(failure_record(sample.name, path, "config", exc))
        # a chained sample is fitted in one batch: the chain runs along all its temperatures
        per_task = max(len(todo), 1) if sample.settings.chain == "temperature" \
            else files_per_task(len(todo), workers)
        for start in range(0, len(todo), per_task):
            chunk = todo[start:start + per_task]
            tasks.append(FileTask(sample.name, tuple(p for p, _ in chunk),
                                  tuple(t for _, t in chunk), sample.temperature.kind,
                                  sample.settings, digest, tuple(stems[p] for p, _ in chunk),
                                  time_limit_s or None))
    return tasks, failures


# --------------------------------------------------------------------------- resume

def reusable_results(config: CampaignConfig, previous: xr.DataTree
                     ) -> tuple[list[TaskResult], set[tuple[str, str]]]:
    """Task results recovered from a previous results file for files whose content (SHA-256)
    and sample settings are unchanged, and their (sample, path) keys."""

    results: list[TaskResult] = []
    done: set[tuple[str, str]] = set()
    for sample in config.samples:
        if (sample.name not in previous.children
                or not {"fit", "spectra"} <= set(previous[sample.name].children)):
            continue
        node = previous[sample.name]
        fits = node["fit"].ds
        if fits.attrs.get("settings_hash") != settings_hash(sample):
            continue
        packed = node["spectra"].to_dataset()
        spectrum_row = {str(sid): i for i, sid in enumerate(packed["spectrum_id"].values)}
        stems = spectrum_stems(sample.paths)
        sources = fits["source"].values.astype(str)
        shas = fits["source_sha256"].values.astype(str)
        for path in sample.paths:
            rows = np.flatnonzero(sources == str(path))
            if rows.size == 0:
                continue
            if not np.all(shas[rows] == sha256_file(path)):
                continue
            ids = fits["spectrum_id"].values[rows].astype(str)
            if any(i.rsplit("_s", 1)[0] != stems[path] or i not in spectrum_row for i in ids):
                continue   # named otherwise now (a file of the same name was added): refit
            result = TaskResult(sample.name)
            result.spectra = packed.isel(spectrum=[spectrum_row[i] for i in ids])
            result.fits = ChosenFits.from_table(fits.isel(spectrum=rows))
            for group in ("validation", "drt", "selection"):
                if group in node.children:
                    setattr(result, group, node[group].ds.isel(spectrum=rows))
            results.append(result)
            done.add((sample.name, str(path)))
    return results, done
