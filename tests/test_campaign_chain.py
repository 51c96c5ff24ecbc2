"""``chain = "temperature"`` in a campaign config: a sample's spectra fitted in one batch and
warm-started along the temperature series (fit_spectra(..., chain="temperature"))."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline import tasks
from eis_pipeline.config import load_config
from eis_pipeline.exceptions import ConfigError
from eis_pipeline.io.hdf5 import read_results
from eis_pipeline.pipeline import run
from tests.test_run_safety import campaign

CIRCUIT = "bulk-gb-electrode-inductance"


def _config(tmp_path, chain: str | None, files: int = 6):
    extra = "" if chain is None else f'chain = "{chain}"\n'
    return campaign(tmp_path, files=files, circuit=CIRCUIT, extra=extra)


def test_chain_key_is_read_per_sample_and_checked(tmp_path):
    assert load_config(_config(tmp_path, None)).samples[0].settings.chain == "none"
    assert load_config(_config(tmp_path, "temperature")).samples[0].settings.chain \
        == "temperature"
    with pytest.raises(ConfigError, match="chain"):
        load_config(_config(tmp_path, "pressure"))


def test_a_chained_sample_is_one_task(tmp_path, monkeypatch):
    monkeypatch.setattr(tasks, "FILES_PER_TASK", 2)
    plain, _ = tasks.plan_tasks(load_config(_config(tmp_path, None)))
    chained, _ = tasks.plan_tasks(load_config(_config(tmp_path, "temperature")))
    assert [len(t.paths) for t in plain] == [2, 2, 2]
    assert [len(t.paths) for t in chained] == [6]


def test_chained_campaign_fits_at_least_as_well_as_unchained(tmp_path, monkeypatch):
    """Six demo temperatures, unchained in three tasks of two files: the chained run records
    the chain and ends every spectrum at or below the cost of its unchained fit."""
    monkeypatch.setattr(tasks, "FILES_PER_TASK", 2)
    fits = {}
    for chain in (None, "temperature"):
        where = tmp_path / str(chain)
        where.mkdir()
        run(_config(where, chain), progress=False, plots="none")
        fits[chain] = read_results(where / "out" / "r.h5")["a"]["fit"].ds.sortby("spectrum_id")
    plain, chained = fits[None], fits["temperature"]
    assert chained.attrs["chain"] == "temperature" and "chain" not in plain.attrs
    np.testing.assert_array_equal(plain["spectrum_id"].values, chained["spectrum_id"].values)
    assert np.all(chained["converged"].values)
    assert np.all(chained["cost"].values <= plain["cost"].values)
