"""ChosenFits: each spectrum's fit kept with its circuit, from the task to the results file.

"auto" is fitted once per spectrum; the groups travel as they were fitted (no table merged
and taken apart again), and the stored table (docs/results.md) is written once and read back
only by ``--resume``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from eis_pipeline import tasks
from eis_pipeline.conventions import make_spectrum
from eis_pipeline.fitting.batch import fit_spectra
from eis_pipeline.fitting.chosen import ChosenFits
from eis_pipeline.fitting.model import CircuitModel
from eis_pipeline.io.hdf5 import read_results
from eis_pipeline.pipeline import run
from tests.test_run_safety import campaign

F = np.logspace(5, 0, 25)


def _fits(circuit: str, params: dict[str, float], positions: list[int]) -> xr.Dataset:
    z = CircuitModel(circuit).set_params_(params).predict(F)
    spectra = [make_spectrum(F, z * (1 + 0.01 * k)) for k in range(len(positions))]
    return fit_spectra(spectra, circuit=circuit).assign_coords(spectrum=positions)


@pytest.fixture(scope="module")
def chosen() -> ChosenFits:
    rc = _fits("R0-p(R1,C1)", {"R0": 5.0, "R1": 50.0, "C1": 1e-6}, [0, 2, 3])
    c = _fits("R0-C1", {"R0": 10.0, "C1": 1e-6}, [1])
    return ChosenFits({"rc": rc, "c": c}, auto=True, attrs={"settings_hash": "abc"})


def test_table_is_the_stored_union_layout(chosen):
    table = chosen.table()
    assert table["spectrum"].values.tolist() == [0, 1, 2, 3]
    assert table["preset"].values.tolist() == ["rc", "c", "rc", "rc"]
    assert table["param"].values.tolist() == ["R0", "R1", "C1"]
    assert np.isnan(table["value"].sel(spectrum=1, param="R1"))
    assert table.attrs["circuit"] == "auto" and table.attrs["settings_hash"] == "abc"
    assert set(json.loads(table.attrs["presets"])) == {"rc", "c"}
    np.testing.assert_array_equal(table["value"].sel(spectrum=[0, 2, 3]).values,
                                  chosen.groups["rc"]["value"].values)


def test_stored_table_reads_back_into_the_groups(chosen):
    back = ChosenFits.from_table(chosen.table())
    assert back.auto and back.attrs == {"settings_hash": "abc"}
    assert list(back.groups) == ["rc", "c"]
    for key, group in chosen.groups.items():
        got = back.groups[key]
        assert got["param"].values.tolist() == group["param"].values.tolist()
        np.testing.assert_array_equal(got["spectrum"].values, group["spectrum"].values)
        np.testing.assert_array_equal(got["value"].values, group["value"].values)
        assert got.attrs["circuit"] == group.attrs["circuit"]


def test_concat_shifts_positions_and_isel_renumbers(chosen):
    both = ChosenFits.concat([chosen, chosen])
    assert both is not None and both.n_spectra == 8
    assert both.groups["rc"]["spectrum"].values.tolist() == [0, 2, 3, 4, 6, 7]
    assert both.table()["preset"].values.tolist() == ["rc", "c", "rc", "rc"] * 2
    part = both.isel([5, 1])
    assert part.table()["preset"].values.tolist() == ["c", "c"]
    labelled = chosen.assign_per_spectrum(spectrum_id=["a", "b", "c", "d"])
    assert labelled.groups["rc"]["spectrum_id"].values.tolist() == ["a", "c", "d"]


def test_fixed_circuit_table_is_the_fits_dataset_itself():
    fits = _fits("R0-p(R1,C1)", {"R0": 5.0, "R1": 50.0, "C1": 1e-6}, [0, 1])
    single = ChosenFits.single(fits)
    xr.testing.assert_identical(single.table(), fits)
    assert not ChosenFits.from_table(fits).auto


def _groups(path) -> tuple[xr.Dataset, xr.Dataset]:
    tree = read_results(path)
    return tree["a/fit"].to_dataset(), tree["a/conductivity"].to_dataset()


def test_auto_campaign_gives_the_same_results_however_it_is_cut_into_tasks(
        tmp_path, monkeypatch):
    """Tasks of 2 files merge their per-circuit fits into the same results as one task."""
    config = campaign(tmp_path, files=6)
    run(config, output=tmp_path / "one.h5", progress=False, plots="none")
    monkeypatch.setattr(tasks, "FILES_PER_TASK", 2)
    run(config, output=tmp_path / "three.h5", progress=False, plots="none")
    (fit_a, cond_a), (fit_b, cond_b) = _groups(tmp_path / "one.h5"), _groups(tmp_path / "three.h5")
    assert len(set(fit_a["preset"].values.astype(str))) >= 1
    assert json.loads(fit_a.attrs["presets"]) == json.loads(fit_b.attrs["presets"])
    fit_b = fit_b.sel(param=fit_a["param"].values, param_j=fit_a["param"].values)
    for name in ("value", "stderr", "preset", "status", "spectrum_id"):
        np.testing.assert_array_equal(fit_a[name].values, fit_b[name].values)
    for name in ("conductivity", "resistance"):
        np.testing.assert_array_equal(cond_a[name].values, cond_b[name].values)


def _reference_table(chosen: ChosenFits) -> xr.Dataset:
    """The union table as xarray builds it: each group reindexed to the union of parameters
    (NaN, False for the flags), concatenated, sorted by position."""
    params = list(dict.fromkeys(p for g in chosen.groups.values()
                                for p in g["param"].values.astype(str)))
    parts = []
    for preset, g in chosen.groups.items():
        g = g.drop_vars(["fixed", "param_units"])
        fill = {**dict.fromkeys(g.data_vars, np.nan), "undetermined": False, "at_bound": False}
        g = g.reindex(param=params, param_j=params, fill_value=fill)
        parts.append(g.assign(preset=("spectrum", np.full(g.sizes["spectrum"], preset))))
    return xr.concat(parts, dim="spectrum", data_vars="minimal", coords="minimal",
                     compat="override", combine_attrs="drop_conflicts").sortby("spectrum")


@pytest.mark.parametrize("order", [["rc", "c"], ["c", "rc"]])
def test_table_is_what_reindex_and_concat_make(chosen, order):
    chosen = ChosenFits({k: chosen.groups[k] for k in order}, auto=True)
    table, expected = chosen.table(), _reference_table(chosen)
    expected["param_units"] = table["param_units"]
    xr.testing.assert_equal(table, expected)
    assert list(table.variables) == list(expected.variables)
    for name, var in table.variables.items():
        assert var.dtype == expected[name].dtype and var.attrs == expected[name].attrs, name
