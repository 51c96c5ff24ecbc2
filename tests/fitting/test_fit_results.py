"""fit_spectra_results: the batch fit with the parameter table and the curves apart."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import ConvergenceWarning
from eis_pipeline.fitting.batch import CURVES, fit_spectra, fit_spectra_results
from eis_pipeline.fitting.model import CircuitModel

CIRCUIT = "R0-p(R1,C1)"


def _spectra() -> list[xr.Dataset]:
    out = []
    for n, r1 in ((31, 50.0), (17, 80.0)):   # different lengths: the curves are padded
        f = np.logspace(6, 0, n)
        z = CircuitModel(CIRCUIT).set_params_({"R0": 5.0, "R1": r1, "C1": 1e-6}).predict(f)
        out.append(make_spectrum(f, z * (1 + 0.002 * np.sin(np.arange(n)))))
    return out


def test_parameters_and_curves_apart_are_the_fits_dataset_together():
    spectra = _spectra()
    results = fit_spectra_results(spectra, circuit=CIRCUIT)
    assert "point" not in results.parameters.dims
    assert not set(CURVES) & set(results.parameters.variables)
    assert set(results.curves.data_vars) == set(CURVES)
    xr.testing.assert_identical(results.to_dataset(), fit_spectra(spectra, circuit=CIRCUIT))


def test_one_spectrums_curve_has_its_own_points_only():
    spectra = _spectra()
    results = fit_spectra_results(spectra, circuit=CIRCUIT)
    curve = results.curve(1)
    assert curve.sizes["frequency"] == 17
    np.testing.assert_array_equal(curve["frequency"].values, spectra[1]["frequency"].values)
    np.testing.assert_array_equal(curve["impedance"].values, spectra[1]["impedance"].values)
    np.testing.assert_allclose(curve["impedance_residual"].values,
                               curve["impedance"].values - curve["impedance_fit"].values)
    r1 = results.parameters["value"].sel(param="R1").values
    assert r1 == pytest.approx([50.0, 80.0], rel=1e-2)


def test_non_convergence_warns_from_either_function():
    spectra = _spectra()
    for fit in (fit_spectra, fit_spectra_results):
        with pytest.warns(ConvergenceWarning, match="did not converge") as record:
            fit(spectra, circuit=CIRCUIT, max_nfev=1)
        assert record[0].filename == __file__   # pointing at the caller
