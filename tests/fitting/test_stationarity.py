"""Regression: "converged" is claimed only where no clear descent direction is left.

Found by the fuzzer (tests/fitting/test_fuzz_solvers.py): where JᵀJ is nearly singular (an
element shorted out, a parameter that no longer changes the model), the solver's estimate
of the best model decrease could come out negative and be read as 0, so fits stopped far
from a minimum were called converged. The steepest-descent gain now bounds that estimate
from below.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.fitting.model import CircuitModel
from eis_pipeline.fitting.solver import Status
from tests.circuits.helpers import random_params
from tests.fitting.test_fuzz_solvers import F, _assert_stationary, _determined

pytestmark = pytest.mark.usefixtures("both_solvers")


@pytest.mark.parametrize(("circuit", "seed"), [("p(CPE0,CPE1,CPE2)", 0), ("R0-C1-La2-W3", 0)])
def test_no_convergence_claim_with_a_descent_direction_left(circuit: str, seed: int) -> None:
    c = compile_circuit(circuit)
    rng = np.random.default_rng(seed)
    truth = random_params(circuit, rng)
    z = np.asarray(c.impedance(truth, F)).ravel()
    z = z + 0.01 * np.abs(z) * (rng.standard_normal(F.size) + 1j * rng.standard_normal(F.size))
    kinds = np.array(c.param_kinds)
    guess = np.where(kinds == "exponent", np.clip(truth + 0.05, 0.05, 1.0),
                     truth * np.exp(rng.normal(0.0, 0.7, truth.size)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = CircuitModel(circuit, initial_guess=guess).fit(F, z).result_
    if r.status == Status.CONVERGED:
        _assert_stationary(c, z, np.asarray(r.x), kinds, set(r.at_bound), r.cost, circuit,
                           _determined(r))
    else:
        assert r.status == Status.NOT_STATIONARY and "non-stationary" in r.message


def test_a_fit_to_the_rounding_of_the_data_is_converged():
    """A noise-free p(R,C)-C spectrum written with 11 significant digits (as a CSV export
    would): the fit reaches the data's rounding (cost ~1e-21) where the model still predicts
    a few % of that from steps of 1e-11; the optimum is within xtol, so it is converged (was
    "stopped at a non-stationary point" at 2 of 3 temperatures)."""
    import numpy as np

    from eis_pipeline.fitting import CircuitModel

    c_f = 20 * 8.8541878128e-14 * (np.pi / 4) / 0.1
    f = np.logspace(6, 0, 31)
    for r in (1e5, 4.3459820850707e4, 1.8887560283756e4):
        z = r / (1 + 2j * np.pi * f * r * c_f) + 1 / (2j * np.pi * f * 1e-6)
        z = np.array([complex(float(f"{v.real:.10e}"), float(f"{v.imag:.10e}")) for v in z])
        m = CircuitModel("single-arc-electrode").fit(f, z)
        assert m.result_.converged, m.result_.message
        assert m.params_["R1"] == pytest.approx(r, rel=1e-9)
