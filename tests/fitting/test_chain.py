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


def test_chain_keeps_the_neighbour_start_where_it_ends_lower(monkeypatch):
    """The independent batch is stopped early on purpose (3 evaluations, well above every
    optimum); refitted from their neighbours' kept parameters, the spectra after the first
    end lower, keep that fit and say so; the first in temperature order has no neighbour
    and keeps its own."""
    from eis_pipeline.fitting import batch

    real = batch.fit_canonical
    calls = []

    def early_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:   # the independent batch; the chain's refits run in full
            kwargs["max_nfev"] = 3
        return real(*args, **kwargs)

    spectra = _series(0, n=6)
    monkeypatch.setattr(batch, "fit_canonical", early_batch)
    early = _fits(spectra, "bulk-gb-electrode")
    calls.clear()
    chained = _fits(spectra, "bulk-gb-electrode", chain="temperature")
    order = np.argsort([float(ds["temperature"].values[0]) for ds in spectra])
    noted = np.array([CHAIN_NOTE in m for m in chained["message"].values])
    assert not noted[order[0]] and noted[order[1:]].all()
    assert chained["cost"].values[order[0]] == early["cost"].values[order[0]]
    assert np.all(chained["cost"].values[order[1:]] < early["cost"].values[order[1:]])

def test_chain_needs_temperatures_and_a_known_name():
    spectra = _series(1, n=3)
    for ds in spectra:
        ds["temperature"] = np.nan
    with pytest.raises(FitError, match="no temperature"):
        fit_spectra(spectra, chain="temperature")
    with pytest.raises(FitError, match="chain must be"):
        fit_spectra(spectra, chain="pressure")   # type: ignore[arg-type]
