"""The explicit per-parameter ``at_bound`` flag: engine, fits dataset, FitResult, storage."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from bench.synthetic_fitting import CIRCUIT_A, add_noise, grid, params_a
from eis_pipeline.circuits import compile_circuit
from eis_pipeline.conventions import make_spectrum
from eis_pipeline.fitting.batch import fit_spectra
from eis_pipeline.fitting.bounds import INDUCTANCE_FLOOR, RESISTANCE_FLOOR
from eis_pipeline.fitting.bounds import at_bound as _at_bound
from eis_pipeline.fitting.chosen import ChosenFits
from eis_pipeline.fitting.engine import _arc_swap
from eis_pipeline.fitting.model import CircuitModel
from eis_pipeline.fitting.transforms import ParameterSpace
from eis_pipeline.io.hdf5 import read_results, write_results

pytestmark = pytest.mark.usefixtures("both_solvers")

RC = "R0-p(R1,C1)"
RC_TRUE = {"R0": 10.0, "R1": 100.0, "C1": 1e-6}


def rc_spectrum() -> tuple[np.ndarray, np.ndarray]:
    f = np.logspace(6, 0, 41)
    return f, CircuitModel(RC).set_params_(RC_TRUE).predict(f)


@pytest.fixture(scope="module")
def visible_bulk_arc() -> list[xr.Dataset]:
    """Circuit A spectra (bulk arc inside the range), 0.2 % noise."""
    rng = np.random.default_rng(7)
    f = grid(7e6, 1.0)
    c = compile_circuit(CIRCUIT_A)
    return [make_spectrum(f, add_noise(rng, c.impedance(p, f), 0.002))
            for p in params_a(rng, 4)]


def test_hf_intercept_preset_on_a_visible_bulk_arc_pins_r1_on_its_floor(visible_bulk_arc):
    """The degenerate fit of the brief: the series R1 has nothing to describe, collapses
    onto the resistance floor 1e-6 min|Z|, and the fit still converges."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = fit_spectra(visible_bulk_arc, circuit="hf-intercept-gb-electrode")
    assert fits["at_bound"].dtype == bool and fits["at_bound"].dims == ("spectrum", "param")
    flags = fits["at_bound"].to_pandas()
    assert (fits.status.values == 0).all()
    assert flags["R1"].all()
    z = np.array([ds.impedance.values for ds in visible_bulk_arc])
    f = np.array([ds.frequency.values for ds in visible_bulk_arc])
    np.testing.assert_allclose(fits.value.sel(param="R1"),
                               RESISTANCE_FLOOR * np.abs(z).min(axis=1), rtol=1e-9)
    # the arcs the data do show are not pinned
    assert not flags[["R2", "CPE2_0", "CPE2_1", "CPE3_0", "CPE3_1"]].to_numpy().any()
    # a stray inductance the data cannot see may collapse as well, but only onto its floor
    top = np.argmax(f, axis=1)
    l_floor = (INDUCTANCE_FLOOR * np.abs(z[np.arange(len(z)), top])
               / (2 * np.pi * f[np.arange(len(f)), top]))
    pinned_l = flags["L0"].to_numpy()
    np.testing.assert_allclose(fits.value.sel(param="L0").values[pinned_l], l_floor[pinned_l],
                               rtol=1e-9)


def test_the_right_circuit_on_the_same_spectra_is_not_at_bound(visible_bulk_arc):
    fits = fit_spectra(visible_bulk_arc, circuit="bulk-gb-electrode")
    assert (fits.status.values == 0).all()
    assert not fits["at_bound"].values.any()


@pytest.mark.parametrize(("bounds", "pinned", "value"), [
    ({"R1": (150.0, None)}, "R1", 150.0),      # optimum below the lower bound
    ({"R0": (None, 5.0)}, "R0", 5.0),          # optimum above the upper bound
    ({"C1": (2e-6, 1e-5)}, "C1", 2e-6),
])
def test_user_bound_the_optimum_presses_against(bounds, pinned, value):
    f, z = rc_spectrum()
    m = CircuitModel(RC, bounds=bounds).fit(f, z)
    assert m.result_.at_bound == (pinned,)
    assert m.params_[pinned] == pytest.approx(value, rel=1e-12)
    ds = fit_spectra([make_spectrum(f, z)], circuit=RC, bounds=bounds)
    assert ds["at_bound"].sel(param=pinned).item()
    assert int(ds["at_bound"].sum()) == 1


def test_normal_fit_and_inactive_bounds_are_not_at_bound():
    f, z = rc_spectrum()
    assert CircuitModel(RC).fit(f, z).result_.at_bound == ()
    # bounds that hold the optimum strictly inside are not "at bound"
    m = CircuitModel(RC, bounds={"R1": (50.0, 200.0), "R0": (1.0, None)}).fit(f, z)
    assert m.result_.at_bound == ()
    assert m.params_["R1"] == pytest.approx(100.0, rel=1e-9)


def test_fixed_parameter_is_never_at_bound():
    f = np.logspace(6, 0, 41)
    true = {"R0": 10.0, "R1": 100.0, "CPE1_0": 1e-6, "CPE1_1": 1.0}
    z = CircuitModel("R0-p(R1,CPE1)").set_params_(true).predict(f)
    # n fixed at 1 (its upper limit) and R0 fixed at a value below a would-be bound
    m = CircuitModel("R0-p(R1,CPE1)", constants={"CPE1_1": 1.0, "R0": 10.0},
                     bounds={"R1": (150.0, None)}).fit(f, z)
    assert m.result_.at_bound == ("R1",)
    ds = fit_spectra([make_spectrum(f, z)], circuit="R0-p(R1,CPE1)",
                     constants={"CPE1_1": 1.0, "R0": 10.0})
    assert not ds["at_bound"].values.any()


def test_ideal_capacitor_exponent_is_not_flagged_unless_the_user_bounds_it():
    f = np.logspace(6, 0, 41)
    true = {"R0": 10.0, "R1": 100.0, "CPE1_0": 1e-6, "CPE1_1": 1.0}
    z = CircuitModel("R0-p(R1,CPE1)").set_params_(true).predict(f)
    m = CircuitModel("R0-p(R1,CPE1)").fit(f, z)
    assert m.params_["CPE1_1"] == pytest.approx(1.0, abs=1e-9)
    assert m.result_.at_bound == ()
    m = CircuitModel("R0-p(R1,CPE1)", bounds={"CPE1_1": (0.5, 0.9)}).fit(f, z)
    assert m.result_.at_bound == ("CPE1_1",)
    assert m.params_["CPE1_1"] == pytest.approx(0.9, rel=1e-12)


def test_at_bound_tolerance_and_open_sides():
    space = ParameterSpace.build(["R1", "CPE1_0", "CPE1_1", "X"],
                                 ["positive", "positive", "exponent", "real"])
    lo = np.array([[0.0, -np.inf, 1e-6, -np.inf], [0.0, -np.inf, 0.5, -2.0]])
    hi = np.array([[5.0, np.inf, 1.0, np.inf], [5.0, np.inf, 0.9, 2.0]])
    u = np.array([[1e-10, 3.0, 1.0, 1e300], [1e-6, -1e300, 0.9, 2.0 - 1e-12]])
    np.testing.assert_array_equal(_at_bound(space, u, lo, hi),
                                  [[True, False, False, False],   # n = 1: ideal capacitor
                                   [False, False, True, True]])


def test_flags_follow_an_arc_swap():
    space = ParameterSpace.build(["R1", "CPE1_0", "CPE1_1", "R2", "CPE2_0", "CPE2_1"],
                                 ["positive", "positive", "exponent"] * 2)
    roles = {"bulk": {"resistance": "R1", "cpe": "CPE1"},
             "grain_boundary": {"resistance": "R2", "cpe": "CPE2"}}
    # the "bulk" arc has the larger tau: the arcs are exchanged
    params = np.array([[1e5, 1e-9, 1.0, 1e3, 1e-11, 1.0]])
    p = params.shape[1]
    stderr, cov, corr = np.zeros((1, p)), np.zeros((1, p, p)), np.zeros((1, p, p))
    flags = np.array([[True, False, False, False, False, False]])
    swapped = _arc_swap(params, cov, corr, stderr, space, roles, False, flags=flags)
    assert swapped.tolist() == [True]
    assert params[0, 0] == 1e3
    assert flags.tolist() == [[False, False, False, True, False, False]]


def test_combined_fits_fill_false_and_flags_survive_the_results_file(tmp_path):
    f, z = rc_spectrum()
    spectra = [make_spectrum(f, z)]
    a = fit_spectra(spectra, circuit=RC, bounds={"R1": (150.0, None)})
    zb = CircuitModel("R0-C1").set_params_({"R0": 10.0, "C1": 1e-6}).predict(f)
    b = fit_spectra([make_spectrum(f, zb)], circuit="R0-C1").assign_coords(spectrum=[1])
    combined = ChosenFits({"rc": a, "c": b}, auto=True).table()
    assert combined["at_bound"].dtype == bool
    assert combined["at_bound"].sel(spectrum=1).values.tolist() == [False, False, False]
    assert combined["at_bound"].sel(spectrum=0, param="R1").item()
    tree = xr.DataTree.from_dict({"/s/fit": combined})
    back = read_results(write_results(tree, tmp_path / "r.h5"))["s/fit"].ds
    assert back["at_bound"].dtype == bool
    np.testing.assert_array_equal(back["at_bound"].values, combined["at_bound"].values)
