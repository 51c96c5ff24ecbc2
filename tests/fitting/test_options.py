"""Fit options: bounds per element type, frequency window and point mask."""

import numpy as np
import pytest

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import FitError
from eis_pipeline.fitting import CircuitModel, fit_spectra
from eis_pipeline.fitting.bounds import expand_bounds

F = np.logspace(6, 0, 61)
TRUE = {"R0": 5.0, "R1": 50.0, "C1": 1e-6}


def _spectrum_with_outlier():
    z = CircuitModel("R0-p(R1,C1)").set_params_(TRUE).predict(F)
    z[0] += 100.0   # a corrupted top point
    return z


def test_element_type_bounds_apply_to_every_parameter_of_the_type():
    out = expand_bounds(["R0", "R1", "CPE1_0", "CPE1_1"],
                        {"R": (1.0, 1e4), "R1": (2.0, 3.0), "CPE_1": (0.5, 1.0)})
    assert out == {"R0": (1.0, 1e4), "R1": (2.0, 3.0), "CPE1_1": (0.5, 1.0)}


def test_element_type_bound_is_enforced():
    z = CircuitModel("R0-p(R1,C1)").set_params_(TRUE).predict(F)
    m = CircuitModel("R0-p(R1,C1)", bounds={"R": (10.0, 1e4)}).fit(F, z)
    assert m.params_["R0"] == pytest.approx(10.0)
    assert "R0" in m.result_.at_bound


@pytest.mark.parametrize("option", [{"f_max_hz": 5e5}, {"mask": np.arange(F.size) > 0}])
def test_window_and_mask_drop_the_corrupted_point(option):
    z = _spectrum_with_outlier()
    bad = CircuitModel("R0-p(R1,C1)").fit(F, z)
    assert bad.params_["R0"] != pytest.approx(5.0, rel=1e-3)
    m = CircuitModel("R0-p(R1,C1)").fit(F, z, **option)
    for k, v in TRUE.items():
        assert m.params_[k] == pytest.approx(v, rel=1e-6)
    assert m.result_.n_points < F.size


def test_fit_spectra_window_and_mask():
    ds = [make_spectrum(F, _spectrum_with_outlier())] * 2
    fits = fit_spectra(ds, circuit="R0-p(R1,C1)", f_min_hz=1.0, f_max_hz=5e5)
    np.testing.assert_allclose(fits["value"].sel(param="R0").values, 5.0, rtol=1e-6)
    assert fits.attrs["f_max_hz"] == 5e5
    assert (fits["n_points"].values == (F <= 5e5).sum()).all()
    masks = [np.arange(F.size) > 0, np.ones(F.size, dtype=bool)]
    fits = fit_spectra(ds, circuit="R0-p(R1,C1)", mask=masks)
    r0 = fits["value"].sel(param="R0").values
    assert r0[0] == pytest.approx(5.0, rel=1e-6) and r0[1] != pytest.approx(5.0, rel=1e-3)
    with pytest.raises(FitError, match="mask for spectrum 0"):
        fit_spectra(ds, circuit="R0-p(R1,C1)", mask=[np.ones(3, dtype=bool)] * 2)
