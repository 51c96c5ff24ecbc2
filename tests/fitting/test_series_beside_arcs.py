"""Circuits of other shapes than the presets on pellet-like spectra whose bulk arc's apex is
near the top of the window (issue 12, real-data misses).

The series-R parameters are a 50-start brute-force optimum on a real pellet spectrum (a
Novocontrol export at 190 °C, 1 MHz - 30 mHz); the three-arc spectra come from a generator
of that pellet's kind. All are simulated with 0.5 % noise, so the tests need no data file.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from eis_pipeline.exceptions import ConvergenceWarning
from eis_pipeline.fitting import CircuitModel
from tests.fitting.random_circuits import brute_force_cost, simulate

#: The real spectrum's window: 42 points, 1 MHz down to 30 mHz.
WINDOW = np.logspace(6, np.log10(0.03), 42)

SERIES_R = "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"
#: Bulk apex ~1 MHz (τ 1.6e-7 s), grain boundary ~60 kHz, a series R the data barely show.
SERIES_R_TRUE = {"R0": 30.0, "R1": 2.743e4, "CPE1_0": 1.183e-10, "CPE1_1": 0.8073,
                 "R2": 1.526e5, "CPE2_0": 1.009e-10, "CPE2_1": 0.8647,
                 "CPE3_0": 6.183e-6, "CPE3_1": 0.5724}


def _fit(circuit: str, z: np.ndarray) -> CircuitModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return CircuitModel(circuit).fit(WINDOW, z)


@pytest.mark.parametrize("seed", range(5))
def test_a_series_resistance_beside_two_arcs_reaches_the_brute_force_optimum(seed):
    """The τ search's best linear placement gave the series R 6-15 kΩ of the bulk arc,
    merged bulk and grain boundary into one arc and put the other on the electrode: that
    start ranked first and converged 12-19x above the optimum (every seed), and nothing
    made the fit doubtful. The same circuit without R0 (the preset) was not affected."""
    rng = np.random.default_rng(seed)
    z = simulate(SERIES_R, SERIES_R_TRUE, rng, frequency=WINDOW)
    ours = _fit(SERIES_R, z)
    best = brute_force_cost(SERIES_R, z, SERIES_R_TRUE, rng, 50, frequency=WINDOW)
    assert ours.result_.cost <= best * (1 + 1e-3)
    # the bulk arc is the bulk (poorly determined at the window's top), not merged with
    # the grain boundary (R1 ~1.8e5)
    assert ours.params_["R1"] == pytest.approx(SERIES_R_TRUE["R1"], rel=0.3)
    assert ours.params_["R2"] == pytest.approx(SERIES_R_TRUE["R2"], rel=0.3)


THREE_ARCS = "p(R1,CPE1)-p(R2,CPE2)-p(R3,CPE3)-CPE4"


def test_the_slowest_arc_is_moved_where_the_other_moves_take_another():
    """The three-arc fit of a real pellet spectrum (140 °C) stopped 1.57x above the
    brute force with its slowest arc beyond the electrode: the crowded arc (of the two
    closest in τ, the smaller) and the spare arc (the least resistance) are both the bulk,
    so the arc search moves the slowest arc as well."""
    from eis_pipeline.circuits import compile_circuit
    from eis_pipeline.fitting.arc_restarts import arc_table, spare_arc, weakest_arc
    from eis_pipeline.fitting.engine import _slowest_arc
    from eis_pipeline.fitting.structure import series_terms

    c = compile_circuit(THREE_ARCS)
    table = arc_table(series_terms(c.ast), c.param_names)
    trapped = {"R1": 5.724e6, "CPE1_0": 5.394e-6, "CPE1_1": 0.9126, "R2": 1.937e6,
               "CPE2_0": 1.283e-10, "CPE2_1": 0.8072, "R3": 1.665e5, "CPE3_0": 6.78e-11,
               "CPE3_1": 0.8316, "CPE4_0": 1.635e-6, "CPE4_1": 0.3753}
    p = np.array([[trapped[n] for n in c.param_names]])
    assert weakest_arc(p, table)[0] == 2 and spare_arc(p, table, WINDOW[None])[0] == 2
    assert _slowest_arc(p, table)[0] == 0


def _three_arcs(seed: int) -> tuple[dict[str, float], np.ndarray, np.random.Generator]:
    """A pellet of the real spectrum's kind: bulk (τ 0.1-1 µs), grain boundary (10-100 µs),
    a third arc between them and the electrode (τ 1 ms - 1 s, n 0.5-0.9) and a broad
    electrode (n 0.35-0.7), on :data:`WINDOW` with 0.5 % noise."""
    rng = np.random.default_rng(seed)

    def u(a: float, b: float) -> float:
        return float(10 ** rng.uniform(np.log10(a), np.log10(b)))

    rb, rg, rm = u(3e4, 3e5), u(3e5, 3e6), u(5e4, 5e5)
    nb, ng = rng.uniform(0.75, 0.9), rng.uniform(0.75, 0.9)
    nm, ne = rng.uniform(0.5, 0.9), rng.uniform(0.35, 0.7)
    tb, tg, tm = u(1e-7, 1e-6), u(1e-5, 1e-4), u(1e-3, 1.0)
    true = {"R1": rg, "CPE1_0": tg**ng / rg, "CPE1_1": ng, "R2": rm, "CPE2_0": tm**nm / rm,
            "CPE2_1": nm, "R3": rb, "CPE3_0": tb**nb / rb, "CPE3_1": nb,
            "CPE4_0": u(5e-7, 5e-6), "CPE4_1": ne}
    return true, simulate(THREE_ARCS, true, rng, frequency=WINDOW), rng


@pytest.mark.parametrize("seed", [66, 146, 166, 211, 240])
def test_three_arcs_beside_a_broad_electrode_reach_the_brute_force_optimum(seed):
    """Seeds 0-399 of :func:`_three_arcs`: these five stopped 1.02-4.1x above the 50-start
    brute force with the slowest arc on the electrode's feature, which neither the crowded
    nor the spare arc's moves took (the real 140 °C spectrum's trap); the others were at
    the optimum before and are after."""
    true, z, rng = _three_arcs(seed)
    ours = _fit(THREE_ARCS, z)
    assert ours.result_.cost <= brute_force_cost(THREE_ARCS, z, true, rng, 50,
                                                 frequency=WINDOW) * (1 + 1e-3)
