"""CircuitModel on synthetic spectra with known parameters (truth from impedance.py too)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.exceptions import ConvergenceWarning, FitError, NotFittedError, SpectrumError
from eis_pipeline.fitting.model import CircuitModel

pytestmark = pytest.mark.usefixtures("both_solvers")

F_A = np.logspace(np.log10(7e6), 0, 69)
F_B = np.logspace(6, -1, 71)

# p(R1,CPE1)-p(R2,CPE2)-CPE3: bulk arc (pF), grain-boundary arc (nF), electrode spike
SETS_A = [
    [2.0e5, 5.0e-12, 0.95, 4.0e5, 2.0e-9, 0.85, 1.0e-6, 0.90],
    [3.0e4, 2.0e-11, 1.00, 1.0e4, 5.0e-8, 0.75, 3.0e-7, 0.80],
    [8.0e5, 3.0e-12, 0.90, 2.0e6, 6.0e-10, 0.92, 5.0e-6, 0.95],
]
# L0-R1-p(R2,CPE2)-CPE3: stray L, bulk intercept, grain boundary, electrode
SETS_B = [
    [5.0e-7, 20.0, 3.0e3, 2.0e-8, 0.80, 2.0e-6, 0.85],
    [1.0e-6, 300.0, 2.0e4, 1.0e-9, 0.90, 1.0e-5, 0.75],
    [2.0e-7, 5.0, 800.0, 5.0e-8, 0.70, 5.0e-7, 0.95],
]


def spectrum(circuit, params, f, noise=0.0, rng=None):
    z = compile_circuit(circuit).impedance(np.asarray(params), f)
    if noise:
        z = z + noise * np.abs(z) * (rng.standard_normal(f.size)
                                     + 1j * rng.standard_normal(f.size))
    return z


@pytest.mark.filterwarnings("ignore:Simulating circuit:UserWarning")
def test_truth_agrees_with_impedance_py():
    from impedance.models.circuits import CustomCircuit

    for circuit, sets, f in (("p(R1,CPE1)-p(R2,CPE2)-CPE3", SETS_A, F_A),
                             ("L0-R1-p(R2,CPE2)-CPE3", SETS_B, F_B)):
        ref = CustomCircuit(circuit, initial_guess=sets[0]).predict(f, use_initial=True)
        np.testing.assert_allclose(spectrum(circuit, sets[0], f), ref, rtol=1e-10)


@pytest.mark.parametrize("params", SETS_A)
def test_noise_free_recovery_bulk_gb_electrode(params):
    z = spectrum("bulk-gb-electrode", params, F_A)
    m = CircuitModel("bulk-gb-electrode").fit(F_A, z)
    np.testing.assert_allclose(m.result_.x, params, rtol=1e-6)
    assert m.result_.converged and m.result_.status == 0
    assert list(m.params_) == ["R1", "CPE1_0", "CPE1_1", "R2", "CPE2_0", "CPE2_1",
                               "CPE3_0", "CPE3_1"]


@pytest.mark.parametrize("params", SETS_B)
def test_noise_free_recovery_hf_intercept_gb_electrode(params):
    z = spectrum("hf-intercept-gb-electrode", params, F_B)
    m = CircuitModel("hf-intercept-gb-electrode").fit(F_B, z)
    np.testing.assert_allclose(m.result_.x, params, rtol=1e-6)
    assert m.result_.converged


@pytest.mark.parametrize("weighting", ["modulus", "unit", "proportional"])
def test_every_weighting_recovers_clean_data(weighting):
    z = spectrum("bulk-gb-electrode", SETS_A[0], F_A)
    m = CircuitModel("bulk-gb-electrode", weighting=weighting).fit(F_A, z)
    np.testing.assert_allclose(m.result_.x, SETS_A[0], rtol=1e-6)
    assert m.result_.converged, m.result_.message


def test_noisy_recovery_within_three_standard_errors():
    """Over 12 noisy spectra, |error| < 3 stderr should hold for ~99.7 % of parameters;
    allowing 4 misses out of 96 (probability < 1e-3 if stderr is honest) keeps the test
    meaningful yet not flaky. The reduced chi-square estimates the noise variance 2σ²/2 = σ²
    of each weighted residual (σ = 0.01 per part)."""
    rng = np.random.default_rng(7)
    misses = total = 0
    rchi2 = []
    for seed in range(12):
        params = SETS_A[seed % 3]
        z = spectrum("bulk-gb-electrode", params, F_A, noise=0.01, rng=rng)
        m = CircuitModel("bulk-gb-electrode").fit(F_A, z)
        err = np.abs(m.result_.x - params)
        se = np.array(list(m.stderr_.values()))
        assert np.all(np.isfinite(se)) and np.all(se > 0)
        misses += int(np.sum(err > 3 * se))
        total += err.size
        rchi2.append(m.result_.reduced_chi_square)
    # mean of 12 chi-square/130-dof variables: relative spread ~ 0.12/sqrt(12) = 0.04
    assert np.mean(rchi2) == pytest.approx(1e-4, rel=0.15)
    assert misses <= 4, f"{misses} of {total} parameters off by more than 3 stderr"


def test_constants_are_honoured():
    params = SETS_A[1]
    z = spectrum("bulk-gb-electrode", params, F_A)
    m = CircuitModel("bulk-gb-electrode", constants={"CPE1_1": 1.0, "CPE3_0": 3e-7}).fit(F_A, z)
    assert m.params_["CPE1_1"] == 1.0 and m.params_["CPE3_0"] == 3e-7
    assert m.stderr_["CPE1_1"] == 0.0
    np.testing.assert_allclose(m.result_.x, params, rtol=1e-6)
    # impedance.py's list-of-free-parameters initial_guess works with constants
    free = [p for i, p in enumerate(params) if i not in (2, 6)]
    m2 = CircuitModel("bulk-gb-electrode", initial_guess=[v * 1.2 for v in free],
                      constants={"CPE1_1": 1.0, "CPE3_0": 3e-7}).fit(F_A, z)
    np.testing.assert_allclose(m2.result_.x, params, rtol=1e-6)


def test_bounds_are_honoured():
    # R2 <= 1.5e5 is below both arcs' resistances (2e5, 4e5), so the bound is active
    # whichever arc R2 ends up describing (with a bound between the two, 3e5, the exact fit
    # with the arcs' labels exchanged satisfies it; the fitter may rightly find that one)
    params = SETS_A[0]
    z = spectrum("bulk-gb-electrode", params, F_A)
    m = CircuitModel("bulk-gb-electrode", bounds={"R2": (None, 1.5e5)}).fit(F_A, z)
    assert m.params_["R2"] <= 1.5e5
    assert m.params_["R2"] == pytest.approx(1.5e5)
    assert all(0 < m.params_[n] <= 1 for n in ("CPE1_1", "CPE2_1", "CPE3_1"))


def test_convergence_warning_when_iterations_run_out():
    z = spectrum("bulk-gb-electrode", SETS_A[0], F_A)
    with pytest.warns(ConvergenceWarning, match="maximum number"):
        m = CircuitModel("bulk-gb-electrode", max_nfev=3).fit(F_A, z)
    assert m.result_.status == 1 and not m.result_.converged


def test_no_warning_when_converged():
    z = spectrum("bulk-gb-electrode", SETS_A[0], F_A)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CircuitModel("bulk-gb-electrode").fit(F_A, z)


def test_arc_order_is_stable():
    """Starting with the arcs exchanged, the fit converges to the exchanged labelling;
    the bulk arc must come back as the one with the smaller time constant."""
    p = SETS_A[0]
    z = spectrum("bulk-gb-electrode", p, F_A)
    swapped_guess = [p[3], p[4], p[5], p[0], p[1], p[2], p[6], p[7]]
    m = CircuitModel("bulk-gb-electrode", initial_guess=swapped_guess).fit(F_A, z)
    assert m.result_.arcs_swapped
    np.testing.assert_allclose(m.result_.x, p, rtol=1e-6)
    tau = [(m.params_[f"R{i}"] * m.params_[f"CPE{i}_0"]) ** (1 / m.params_[f"CPE{i}_1"])
           for i in (1, 2)]
    assert tau[0] < tau[1]
    cov = m.result_.covariance
    assert np.allclose(cov, cov.T, equal_nan=True)


def test_predict_and_not_fitted():
    m = CircuitModel("bulk-gb-electrode")
    with pytest.raises(NotFittedError, match="not fitted"):
        m.predict(F_A)
    with pytest.raises(AttributeError):   # NotFittedError is an AttributeError too
        m.to_impedance_py()
    z = spectrum("bulk-gb-electrode", SETS_A[2], F_A)
    m.fit(F_A, z)
    np.testing.assert_allclose(m.predict(F_A), z, rtol=1e-6)


def test_to_impedance_py_round_trip():
    z = spectrum("bulk-gb-electrode", SETS_A[0], F_A)
    m = CircuitModel("bulk-gb-electrode", constants={"CPE3_1": 0.9}).fit(F_A, z)
    cc = m.to_impedance_py()
    np.testing.assert_allclose(cc.predict(F_A), m.predict(F_A), rtol=1e-10)


def test_result_fields_and_custom_circuit():
    f = np.logspace(5, -1, 50)
    z = spectrum("R0-p(R1,C1)", [10.0, 1e3, 1e-6], f)
    m = CircuitModel("R0-p(R1,C1)").fit(f, z)
    r = m.result_
    assert r.param_names == ("R0", "R1", "C1")
    assert r.residuals.shape == (100,)
    assert r.covariance.shape == (3, 3) and r.n_points == 50
    assert r.cost == pytest.approx(0.5 * r.chi_square)
    np.testing.assert_allclose(r.x, [10.0, 1e3, 1e-6], rtol=1e-8)


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"weighting": "sigma"}, FitError, "unknown weighting"),
    ({"initial_guess": [1.0, 2.0]}, FitError, "expected 3"),
    ({"initial_guess": {"R0": 1.0}}, FitError, "lacks"),
])
def test_bad_arguments(kwargs, exc, match):
    f = np.logspace(5, -1, 20)
    z = spectrum("R0-p(R1,C1)", [10.0, 1e3, 1e-6], f)
    model = CircuitModel("R0-p(R1,C1)", **kwargs)   # checked in fit (scikit-learn's rule)
    with pytest.raises(exc, match=match):
        model.fit(f, z)


def test_bad_spectrum_arrays():
    m = CircuitModel("R0-p(R1,C1)")
    with pytest.raises(SpectrumError, match="same length"):
        m.fit([1.0, 2.0], [1.0])
    with pytest.raises(SpectrumError, match="positive"):
        m.fit([1.0, -2.0, 3.0], [1.0, 1.0, 1.0])
    with pytest.raises(SpectrumError, match="finite"):
        m.fit([1.0, 2.0, 3.0], [1.0, np.nan, 1.0])


def test_start_on_a_bound_still_moves():
    """Regression: a start with the electrode exponent exactly at its bound 1 stalled (the
    coupled step pushed it outward and the step-back shortened the whole step to zero)."""
    p = [6.0796e-07, 4.0521e+02, 1.1727e+05, 5.6385e-09, 8.7539e-01, 1.2966e-07, 9.9979e-01]
    guess = [1.5708e-06, 3.1648e+02, 1.0948e+05, 5.2759e-09, 0.9, 1.3285e-07, 1.0]
    f = np.logspace(6, -1, 71)
    for seed in (1, 3, 4):   # noise draws on which the old code stopped after one iteration
        z = spectrum("hf-intercept-gb-electrode", p, f, noise=0.02,
                     rng=np.random.default_rng(seed))
        m = CircuitModel("hf-intercept-gb-electrode", initial_guess=guess).fit(f, z)
        assert m.result_.converged and m.result_.n_iterations > 1
        assert m.result_.cost < 0.05   # the stalled start had cost 0.75


def test_user_lower_bound_below_the_safety_floor_is_respected():
    """A resistance may go below the 1e-6 min|Z| measurability floor if the user says so."""
    from eis_pipeline.fitting.bounds import row_bounds
    from eis_pipeline.fitting.transforms import ParameterSpace

    c = compile_circuit("R0-p(R1,C1)")
    f = np.logspace(5, -1, 30)
    z = c.impedance([10.0, 1e3, 1e-6], f)[None]
    starts = np.array([[[10.0, 1e3, 1e-6]]])
    free_space = ParameterSpace.build(c.param_names, c.param_kinds)
    lo, _ = row_bounds(free_space, f[None], z, starts)
    assert lo[0, 0] == pytest.approx(np.log(1e-6 * np.abs(z).min()))
    user = ParameterSpace.build(c.param_names, c.param_kinds, bounds={"R0": (1e-9, 1e9)})
    lo, hi = row_bounds(user, f[None], z, starts)
    assert lo[0, 0] == pytest.approx(np.log(1e-9)) and hi[0, 0] == pytest.approx(np.log(1e9))


def test_scikit_learn_estimator_contract():
    """scikit-learn's conventions, checked without depending on it: __init__ stores the
    arguments unchanged and does nothing else (bad values surface in fit), get_params
    returns them, set_params returns self, and a clone from get_params fits identically."""
    guess = {"R0": 5.0, "R1": 500.0, "C1": 1e-6}
    bounds = {"R": (1.0, None)}
    m = CircuitModel("R0-p(R1,C1)", weighting="unit", initial_guess=guess, bounds=bounds)
    params = m.get_params()
    assert params == {"circuit": "R0-p(R1,C1)", "weighting": "unit", "initial_guess": guess,
                      "constants": None, "bounds": bounds, "max_nfev": None}
    assert params["initial_guess"] is guess and params["bounds"] is bounds
    lazy = CircuitModel("R0-p(R1,C1)", weighting="sigma")   # no error yet
    assert lazy.set_params(weighting="modulus") is lazy and lazy.weighting == "modulus"
    with pytest.raises(FitError, match="no parameter 'weights'"):
        lazy.set_params(weights="unit")
    f = np.logspace(5, -1, 40)
    z = spectrum("R0-p(R1,C1)", [10.0, 1e3, 1e-6], f)
    with pytest.raises(FitError, match="unknown weighting"):
        CircuitModel("R0-p(R1,C1)", weighting="sigma").fit(f, z)
    a = m.fit(f, z)
    b = CircuitModel(**m.get_params()).fit(f, z)
    assert a.params_ == b.params_
