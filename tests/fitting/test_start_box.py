"""The safeguard box of log parameters (bounds.row_bounds) is anchored on the data-driven start.

A start that finds an element unneeded gives it a negligible amplitude: the τ search of a
circuit with arcs of two kinds can put the electrode's 1/Q at ~1e-9 of the arcs' (Q ~ 1e8 F).
Prepended as the first start, it anchored the box (a factor 1e10 around it), which kept
the electrode's Q above 3x the value the data have, and every start and arc move ended
on that bound ~10x above the optimum.
"""

import warnings

import numpy as np
import pytest

from eis_pipeline.exceptions import ConvergenceWarning
from eis_pipeline.fitting import CircuitModel
from tests.fitting.random_circuits import F, simulate


@pytest.mark.parametrize("seed", [0, 1])
def test_weak_electrode_beside_arcs_of_two_kinds_reaches_the_optimum(seed):
    """R‖CPE (n ~ 1) and R‖C a decade apart, L, and an electrode that only the lowest
    points show: the τ search's start has the electrode ~ 0. With the box anchored on that
    start the fit stopped 9-12x above the point the true parameters lead to."""
    circuit = "p(R1,CPE1)-p(R2,C2)-L1-CPE2"
    true = {"R1": 245.0, "CPE1_0": 1.38e-6, "CPE1_1": 0.998, "R2": 517.0, "C2": 6.45e-6,
            "L1": 2.3e-7, "CPE2_0": 5.4e-3, "CPE2_1": 0.806}
    z = simulate(circuit, true, np.random.default_rng(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = CircuitModel(circuit).fit(F, z).result_
        ref = CircuitModel(circuit, initial_guess=true).fit(F, z).result_
    assert ours.cost <= ref.cost * (1 + 1e-3)
