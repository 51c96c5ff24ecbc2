"""Starting points from the data alone, and the doubtful-fit test of the staged multi-start."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from eis_pipeline.circuits import compile_circuit, get_preset
from eis_pipeline.exceptions import ConvergenceWarning
from eis_pipeline.fitting import CircuitModel
from eis_pipeline.fitting.initial import N_STARTS, initial_guesses

F_A = np.logspace(np.log10(7e6), 0, 69)
F_B = np.logspace(6, -1, 71)
A = np.array([[2.0e5, 5.0e-12, 0.95, 4.0e5, 2.0e-9, 0.85, 1.0e-6, 0.90],
              [3.0e4, 2.0e-11, 1.00, 1.0e4, 5.0e-8, 0.75, 3.0e-7, 0.80]])
B = np.array([[5.0e-7, 20.0, 3.0e3, 2.0e-8, 0.80, 2.0e-6, 0.85],
              [1.0e-6, 300.0, 2.0e4, 1.0e-9, 0.90, 1.0e-5, 0.75]])


def starts(preset, params, f):
    p = get_preset(preset)
    c = compile_circuit(preset)
    z = c.impedance(params, f)
    fs = np.broadcast_to(f, z.shape)
    return initial_guesses(fs, z, c.param_names, p.roles, p.bulk_from_intercept)


def test_two_arc_start_is_close_to_truth():
    s = starts("bulk-gb-electrode", A, F_A)
    # every parameter has a role: the τ-search start, then the feature kernel's N_STARTS
    assert s.shape == (2, N_STARTS + 1, 8)
    for first in (s[:, 0, :], s[:, 1, :]):
        _close_to_a(first)


def _close_to_a(first):
    # total resistance from the trough before the spike; arcs split at the valley
    np.testing.assert_allclose(first[:, 0] + first[:, 3], A[:, 0] + A[:, 3], rtol=0.3)
    # bulk/gb split: right order of magnitude (the second set's arcs overlap)
    assert np.all(np.abs(np.log(first[:, 0] / A[:, 0])) < np.log(4))
    # electrode exponent from the phase of the spike
    np.testing.assert_allclose(first[:, 7], A[:, 7], atol=0.1)
    # the bulk arc is put at the higher apex frequency: smaller time constant
    tau = (first[:, [0, 3]] * first[:, [1, 4]]) ** (1 / first[:, [2, 5]])
    assert np.all(tau[:, 0] < tau[:, 1])


def test_intercept_start_reads_series_resistance_and_inductance():
    s = starts("hf-intercept-gb-electrode", B, F_B)
    first = s[:, 1, :]   # the feature kernel's first (after the τ search's)
    # R_bulk is a small number next to a large arc: some start must be within a factor 3
    near = np.abs(np.log(s[:, :, 1] / B[:, 1:2])) < np.log(3)
    assert near.any(axis=1).all()
    np.testing.assert_allclose(first[:, 2], B[:, 2], rtol=0.3)   # R_gb
    assert np.all(first[:, 0] > 0)                                # L positive
    # the alternatives vary the series resistance, the least certain number
    assert len(np.unique(s[0, :, 1])) >= 3


def test_generic_starts_for_a_custom_circuit():
    c = compile_circuit("R0-p(R1,C1)-W2")
    z = c.impedance([10.0, 100.0, 1e-6, 50.0], F_B)
    s = initial_guesses(F_B[None], z[None], c.param_names)
    assert s.shape == (1, N_STARTS, 4) and np.all(s > 0)
    # the capacitance is varied over decades across the starts
    assert s[0, :, 2].max() / s[0, :, 2].min() >= 1e4


def test_parameters_without_a_role_get_generic_values():
    from eis_pipeline.fitting.initial import generic_guess, spectral_features

    c = compile_circuit("L0-p(R1,CPE1)-p(R2,CPE2)-CPE3-W4")
    f = np.logspace(6, 0, 61)
    z = c.impedance([1e-7, 1e3, 1e-10, 0.9, 1e5, 1e-8, 0.8, 1e-6, 0.85, 10.0], f)[None]
    roles = {"bulk": {"resistance": "R1", "cpe": "CPE1"}, "electrode": {"cpe": "CPE3"}}
    starts = initial_guesses(f[None], z, c.param_names, roles)
    generic = generic_guess(c.param_names, spectral_features(f[None], z))
    for name in ("L0", "R2", "CPE2_0", "CPE2_1", "W4"):   # no role
        j = c.param_names.index(name)
        np.testing.assert_array_equal(starts[0, :, j], generic[0, j])
    assert np.all(np.isfinite(starts)) and np.all(starts > 0)


@pytest.mark.parametrize("seed", [130, 150, 170])
def test_overlapping_arcs_beside_a_series_resistance_reach_the_optimum(seed):
    """Two R‖CPE arcs a decade apart (one apex in -Z'') with a series R (and L): the
    feature starts guessed the hidden arc's place and the fit stopped 2-38x above the optimum
    (tests/fitting/random_circuits.py seeds 130, 150, 170). The τ search start
    (grid_start, every placement fitted, τ refined to a ninth of a decade, a negative
    series R or L left out) starts at the optimum's basin."""
    from tests.fitting.random_circuits import F, random_case, simulate

    rng = np.random.default_rng(seed)
    circuit, true = random_case(rng, 2)
    z = simulate(circuit, true, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = CircuitModel(circuit).fit(F, z).result_
        from_truth = CircuitModel(circuit, initial_guess=true).fit(F, z).result_
    assert ours.cost <= from_truth.cost * (1 + 1e-6)
    # (seed 130's small arc is 0.8 % of the resistance: the spare-arc search, engine
    # _arc_search, then costs about 230 evaluations more to confirm the place; seed 150's
    # misplaced-arc search 226 since the moves also scan the electrode exponent, 414 in all)
    assert ours.nfev < 450


def test_grid_start_places_two_overlapping_arcs():
    """Noise-free: bulk 1e4 Ω at τ 1.2 µs and grain boundary 5e4 Ω at τ 12 µs beside R_s and
    a small L, every parameter with a role: the τ-search start (the first; before, the
    search found no start with a positive L) has both arcs within a factor 2.5 of their τ
    (it assumes n = 0.9; the arcs' are 0.96 and 0.84) and their total R within 10 %."""
    c = compile_circuit("L0-R1-p(R2,CPE3)-p(R4,CPE5)")
    true = np.array([1.4e-7, 680.0, 1e4, 1.2e-6 ** 0.96 / 1e4, 0.96,
                     5e4, 1.2e-5 ** 0.84 / 5e4, 0.84])
    f = np.logspace(6.5, -0.5, 71)
    z = c.impedance(true, f)[None]
    roles = {"bulk": {"resistance": "R2", "cpe": "CPE3"},
             "grain_boundary": {"resistance": "R4", "cpe": "CPE5"},
             "series": {"resistance": "R1"}, "inductance": {"inductor": "L0"}}
    s = initial_guesses(f[None], z, c.param_names, roles)
    assert s.shape == (1, N_STARTS + 1, 8)
    first = s[0, 0]
    tau = (first[[2, 5]] * first[[3, 6]]) ** (1 / first[[4, 7]])
    assert np.all(np.abs(np.log(tau / [1.2e-6, 1.2e-5])) < np.log(2.5))
    assert abs(first[2] + first[5] - 6e4) < 6e3


@pytest.mark.parametrize(("kind", "params"), [
    ("Wo", [2e3, 0.3]), ("Ws", [2e3, 0.3]), ("G", [2e3, 1e-3]), ("TLMQ", None)])
def test_unit_response_is_the_element_per_unit_amplitude(kind, params):
    """grid_start's basis of each diffusion element, times its amplitude at the grid's τ,
    is the element's impedance (circuits/elements.py) with the parameters grid_start
    writes: (R, τ), (R, t), and for TLMQ (R, Q = τ^γ / R, γ)."""
    from eis_pipeline.fitting.initial import GRID_ARC_N, unit_response

    f = np.logspace(6, -2, 41)
    w = 2 * np.pi * f
    if kind == "TLMQ":
        r, tau = 3e3, 2e-3
        params = [r, tau**GRID_ARC_N / r, GRID_ARC_N]
    else:
        r, tau = params
    z = compile_circuit(f"{kind}0").impedance(np.array([params]), f)[0]
    np.testing.assert_allclose(r * unit_response(kind, 1j * w * tau), z, rtol=1e-10)


DIFFUSION_CASES = [
    ("R0-p(R1,CPE1)-Ws2", {"R0": 20.0, "R1": 5e3, "CPE1_0": 1e-6**0.9 / 5e3, "CPE1_1": 0.9,
                           "Ws2_0": 2e4, "Ws2_1": 0.5}),
    ("R0-p(R1,C1)-Ws2", {"R0": 50.0, "R1": 1e4, "C1": 1e-5 / 1e4, "Ws2_0": 5e3,
                         "Ws2_1": 0.05}),
    ("p(R1,CPE1)-p(R2,CPE2)-Wo3", {"R1": 8e3, "CPE1_0": 1e-6**0.92 / 8e3, "CPE1_1": 0.92,
                                   "R2": 2e4, "CPE2_0": 1e-4**0.8 / 2e4, "CPE2_1": 0.8,
                                   "Wo3_0": 5e4, "Wo3_1": 2.0}),
    ("p(R1,CPE1)-p(R2,CPE2)-TLMQ3", {"R1": 8e3, "CPE1_0": 1e-6**0.92 / 8e3, "CPE1_1": 0.92,
                                     "R2": 2e4, "CPE2_0": 1e-4**0.8 / 2e4, "CPE2_1": 0.8,
                                     "TLMQ3_0": 5e4, "TLMQ3_1": 1e-4, "TLMQ3_2": 0.8}),
    ("R0-p(R1,CPE1)-G2", {"R0": 20.0, "R1": 5e3, "CPE1_0": 1e-6**0.9 / 5e3, "CPE1_1": 0.9,
                          "G2_0": 2e4, "G2_1": 1e-3}),
    ("L0-R0-p(R1,CPE1)-Ws2-CPE3", {"L0": 1e-6, "R0": 20.0, "R1": 5e3,
                                   "CPE1_0": 1e-6**0.9 / 5e3, "CPE1_1": 0.9, "Ws2_0": 2e4,
                                   "Ws2_1": 0.01, "CPE3_0": 1e-5, "CPE3_1": 0.85}),
]


@pytest.mark.parametrize(("circuit", "true"), DIFFUSION_CASES)
def test_diffusion_elements_are_placed_by_the_tau_search(circuit, true):
    """Arcs beside a finite Warburg (Ws, Wo), a transmission line (TLMQ) or a Gerischer: the
    generic starts stopped 180-5000x above the optimum of a 30-start brute force (the
    diffusion element's τ and R guessed from |Z| and the mid frequency). The τ search
    places each diffusion element on the grid like an arc (Z = R f(jωτ), linear in R): a
    fit from its start alone reaches the optimum (and so does the full fit, which then
    also searches by moving and exchanging arcs and diffusion elements)."""
    from eis_pipeline.fitting.initial import grid_start
    from eis_pipeline.fitting.structure import series_terms
    from tests.fitting.random_circuits import F, brute_force_cost, simulate

    rng = np.random.default_rng(0)
    z = simulate(circuit, true, rng)
    c = compile_circuit(circuit)
    start = grid_start(F[None], z[None], c.param_names, series_terms(c.ast))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = CircuitModel(circuit).fit(F, z).result_
        alone = CircuitModel(circuit, initial_guess=dict(zip(c.param_names, start,
                                                              strict=True))).fit(F, z).result_
    best = brute_force_cost(circuit, z, true, rng, 30)
    assert ours.cost <= best * (1 + 1e-3)
    assert alone.cost <= best * (1 + 1e-3)


@pytest.mark.parametrize("kind", ["CPE", "TLMQ"])
def test_unit_response_power_of_an_imaginary_argument(kind):
    """The (jy)^n shortcut of unit_response (a real power and one phase) gives numpy's
    complex power to rounding, for scalar and per-row exponents; other arguments (a real
    part, a negative imaginary one) take numpy's power itself."""
    from eis_pipeline.fitting.initial import _power, unit_response

    y = np.logspace(-4, 4, 41)
    n = np.array([[0.6], [0.9], [1.0]])
    for x in (1j * y, 1j * y[None, :] * np.ones((3, 1))):
        for e in (0.85, n):
            np.testing.assert_allclose(_power(x, e), x**e, rtol=1e-14)
    root = (1j * y) ** 0.4   # TLMQ: coth(x^(γ/2)) / x^(γ/2), γ = 0.8
    closed = 1.0 / (1.0 + (1j * y) ** 0.8) if kind == "CPE" else 1.0 / (np.tanh(root) * root)
    np.testing.assert_allclose(unit_response(kind, 1j * y, 0.8), closed, rtol=1e-12)
    for x in (0.5 + 1j * y, -1j * y):
        assert _power(x, 0.7).tobytes() == (x**0.7).tobytes()
