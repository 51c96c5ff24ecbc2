"""Arc-search starts of arc_restarts: the broadest arc's exponent scanned beside each place
of a moved arc (relocation_starts, ``scan_broadest``: ambiguous circuits without an electrode
CPE, engine._moves), and the exchange of an ideal arc onto a CPE (assignment_starts)."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.fitting.arc_restarts import (
    ELECTRODE_GRID,
    arc_table,
    arc_taus,
    relocation_starts,
)
from eis_pipeline.fitting.structure import series_terms
from tests.fitting.random_circuits import F

CIRCUIT = "p(R1,CPE1)-p(R2,CPE2)-Wo3"
#: the Wo's τ on the move grid (a third of a decade from a decade above the top frequency)
WO_TAU = 0.1 / (2 * np.pi * F.max()) * 10.0 ** (22 / 3)
TRUE = {"R1": 1e4, "CPE1_0": 1e-5**0.9 / 1e4, "CPE1_1": 0.9,
        "R2": 2e4, "CPE2_0": 1e-3**0.85 / 2e4, "CPE2_1": 0.85,
        "Wo3_0": 3e4, "Wo3_1": WO_TAU}
#: a trapped fit: the Wo shrunk and parked above the window, the slower arc broadened
#: (n 0.6) over its own feature and the Wo's
TRAP = {**TRUE, "CPE2_0": 1e-3**0.6 / 4e4, "CPE2_1": 0.6, "R2": 4e4,
        "Wo3_0": 10.0, "Wo3_1": 1e-8}


def _cost(c, p: np.ndarray, z: np.ndarray) -> float:
    return float(0.5 * np.sum(np.abs((c.impedance(p[None], F)[0] - z) / z) ** 2))


@pytest.mark.parametrize("scan", [False, True])
def test_moved_warburg_with_the_broadest_arc_exponent_scanned(scan):
    """Noise-free data of two R‖CPE arcs and a finite Warburg; the fit as trapped. Moving
    the Wo with the broadened arc as fitted (n 0.6) leaves every place well above the data
    (cost > 0.1); with that arc's exponent scanned (0.5-1 by 0.05) beside each place, the
    best candidate is the truth: the Wo at its τ, the arc back at n 0.85, cost ~0."""
    c = compile_circuit(CIRCUIT)
    table = arc_table(series_terms(c.ast), c.param_names)
    assert table is not None and table.ambiguous and not table.electrodes
    names = c.param_names
    z = c.impedance(np.array([[TRUE[n] for n in names]]), F)[0]
    w = 1.0 / np.abs(z)[None]
    wo = table.kinds.index("Wo")
    moved = relocation_starts(np.array([[TRAP[n] for n in names]]), table, F[None],
                              z[None], w, w, 3, arc=wo, electrode_n=ELECTRODE_GRID,
                              scan_broadest=scan)
    costs = [_cost(c, moved[0, j], z) for j in range(moved.shape[1])]
    best = moved[0, int(np.argmin(costs))]
    if not scan:
        assert min(costs) > 0.1
        return
    assert min(costs) < 1e-8
    assert best[names.index("CPE2_1")] == pytest.approx(0.85)
    assert best[names.index("CPE1_1")] == pytest.approx(0.9)   # not the broadest: kept
    np.testing.assert_allclose(arc_taus(best[None], table)[0, wo], WO_TAU, rtol=1e-9)
    np.testing.assert_allclose([best[names.index(r)] for r in ("R1", "R2", "Wo3_0")],
                               [1e4, 2e4, 3e4], rtol=1e-6)


def test_exchanged_ideal_arc_also_starts_nearly_ideal():
    """Random circuits, seed 368: L2-R4-CPE3-p(R8,C8)-p(CPE9,R9), the fit with the R‖C on
    the large ideal arc and the R‖CPE on the small one (the truth's assignment) is 1 % above
    the optimum, where the CPE takes the large arc (n 0.999) and the capacitor the small
    one. The exchange's CPE at n 0.9 broadened over the small arc and pushed the capacitor
    beyond the window (cost 1.1x); its second start at n 0.98 reaches the optimum."""
    import warnings

    from eis_pipeline.exceptions import ConvergenceWarning
    from eis_pipeline.fitting import CircuitModel
    from tests.fitting.random_circuits import brute_force_cost, random_case, simulate

    rng = np.random.default_rng(368)
    circuit, true = random_case(rng, 2)
    assert circuit == "L2-R4-CPE3-p(R8,C8)-p(CPE9,R9)"
    z = simulate(circuit, true, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = CircuitModel(circuit).fit(F, z).result_
    assert ours.cost <= brute_force_cost(circuit, z, true, rng, 50) * (1 + 1e-3)
