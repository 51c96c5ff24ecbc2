"""One task of a campaign (eis_pipeline.tasks): read, fit and check a few files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import eis_pipeline.validation.drt as drt_module
import eis_pipeline.validation.tables as tables
from eis_pipeline.config import AUTO_CIRCUIT, load_config
from eis_pipeline.tasks import FileTask, files_per_task, plan_tasks, process_task

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "example.toml"


@pytest.fixture(scope="module")
def small_task() -> FileTask:
    """Two files of the demo campaign, circuit "auto" with DRT (the config's defaults)."""
    if not CONFIG.exists() or not (CONFIG.parents[1] / "sample_data").exists():
        pytest.skip("demo config or sample_data/ not present")
    tasks, failures = plan_tasks(load_config(CONFIG))
    assert not failures
    task = tasks[0]
    assert task.settings.circuit == AUTO_CIRCUIT and task.settings.drt
    return dataclasses.replace(task, paths=task.paths[:2],
                               temperatures_K=task.temperatures_K[:2])


def _count_drt_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count every spectrum's DRT solve, whichever module-level name the caller looks it up
    by (``drt`` is a batch of one: counting the batches' spectra counts both)."""
    calls = [0]
    original = drt_module.drt_batch

    def counting(frequencies, impedances, **kwargs):
        calls[0] += len(frequencies)
        return original(frequencies, impedances, **kwargs)

    monkeypatch.setattr(drt_module, "drt_batch", counting)
    monkeypatch.setattr(tables, "drt_batch", counting)
    return calls


def test_auto_mode_computes_each_drt_once(small_task, monkeypatch):
    calls = _count_drt_calls(monkeypatch)
    result = process_task(small_task)
    assert not result.failures
    n = result.spectra.sizes["spectrum"]
    assert n >= 2
    # one DRT per spectrum, used for both the selection evidence and the /drt table
    assert calls[0] == n
    assert result.drt is not None and result.drt.sizes["spectrum"] == n
    assert result.selection is not None and "drt_arcs" in result.selection
    assert (result.selection.drt_arcs.values >= 0).all()


def test_no_drt_when_switched_off(small_task, monkeypatch):
    calls = _count_drt_calls(monkeypatch)
    task = dataclasses.replace(small_task,
                               settings=dataclasses.replace(small_task.settings, drt=False))
    result = process_task(task)
    assert not result.failures and result.spectra
    assert calls[0] == 0 and result.drt is None
    assert result.selection is not None and "drt_arcs" not in result.selection


def test_task_size_follows_the_workers(monkeypatch):
    import eis_pipeline.tasks as tasks

    assert files_per_task(120, 1) == tasks.FILES_PER_TASK == 64   # serial: the largest
    assert files_per_task(120, 2) == 30                            # two tasks per worker
    assert files_per_task(6, 4) == tasks.MIN_FILES_PER_TASK        # no smaller than 8
    assert files_per_task(1000, 2) == 64                           # no larger than 64
    assert files_per_task(120, None) == 8                          # cluster of unknown size
    monkeypatch.setattr(tasks, "FILES_PER_TASK", 2)                # the cap wins
    assert files_per_task(120, None) == files_per_task(120, 1) == 2


def test_plan_tasks_cuts_a_sample_for_the_workers():
    if not CONFIG.exists() or not (CONFIG.parents[1] / "sample_data").exists():
        pytest.skip("demo config or sample_data/ not present")
    config = load_config(CONFIG)
    serial, _ = plan_tasks(config)
    assert [len(t.paths) for t in serial] == [len(s.paths) for s in config.samples]
    split, _ = plan_tasks(config, workers=None)
    assert all(len(t.paths) <= 8 for t in split)
    assert sum(len(t.paths) for t in split) == sum(len(t.paths) for t in serial)


def test_auto_fits_are_the_candidates_fits_without_curves(small_task):
    """The task keeps, per chosen preset, that candidate's fits dataset minus the curves,
    and each spectrum's curves from its chosen candidate: the same numbers as the merged
    fits datasets (``SelectionResult.fits``), which the task no longer builds."""
    import numpy as np
    import xarray as xr

    from eis_pipeline.fitting.batch import CURVES
    from eis_pipeline.fitting.selection import select_circuit
    from eis_pipeline.io.registry import read_spectra
    from eis_pipeline.tasks import PELLET_CANDIDATES, fit_task_spectra, prepare_spectrum

    spectra = [prepare_spectrum(ds, small_task.settings, t, small_task.temperature_kind)
               for path, t in zip(small_task.paths, small_task.temperatures_K, strict=True)
               for ds in read_spectra(path)]
    settings = dataclasses.replace(small_task.settings, drt=False)
    chosen, curves, _, unfit = fit_task_spectra(spectra, settings)
    assert not unfit
    selection = select_circuit(spectra, candidates=PELLET_CANDIDATES, drt=False)
    for name, group in chosen.groups.items():
        rows = group["spectrum"].values
        merged = selection.fits[name].isel(spectrum=rows)
        xr.testing.assert_identical(group, merged.drop_vars(list(CURVES)).assign_attrs(
            selection_criterion="bic"))
        for var in ("impedance_fit", "impedance_residual"):
            np.testing.assert_array_equal(curves[var].values[rows], merged[var].values)
