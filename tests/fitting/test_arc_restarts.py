"""The second look at a fit of arcs: doubt, exchanged arcs, a moved arc (issue 12)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.exceptions import ConvergenceWarning
from eis_pipeline.fitting import CircuitModel
from eis_pipeline.fitting.arc_restarts import (
    ELECTRODE_GRID,
    MOVED_N,
    NEAR_IDEAL_N,
    arc_table,
    arc_taus,
    assignment_starts,
    doubtful,
    relocation_starts,
    split_start,
    watched,
    weakest_arc,
)
from eis_pipeline.fitting.structure import series_terms
from eis_pipeline.fitting.transforms import ParameterSpace
from tests.fitting.random_circuits import F, simulate

MIXED = "p(R1,C1)-p(R2,CPE2)-CPE3"


def _table(circuit: str):
    c = compile_circuit(circuit)
    return c, arc_table(series_terms(c.ast), c.param_names)


def _vector(c, p: dict[str, float]) -> np.ndarray:
    return np.array([[p[n] for n in c.param_names]])


def test_arc_table_reads_any_spelling():
    c, t = _table("CPE9-p(C2,R2)-R5-p(R1,CPE1)-L4")
    names = c.param_names
    assert [names[i] for i in t.r] == ["R2", "R1"]
    assert [names[i] for i in t.q] == ["C2", "CPE1_0"]
    assert t.n[0] == -1 and names[t.n[1]] == "CPE1_1"
    assert [names[i] for i in t.resistors] == ["R5"]
    assert [names[i] for i in t.inductors] == ["L4"]
    assert t.ambiguous   # arcs of two kinds
    assert not _table("p(R1,CPE1)-p(R2,CPE2)-CPE3")[1].ambiguous
    assert _table("p(R1,CPE1)-p(R2,CPE2)-p(R3,CPE3)")[1].ambiguous   # three arcs


def test_arc_time_constants_closed_form():
    c, t = _table(MIXED)
    p = _vector(c, {"R1": 100.0, "C1": 1e-9, "R2": 1e3, "CPE2_0": 1e-6, "CPE2_1": 0.8,
                    "CPE3_0": 1e-5, "CPE3_1": 0.9})
    np.testing.assert_allclose(arc_taus(p, t)[0], [1e-7, (1e3 * 1e-6) ** (1 / 0.8)])


def _doubt(circuit: str, p: dict[str, float], pin: str | None = None):
    c, t = _table(circuit)
    space = ParameterSpace.build(c.param_names, c.param_kinds)
    x = _vector(c, p)
    u = space.to_internal(x)
    lo, hi = (np.broadcast_to(b, u.shape).copy() for b in space.internal_bounds())
    if pin is not None:   # a bound exactly where the parameter stopped
        j = list(space.free_names).index(pin)
        hi[:, j] = u[:, j]
    pinned, loose = doubtful(x, u, lo, hi, t, watched(space, t), F[None], space.free)
    return bool(pinned[0]), bool(loose[0])


GOOD = {"R1": 1e3, "CPE1_0": 1e-9, "CPE1_1": 0.9, "R2": 1e4, "CPE2_0": 1e-6, "CPE2_1": 0.85,
        "CPE3_0": 1e-5, "CPE3_1": 0.9}
PRESET = "p(R1,CPE1)-p(R2,CPE2)-CPE3"


def test_a_clean_fit_is_not_doubtful():
    assert _doubt(PRESET, GOOD) == (False, False)


def test_an_exponent_on_its_bound_is_doubtful():
    assert _doubt(PRESET, GOOD, pin="CPE1_1") == (True, False)


def test_an_arc_outside_the_window_or_collapsed_is_doubtful():
    far = dict(GOOD, CPE1_0=1e-9 * 1e-6)   # τ about 1e-13 s, F reaches 3e6 Hz
    assert _doubt(PRESET, far) == (False, True)
    # the second arc moved onto the first one's time constant
    tau1 = (GOOD["R1"] * GOOD["CPE1_0"]) ** (1 / 0.9)
    close = dict(GOOD, CPE2_0=(2 * tau1) ** 0.85 / GOOD["R2"])
    assert _doubt(PRESET, close) == (False, True)


def test_assignment_starts_exchange_arcs_of_different_kinds_only():
    c, t = _table(MIXED)
    p = _vector(c, {"R1": 100.0, "C1": 1e-9, "R2": 1e3, "CPE2_0": 1e-6, "CPE2_1": 0.8,
                    "CPE3_0": 1e-5, "CPE3_1": 0.9})
    swapped = assignment_starts(p, t)
    assert swapped.shape == (1, 2, p.shape[1])
    tau = arc_taus(p, t)[0]
    names = c.param_names
    # the CPE takes the ideal arc with the exponent of a moved CPE, and nearly ideal
    for j, n in enumerate((MOVED_N, NEAR_IDEAL_N)):
        np.testing.assert_allclose(arc_taus(swapped[:, j], t)[0], tau[::-1])
        s = dict(zip(names, swapped[0, j], strict=True))
        assert (s["R1"], s["R2"], s["CPE2_1"]) == (1e3, 100.0, n)
        assert s["CPE3_0"] == 1e-5   # the electrode is left alone
    _, alike = _table(PRESET)
    assert assignment_starts(_vector(compile_circuit(PRESET), GOOD), alike).shape[1] == 0


def test_split_halves_the_broadest_arc_around_its_time_constant():
    c, t = _table(PRESET)
    p = _vector(c, dict(GOOD, CPE2_1=0.6, R1=10.0))   # arc 1 weak, arc 2 broad
    assert weakest_arc(p, t)[0] == 0
    s = split_start(p, t)
    tau = arc_taus(s, t)[0]
    tau2 = arc_taus(p, t)[0, 1]
    np.testing.assert_allclose(sorted(tau), [tau2 / 10**0.5, tau2 * 10**0.5])
    np.testing.assert_allclose(s[0, list(t.r)], GOOD["R2"] / 2)


def test_relocation_finds_the_arc_a_fit_left_out():
    """Data of two arcs a decade and a half apart; a fit with both arcs on the faster one:
    the scan puts the moved arc within a third of a decade of the slower arc."""
    c, t = _table(PRESET)
    true = dict(GOOD)
    z = compile_circuit(PRESET).impedance(_vector(c, true), F)[0]
    tau_true = arc_taus(_vector(c, true), t)[0]
    wrong = dict(GOOD, R2=50.0, CPE2_0=(1.5 * tau_true[0]) ** 0.85 / 50.0)
    p = _vector(c, wrong)
    w = 1.0 / np.abs(z)[None]
    moved = relocation_starts(p, t, F[None], z[None], w, w, 1)
    tau = arc_taus(moved[:, 0], t)[0]
    assert abs(np.log10(tau[1] / tau_true[1])) <= 1 / 3 + 1e-9
    assert moved[0, 0, t.r[1]] == pytest.approx(true["R2"], rel=0.5)


@pytest.mark.parametrize("seed", [0, 1])
def test_mixed_arcs_on_each_others_features_are_exchanged(seed):
    """A fast ideal arc and a slow CPE arc, written CPE arc first: whatever the starts, the
    fit ends at the optimum a start at the true values reaches (the R‖CPE must not keep the
    ideal arc with n -> 1)."""
    circuit = "p(CPE0,R0)-p(R4,C4)-CPE6"
    true = {"R0": 6.7e4, "CPE0_0": 1.69e-4**0.95 / 6.7e4, "CPE0_1": 0.95, "R4": 2.9e4,
            "C4": 1.8e-6 / 2.9e4, "CPE6_0": 3.6e-6, "CPE6_1": 0.83}
    z = simulate(circuit, true, np.random.default_rng(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = CircuitModel(circuit, initial_guess=true).fit(F, z).result_.cost
        ours = CircuitModel(circuit).fit(F, z)
    assert ours.result_.cost <= ref * (1 + 1e-3)
    assert ours.params_["R4"] == pytest.approx(true["R4"], rel=0.05)


@pytest.mark.parametrize("seed", [126, 187, 16, 22])
def test_a_small_arc_is_moved_to_the_optimum(seed):
    """Random circuits (tests/fitting/random_circuits.py) with an arc of 0.5-2 % of the
    resistance stopped 0.6-2.3 % above the 50-start brute-force optimum: 126, two arcs, the
    small one broadened (n 0.49) beside a series R and L the data do not show (every moved
    place needed a negative R or L, so none was tried); 187, three arcs, the small one
    parked at the top of the window, where the three best places of the scan were its own
    valley; 22, two arcs collapsed onto one feature (no arc search for two alike arcs); 16,
    the optimum moves the small arc beyond the window and broadens the electrode (n 0.83 ->
    0.28), reached only from a broad fresh electrode exponent. The arc search now runs for
    a spare or collapsed arc, leaves out a series R or L, tries the best place of each
    valley of the scan, and a second fresh electrode exponent."""
    from tests.fitting.random_circuits import brute_force_cost, random_case

    rng = np.random.default_rng(seed)
    circuit, true = random_case(rng, 2 + seed % 2)
    z = simulate(circuit, true, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = CircuitModel(circuit).fit(F, z).result_.cost
    assert ours <= brute_force_cost(circuit, z, true, rng, 50) * (1 + 1e-3)


def test_arc_table_holds_diffusion_elements():
    """A finite Warburg, a TLMQ and a semi-infinite Warburg in series with an arc: the
    diffusion elements are arcs of their own kinds (R their amplitude; a Ws's τ its own
    parameter, a TLMQ's (R Q)^(1/γ) like an R‖CPE's), the W an amplitude of the linear
    models."""
    c, t = _table("W4-TLMQ3-p(R1,CPE1)-R5-Ws2")
    names = c.param_names
    assert t.kinds == ("CPE", "TLMQ", "Ws")   # arcs, then diffusion in circuit order
    assert [names[i] for i in t.r] == ["R1", "TLMQ3_0", "Ws2_0"]
    assert [names[i] for i in t.q] == ["CPE1_0", "TLMQ3_1", "Ws2_1"]
    assert names[t.n[1]] == "TLMQ3_2" and t.n[2] == -1
    assert [names[i] for i in t.warburgs] == ["W4"]
    assert t.ambiguous
    p = _vector(c, {"W4": 10.0, "TLMQ3_0": 2e3, "TLMQ3_1": 1e-5, "TLMQ3_2": 0.8, "R1": 1e3,
                    "CPE1_0": 1e-8, "CPE1_1": 0.9, "R5": 5.0, "Ws2_0": 3e3, "Ws2_1": 0.02})
    np.testing.assert_allclose(arc_taus(p, t)[0], [(1e3 * 1e-8) ** (1 / 0.9),
                                                   (2e3 * 1e-5) ** (1 / 0.8), 0.02])


WS_CIRCUIT = "p(CPE6,R6)-Ws8-p(CPE4,R4)"
WS_TRUE = {"R6": 1000.0, "CPE6_0": 1.273e-07, "CPE6_1": 0.9133, "R4": 4716.0,
           "CPE4_0": 6.791e-07, "CPE4_1": 0.8218, "Ws8_0": 9500.0, "Ws8_1": 0.01335}


def test_relocation_moves_a_warburg_to_its_feature():
    """Two arcs and a finite-length Warburg a decade and a half below the slower arc; a fit
    with the Warburg shrunk onto the faster arc: moving the Warburg (its own response on the
    grid, R linear) puts it within a third of a decade of its true τ."""
    c, t = _table(WS_CIRCUIT)
    z = compile_circuit(WS_CIRCUIT).impedance(_vector(c, WS_TRUE), F)[0]
    wrong = dict(WS_TRUE, Ws8_0=50.0, Ws8_1=1e-4)
    w = 1.0 / np.abs(z)[None]
    ws = t.kinds.index("Ws")
    moved = relocation_starts(_vector(c, wrong), t, F[None], z[None], w, w, 1, arc=ws)
    s = dict(zip(c.param_names, moved[0, 0], strict=True))
    assert abs(np.log10(s["Ws8_1"] / WS_TRUE["Ws8_1"])) <= 1 / 3 + 1e-9
    assert s["Ws8_0"] == pytest.approx(WS_TRUE["Ws8_0"], rel=0.5)


@pytest.mark.parametrize(("circuit", "true"), [
    ("p(CPE4,R4)-Ws0-p(R2,CPE2)", {"R4": 17910.0, "CPE4_0": 1.952e-08, "CPE4_1": 0.944,
                                   "R2": 19690.0, "CPE2_0": 2.443e-07, "CPE2_1": 0.8709,
                                   "Ws0_0": 83560.0, "Ws0_1": 0.1091}),
    ("p(CPE3,R3)-Ws1-p(R2,CPE2)", {"R2": 569.2, "CPE2_0": 2.962e-08, "CPE2_1": 0.8564,
                                   "R3": 2579.0, "CPE3_0": 4.384e-07, "CPE3_1": 0.7774,
                                   "Ws1_0": 2273.0, "Ws1_1": 0.002112}),
    ("Ws4-p(R1,CPE1)-p(CPE6,R6)", {"R1": 665.4, "CPE1_0": 4.611e-07, "CPE1_1": 0.7683,
                                   "R6": 684.8, "CPE6_0": 9.174e-07, "CPE6_1": 0.9934,
                                   "Ws4_0": 858.9, "Ws4_1": 0.01582}),
    ("Ws0-p(R6,CPE6)-p(CPE7,R7)", {"R6": 296.8, "CPE6_0": 1.658e-07, "CPE6_1": 0.9245,
                                   "R7": 13050.0, "CPE7_0": 2.548e-08, "CPE7_1": 0.9503,
                                   "Ws0_0": 5774.0, "Ws0_1": 0.01814}),
    ("Wo3-p(R9,CPE9)-p(R7,CPE7)", {"R9": 4304.0, "CPE9_0": 4.51e-10, "CPE9_1": 0.9833,
                                   "R7": 179.6, "CPE7_0": 1.698e-06, "CPE7_1": 0.8197,
                                   "Wo3_0": 2423.0, "Wo3_1": 0.001741}),
])
def test_a_warburg_on_an_arcs_feature_is_exchanged(circuit, true):
    """Two arcs and a finite Warburg below the slower one (bench families, seed 20261207):
    the fit put the Warburg on an arc's feature, a decade or more from its τ, and the arc
    on the Warburg's (a Ws ends resistive like an arc), 5-37x above a 30-start brute force
    (the Wo case 2.1x). With the diffusion element in the arc table the arc search
    exchanges and moves it like an arc, and every case reaches the optimum."""
    from tests.fitting.random_circuits import brute_force_cost

    rng = np.random.default_rng(0)
    z = simulate(circuit, true, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = CircuitModel(circuit).fit(F, z).result_.cost
    assert ours <= brute_force_cost(circuit, z, true, rng, 30) * (1 + 1e-3)


THREE = "p(CPE6,R6)-p(R0,CPE0)-CPE3-p(R9,CPE9)"
THREE_TRUE = {"R6": 2493.0, "CPE6_0": 2.903e-09, "CPE6_1": 0.9546, "R0": 80050.0,
              "CPE0_0": 5.932e-10, "CPE0_1": 0.986, "R9": 542.0, "CPE9_0": 1.531e-06,
              "CPE9_1": 0.9102, "CPE3_0": 6.725e-06, "CPE3_1": 0.9046}
#: where a fit stopped (bench families, seed 2): the small slow arc's place empty, R6 parked
#: beyond the window as a second, broad electrode beside an ideal one (n = 1)
THREE_TRAP = {"R6": 77899.0, "CPE6_0": 2.42e-05, "CPE6_1": 0.758, "R0": 80299.0,
              "CPE0_0": 6.097e-10, "CPE0_1": 0.9834, "R9": 2507.8, "CPE9_0": 2.894e-09,
              "CPE9_1": 0.9571, "CPE3_0": 8.247e-06, "CPE3_1": 1.0}


def test_relocation_scans_the_electrode_exponent():
    """Moving the parked arc of a trapped three-arc fit: at the fitted electrode (n = 1) or
    at one fresh exponent (0.85, the data's is 0.905) no place explains the data (every
    candidate's cost ~0.005); with the electrode exponent scanned beside each place the
    best is the missing arc's place (within a third of a decade) at n_e = 0.9, 50x lower."""
    c, t = _table(THREE)
    z = compile_circuit(THREE).impedance(_vector(c, THREE_TRUE), F)[0]
    w = 1.0 / np.abs(z)[None]

    def best(electrode_n):
        moved = relocation_starts(_vector(c, THREE_TRAP), t, F[None], z[None], w, w, 3,
                                  arc=0, electrode_n=electrode_n, fresh_electrode=True)
        costs = [0.5 * np.sum(np.abs((compile_circuit(THREE).impedance(moved[:, j], F)[0]
                                      - z) / z) ** 2) for j in range(3)]
        return moved[0, int(np.argmin(costs))], min(costs)

    _, single = best(0.85)
    start, scanned = best(ELECTRODE_GRID)
    assert single > 3e-3 and scanned < single / 20
    tau = arc_taus(start[None], t)[0]
    true_tau = arc_taus(_vector(c, THREE_TRUE), t)[0]
    assert abs(np.log10(tau[0] / true_tau[2])) <= 1 / 3 + 1e-9
    assert start[c.param_names.index("CPE3_1")] == pytest.approx(0.9)


def test_three_arcs_with_a_small_slow_arc_reach_the_brute_force():
    """Three arcs and an electrode, the slowest arc 0.4 % of the resistance (bench families,
    seed 20261207, case 11; noise seed 1): 1.016x above the 50-start brute force before the
    electrode-exponent scan of the arc moves, at it after."""
    from tests.fitting.random_circuits import brute_force_cost

    circuit = "p(R0,CPE0)-p(R3,CPE3)-CPE4-p(R2,CPE2)"
    true = {"R3": 714.8, "CPE3_0": 1.049e-06, "CPE3_1": 0.812, "R2": 34140.0,
            "CPE2_0": 6.081e-08, "CPE2_1": 0.9418, "R0": 155.3, "CPE0_0": 0.0001442,
            "CPE0_1": 0.8926, "CPE4_0": 0.0003965, "CPE4_1": 0.94}
    rng = np.random.default_rng(1)
    z = simulate(circuit, true, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = CircuitModel(circuit).fit(F, z).result_.cost
    assert ours <= brute_force_cost(circuit, z, true, rng, 50) * (1 + 1e-3)
