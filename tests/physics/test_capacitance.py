"""Hsu–Mansfeld / Brug capacitances, apex frequencies and the delta method (PHYSICS.md §3)."""

from __future__ import annotations

import numpy as np
import pytest
from impedance.models.circuits import elements

from eis_pipeline.physics.capacitance import (
    apex_frequency,
    delta_method_stderr,
    effective_capacitance,
)


def test_ideal_capacitor_limit_n_equals_one_gives_q() -> None:
    q = np.array([1e-12, 3e-9, 2e-6])
    c = effective_capacitance([10.0, 1e3, 1e6], q, 1.0)
    np.testing.assert_allclose(c.value, q, rtol=1e-15)
    np.testing.assert_allclose(c.d_resistance, 0.0, atol=0)


def test_hsu_mansfeld_equals_one_over_r_omega_apex() -> None:
    # Independent closed form: an R‖C with C = C_eff has its apex where R‖CPE has it.
    r, q, n = 2.5e3, 4e-10, 0.83
    c = effective_capacitance(r, q, n).value
    omega_max = (r * q) ** (-1.0 / n)
    assert float(c) == pytest.approx(1.0 / (r * omega_max), rel=1e-12)


def test_brug_closed_form() -> None:
    # C_dl = Q^(1/n) R_s^((1-n)/n): Q = 1e-6, n = 0.5, R_s = 100 -> 1e-12 * 100 = 1e-10 F.
    c = effective_capacitance(100.0, 1e-6, 0.5).value
    assert float(c) == pytest.approx(1e-10, rel=1e-12)


def test_apex_frequency_matches_impedance_py_arc_maximum() -> None:
    r, q, n = 1.0e4, 2e-10, 0.88
    f = np.logspace(2, 8, 60001)
    z = elements.p([elements.R([r], f), elements.CPE([q, n], f)])
    f_peak = f[np.argmax(-z.imag)]
    assert float(apex_frequency(r, q, n)) == pytest.approx(f_peak, rel=2e-4)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_gradient_matches_finite_differences(which: int) -> None:
    x = np.array([340.0, 3e-9, 0.79])
    c = effective_capacitance(*x)
    analytic = (c.d_resistance, c.d_q, c.d_n)[which]
    h = x[which] * 1e-6
    up, down = x.copy(), x.copy()
    up[which] += h
    down[which] -= h
    numeric = (effective_capacitance(*up).value - effective_capacitance(*down).value) / (2 * h)
    assert float(analytic) == pytest.approx(float(numeric), rel=1e-6)


def test_invalid_inputs_give_nan_not_errors() -> None:
    c = effective_capacitance([-1.0, 1.0, np.nan], [1e-9, 0.0, 1e-9], [0.9, 0.9, 0.9])
    assert np.all(np.isnan(c.value))
    assert np.all(np.isnan(apex_frequency([-1.0, 1.0], [1e-9, 0.0], 0.9)))


def test_delta_method_includes_covariance_and_ignores_unrelated_nan() -> None:
    cov = np.array([[4.0, -1.0, np.nan], [-1.0, 9.0, np.nan], [np.nan, np.nan, np.nan]])
    # var(a + b) = 4 + 9 - 2: the NaN row belongs to a parameter the sum does not use.
    assert float(delta_method_stderr([1.0, 1.0, 0.0], cov)) == pytest.approx(np.sqrt(11.0))
    assert np.isnan(delta_method_stderr([1.0, 0.0, 1.0], cov))


def test_delta_method_batched() -> None:
    g = np.array([[1.0, 0.0], [0.0, 2.0]])
    cov = np.array([np.diag([4.0, 1.0]), np.diag([1.0, 9.0])])
    np.testing.assert_allclose(delta_method_stderr(g, cov), [2.0, 6.0])
