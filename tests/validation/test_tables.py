"""Kramers-Kronig and DRT tables of many spectra (eis_pipeline.validation.tables)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import EisError
from eis_pipeline.validation.drt import drt
from eis_pipeline.validation.tables import compute_drts, drt_table
from tests.validation.synthetic import add_noise, rc_ladder, sweep, two_arcs_and_spike


@pytest.fixture(scope="module")
def spectra() -> list[xr.Dataset]:
    rng = np.random.default_rng(7)
    f = sweep()
    short = f[::20][:3]   # 3 points: too few for a DRT, so a NaN row
    return [make_spectrum(f, add_noise(two_arcs_and_spike(f), rng, 0.002)),
            make_spectrum(short, rc_ladder(short, 10.0, np.array([100.0]), np.array([1e-4]))),
            make_spectrum(f[5:], rc_ladder(f[5:], 20.0, np.array([500.0, 50.0]),
                                           np.array([1e-6, 1e-3])))]


def test_compute_drts_is_drt_per_spectrum_or_none(spectra):
    results = compute_drts(spectra)
    assert len(results) == 3 and results[1] is None
    for ds, r in zip(spectra[::2], results[::2], strict=True):
        own = drt(ds["frequency"].values, ds["impedance"].values)
        assert r is not None
        np.testing.assert_array_equal(r.gamma_ohm, own.gamma_ohm)


def test_table_from_precomputed_results_equals_fresh_table(spectra):
    ids = ["a", "b", "c"]
    fresh = drt_table(spectra, ids)
    given = drt_table(spectra, ids, compute_drts(spectra))
    xr.testing.assert_identical(given, fresh)
    # and the rows are the DRTs themselves: NaN for the spectrum without one
    assert np.isnan(fresh.gamma.values[1]).all()
    r = compute_drts(spectra[:1])[0]
    assert r is not None
    np.testing.assert_array_equal(fresh.gamma.values[0, : r.gamma_ohm.size], r.gamma_ohm)
    assert float(fresh.series_resistance.values[0]) == r.series_resistance_ohm


def test_table_needs_one_result_per_spectrum(spectra):
    with pytest.raises(EisError, match="one of each per spectrum"):
        drt_table(spectra, ["a", "b", "c"], [None])
