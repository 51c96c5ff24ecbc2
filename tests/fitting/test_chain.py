"""Warm starts chained along a temperature series: fit_spectra(..., chain="temperature")."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from eis_pipeline.exceptions import FitError
from eis_pipeline.fitting import fit_spectra
from eis_pipeline.fitting.chain import CHAIN_NOTE
from tests.physics.test_series_fit import _series


def _fits(spectra, circuit, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_spectra(spectra, circuit=circuit, errors="ignore", **kw)


@pytest.mark.parametrize("circuit", ["bulk-gb-electrode", "hf-intercept-gb-electrode",
                                     "p(R1,C1)-p(R2,CPE2)-CPE3"])
def test_chain_reaches_at_least_the_independent_optimum(circuit):
    """-40 ... 100 °C, given in reverse order: every spectrum at or below the cost of its
    independent fit, and the result does not depend on the order of the input."""
    spectra = _series(0, n=12)
    alone = _fits(spectra, circuit)
    chained = _fits(spectra[::-1], circuit, chain="temperature")
    assert chained.attrs["chain"] == "temperature"
    cost = chained["cost"].values[::-1]
    assert np.all(cost <= alone["cost"].values)
    again = _fits(spectra, circuit, chain="temperature")
    np.testing.assert_array_equal(again["value"].values, chained["value"].values[::-1])
    # evaluations of both fits are counted
    assert np.all(chained["n_iterations"].values >= 0)


def test_chain_improves_a_spectrum_stuck_above_its_optimum():
    """Measured on this series (seed 0, 12 temperatures): one spectrum's independent fit
    stops 0.4 % above the point its neighbour's parameters lead to; the chain keeps the
    better one and says so."""
    spectra = _series(0, n=12)
    alone = _fits(spectra, "bulk-gb-electrode")
    chained = _fits(spectra, "bulk-gb-electrode", chain="temperature")
    better = chained["cost"].values < alone["cost"].values * (1 - 1e-3)
    assert better.any()
    assert all(CHAIN_NOTE in m for m in chained["message"].values[better])


def test_chain_needs_temperatures_and_a_known_name():
    spectra = _series(1, n=3)
    for ds in spectra:
        ds["temperature"] = np.nan
    with pytest.raises(FitError, match="no temperature"):
        fit_spectra(spectra, chain="temperature")
    with pytest.raises(FitError, match="chain must be"):
        fit_spectra(spectra, chain="pressure")   # type: ignore[arg-type]
