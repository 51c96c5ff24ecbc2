"""The batched solver against a closed-form R‖C model (test-only; circuits are not used)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import least_squares

from eis_pipeline.fitting.solver import REASONS, Status, least_squares_batch

F = np.logspace(5, -1, 40)
W = 2 * np.pi * F


def rc_problem(z_data: np.ndarray):
    """Residuals of Z = R / (1 + jωRC) in u = (ln R, ln C), modulus-weighted, and Jacobian."""
    wt = 1.0 / np.abs(z_data)

    def fun(u: np.ndarray, rows: np.ndarray):
        r, c = np.exp(u[:, :1]), np.exp(u[:, 1:])
        den = 1 + 1j * W * r * c
        z = r / den
        dz_dr = 1 / den**2                     # d/dR of R/(1+jωRC)
        dz_dc = -1j * W * r**2 / den**2
        diff = (z - z_data[rows]) * wt[rows]
        jac = np.stack([dz_dr * r, dz_dc * c], axis=-1) * wt[rows][:, :, None]
        return (np.concatenate([diff.real, diff.imag], axis=1),
                np.concatenate([jac.real, jac.imag], axis=1))
    return fun


def rc(r: np.ndarray, c: np.ndarray) -> np.ndarray:
    return r[:, None] / (1 + 1j * W * r[:, None] * c[:, None])


def test_recovers_many_problems_at_once(rng):
    r = np.exp(rng.uniform(np.log(10), np.log(1e5), 50))
    c = np.exp(rng.uniform(np.log(1e-9), np.log(1e-5), 50))
    fun = rc_problem(rc(r, c))
    x0 = np.log(np.stack([r, c], axis=1)) + rng.normal(0, 1.0, (50, 2))
    res = least_squares_batch(fun, x0)
    assert res.converged.all()
    np.testing.assert_allclose(np.exp(res.x), np.stack([r, c], axis=1), rtol=1e-8)
    assert np.all(res.cost < 1e-20)


def test_matches_scipy_on_noisy_data(rng):
    z = rc(np.array([1e3]), np.array([1e-7]))
    z = z + 0.01 * np.abs(z) * (rng.standard_normal(z.shape) + 1j * rng.standard_normal(z.shape))
    fun = rc_problem(z)
    res = least_squares_batch(fun, np.log([[3e3, 3e-8]]))

    def scipy_fun(u):
        return fun(u[None, :], np.array([0]))[0][0]

    ref = least_squares(scipy_fun, np.log([3e3, 3e-8]), jac=lambda u: fun(u[None, :],
                        np.array([0]))[1][0], method="lm", xtol=1e-14, ftol=1e-14, gtol=1e-14)
    np.testing.assert_allclose(res.x[0], ref.x, rtol=1e-7)
    np.testing.assert_allclose(res.cost[0], ref.cost, rtol=1e-9)
    assert res.status[0] == Status.CONVERGED


def test_bounds_are_honoured_and_active_bound_is_a_stationary_point():
    z = rc(np.array([1e3]), np.array([1e-7]))
    fun = rc_problem(z)
    # R may not exceed 500 ohm: the constrained optimum sits on that bound
    upper = np.array([np.log(500.0), np.inf])
    res = least_squares_batch(fun, np.log([[100.0, 1e-6]]), upper=upper)
    assert res.x[0, 0] <= np.log(500.0)
    assert res.x[0, 0] == pytest.approx(np.log(500.0), abs=1e-12)
    assert res.converged[0]


def test_iteration_limit_is_reported_not_hidden():
    z = rc(np.array([1e3]), np.array([1e-7]))
    res = least_squares_batch(rc_problem(z), np.log([[1.0, 1e-3]]), max_nfev=3)
    assert res.status[0] == Status.MAX_NFEV
    assert not res.converged[0]
    assert "maximum number" in res.messages()[0]
    assert res.nfev[0] == 3


def test_non_finite_start_is_flagged():
    z = rc(np.array([1e3]), np.array([1e-7]))
    fun = rc_problem(z)

    def bad(u, rows):
        r, j = fun(u, rows)
        r[0, 0] = np.nan
        return r, j

    res = least_squares_batch(bad, np.log([[1e3, 1e-7]]))
    assert res.status[0] == Status.NON_FINITE
    assert REASONS[res.reason[0]] == "non-finite starting point"


@pytest.mark.parametrize(("start", "upper", "max_nfev", "max_step"), [
    ([3e3, 3e-8], None, None, None),                       # noisy data, interior optimum
    ([1.0, 1e-3], None, None, None),                       # far start: rejected steps
    ([1.0, 1e-3], None, None, 0.5),                        # far start, short steps
    ([100.0, 1e-6], [np.log(500.0), np.inf], None, None),  # optimum on an active bound
    ([100.0, 1e-6], [np.log(500.0), np.inf], None, 1.0),
    ([1.0, 1e-3], None, 3, None),                          # evaluation limit
])
def test_one_row_path_takes_the_batched_steps(rng, start, upper, max_nfev, max_step):
    """A row takes the same steps alone as in a batch (the compiled solver relies on it:
    it solves rows one at a time): same steps, same outcome."""
    z = rc(np.array([1e3]), np.array([1e-7]))
    z = z + 0.01 * np.abs(z) * (rng.standard_normal(z.shape) + 1j * rng.standard_normal(z.shape))
    x0 = np.log([start])
    one = least_squares_batch(rc_problem(z), x0, upper=upper, max_nfev=max_nfev,
                              max_step=max_step)
    two = least_squares_batch(rc_problem(np.repeat(z, 2, axis=0)), np.repeat(x0, 2, axis=0),
                              upper=upper, max_nfev=max_nfev, max_step=max_step)
    for name in ("status", "reason", "nfev", "n_iterations"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name)[:1], err_msg=name)
    np.testing.assert_allclose(one.x, two.x[:1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(one.cost, two.cost[:1], rtol=1e-9)
    np.testing.assert_allclose(one.newton_decrement, two.newton_decrement[:1], rtol=1e-6,
                               atol=1e-14 * one.cost[0])
    assert one.x.shape == (1, 2) and one.jacobian.shape == two.jacobian[:1].shape


@pytest.mark.parametrize("rows", [1, 2])
def test_max_step_limits_every_trial_step(rows):
    z = rc(np.array([1e3] * rows), np.array([1e-7] * rows))
    fun = rc_problem(z)
    seen = []

    def recording(u, sub):
        seen.append(u.copy())
        return fun(u, sub)

    x0 = np.log([[1.0, 1e-3]] * rows)
    res = least_squares_batch(recording, x0, max_step=0.5)
    assert res.converged.all()
    np.testing.assert_allclose(np.exp(res.x), [[1e3, 1e-7]] * rows, rtol=1e-8)
    # without the cap the first step alone is several units long; with it every trial point
    # lies within 0.5 of a point evaluated before (the accepted one it was taken from)
    points = np.concatenate(seen)[:, None, :]
    for i in range(1, len(points)):
        assert np.abs(points[i] - points[:i]).max(axis=-1).min() <= 0.5 + 1e-12
    assert len(seen) > np.log(1e-3 / 1e-7) / 0.5   # ln C has to travel 9.2


def test_one_row_non_finite_start_matches_batched():
    z = rc(np.array([1e3]), np.array([1e-7]))
    fun = rc_problem(np.repeat(z, 2, axis=0))

    def bad(u, rows):
        r, j = fun(u, rows)
        r[:, 0] = np.nan
        return r, j

    one = least_squares_batch(bad, np.log([[1e3, 1e-7]]))
    two = least_squares_batch(bad, np.log([[1e3, 1e-7]] * 2))
    assert one.status[0] == two.status[0] == Status.NON_FINITE
    assert one.reason[0] == two.reason[0]
    assert np.isnan(one.newton_decrement[0])
