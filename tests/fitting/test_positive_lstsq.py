"""The positive least-squares solve from normal equations shared by the τ-grid start
(initial.grid_start) and the arc-move scan (arc_restarts.relocation_starts), and the grid
start it serves."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import nnls

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.fitting.initial import grid_start, positive_normal_lstsq
from eis_pipeline.fitting.structure import series_terms


def _badly_scaled(rng: np.random.Generator, shape: tuple[int, ...], m: int = 40, c: int = 4
                  ) -> tuple[np.ndarray, np.ndarray]:
    """X (..., m, c) whose column norms span 15 decades, and y (..., m)."""
    scale = 10.0 ** np.linspace(-7.0, 8.0, c)
    x = rng.standard_normal((*shape, m, c)) * scale
    coef = 10.0 ** rng.uniform(-1, 1, (*shape, c)) / scale
    y = np.einsum("...mc,...c->...m", x, coef) + 1e-3 * rng.standard_normal((*shape, m))
    return x, y


def _normal(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.einsum("...mi,...mj->...ij", x, x), np.einsum("...mi,...m->...i", x, y),
            np.einsum("...m,...m->...", y, y))


def _reference(x: np.ndarray, y: np.ndarray, kept: np.ndarray | None = None
               ) -> tuple[float, np.ndarray]:
    """scipy's NNLS of one problem, on unit-norm columns (scale-free), ``kept`` columns."""
    kept = np.ones(x.shape[1], dtype=bool) if kept is None else kept
    d = np.linalg.norm(x[:, kept], axis=0)
    sol, _ = nnls(x[:, kept] / d, y)
    coef = np.zeros(x.shape[1])
    coef[kept] = sol / d
    return float(np.sum((x @ coef - y) ** 2)), coef


def test_matches_nnls_on_columns_15_decades_apart():
    """A batch (S, M) of problems whose column norms span 15 decades and whose positive
    solution is interior: cost and every coefficient as scipy's NNLS (on the columns
    scaled to unit norm). A ridge relative to the unscaled trace (the old grid search's)
    shrinks the small columns' coefficients to nothing here."""
    rng = np.random.default_rng(1)
    x, y = _badly_scaled(rng, (3, 5))
    a, b, yy = _normal(x, y)
    cost, coef = positive_normal_lstsq(a, b, yy)
    assert cost.shape == (3, 5) and coef.shape == (3, 5, 4)
    for i in np.ndindex(3, 5):
        ref_cost, ref = _reference(x[i], y[i])
        assert ref.min() > 0   # interior: NNLS is the unconstrained solution
        np.testing.assert_allclose(coef[i], ref, rtol=1e-6)
        np.testing.assert_allclose(cost[i], ref_cost, rtol=1e-6, atol=1e-12 * yy[i])
    # the old ridge (1e-12 trace(XᵀX), no scaling) on the same problems
    old = np.linalg.solve(a + 1e-12 * np.trace(a, axis1=2, axis2=3)[..., None, None]
                          * np.eye(4), b[..., None])[..., 0]
    assert not np.allclose(old[..., 0], coef[..., 0], rtol=0.1)


def test_infeasible_without_soft_columns():
    """A problem whose least-squares solution has a negative coefficient is infeasible (cost
    inf, coefficients 0): no active-set search, the callers keep the best feasible model."""
    rng = np.random.default_rng(2)
    x, y = _badly_scaled(rng, (1,))
    y = y - 3.0 * x[..., 1] * (np.abs(y).max() / np.abs(x[..., 1]).max())
    a, b, yy = _normal(x, y)
    unconstrained = np.linalg.lstsq(x[0] / np.linalg.norm(x[0], axis=0), y[0], rcond=None)[0]
    assert unconstrained.min() < 0
    cost, coef = positive_normal_lstsq(a, b, yy)
    assert np.isinf(cost[0]) and np.all(coef[0] == 0)


@pytest.mark.parametrize("negative", [[0], [1], [0, 1]])
def test_soft_columns_are_left_out_where_they_would_be_negative(negative):
    """Soft columns 0 and 1 (a series R and an L: the first columns, as both callers
    order them) whose free coefficient is negative are left out (coefficient exactly 0):
    the result is scipy's NNLS, whose solution has those columns at 0 and the others
    positive. Where the soft columns are positive, nothing is left out."""
    rng = np.random.default_rng(3)
    m, c = 60, 4
    scale = np.array([1e-7, 1e4, 1.0, 1e8])
    x = rng.standard_normal((m, c)) * scale   # nearly orthogonal columns
    truth = np.array([2.0, 3.0, 1.0, 5.0]) / scale
    truth[negative] *= -1.0
    y = x @ truth + 1e-4 * rng.standard_normal(m)
    a, b, yy = _normal(x, y)
    cost, coef = positive_normal_lstsq(a, b, yy, soft=[0, 1])
    ref_cost, ref = _reference(x, y)
    assert set(np.flatnonzero(ref == 0)) == set(negative)   # NNLS drops those columns
    np.testing.assert_allclose(coef, ref, rtol=1e-6, atol=0)
    np.testing.assert_allclose(cost, ref_cost, rtol=1e-6)
    # without soft columns the same problem has no feasible solution
    assert np.isinf(positive_normal_lstsq(a, b, yy)[0])
    # and with positive soft columns every column is kept
    y_pos = x @ np.abs(truth)
    cost_p, coef_p = positive_normal_lstsq(*_normal(x, y_pos), soft=[0, 1])
    assert cost_p < 1e-12 * np.sum(y_pos**2)   # noise-free: exact
    np.testing.assert_allclose(coef_p, np.abs(truth), rtol=1e-6)


def test_soft_subsets_per_problem_in_a_batch():
    """Batched: each problem of (S, M) keeps its own best subset of soft columns."""
    rng = np.random.default_rng(4)
    s, m_models, m, c = 2, 3, 30, 3
    x = rng.standard_normal((s, m_models, m, c)) * np.array([1e-6, 1.0, 1e6])
    sign = rng.choice([-1.0, 1.0], size=(s, m_models, c))
    sign[..., 1:] = 1.0
    truth = sign * np.array([1e6, 1.0, 1e-6])
    y = np.einsum("...mc,...c->...m", x, truth)
    cost, coef = positive_normal_lstsq(*_normal(x, y), soft=[0])
    for i in np.ndindex(s, m_models):
        ref_cost, ref = _reference(x[i], y[i])
        np.testing.assert_allclose(coef[i], ref, rtol=1e-6, atol=1e-3 * np.abs(ref).max())
        assert cost[i] <= ref_cost + 1e-9 * np.sum(y[i] ** 2)


def _seed_grid_start(seed: int, circuit: str) -> tuple[dict[str, float], dict[str, float]]:
    """The true parameters of random circuit ``seed`` (two arcs) and its τ-grid start."""
    from tests.fitting.random_circuits import F, random_case, simulate

    rng = np.random.default_rng(seed)
    drawn, true = random_case(rng, 2)
    assert drawn == circuit
    z = simulate(circuit, true, rng)
    c = compile_circuit(circuit)
    start = dict(zip(c.param_names,
                     grid_start(F[None], z[None], c.param_names, series_terms(c.ast))[0],
                     strict=True))
    return true, start


def test_grid_start_with_an_inductance_under_modulus_weighting():
    """Random circuits, seed 246: p(R7,CPE7)-L2-CPE1-p(C3,R3). Near the L-C resonance |Z|
    falls to mΩ, so the modulus-weighted inductance column's norm² is ~1e17 and a ridge
    relative to the trace of the unscaled normal equations gave every R of the τ-grid start
    ~4e-4 Ω (the arcs are 245 and 517 Ω). Jacobi scaled, each R is within a factor 2 of
    the truth and L within 30 %."""
    true, start = _seed_grid_start(246, "p(R7,CPE7)-L2-CPE1-p(C3,R3)")
    for r in ("R7", "R3"):
        assert abs(np.log(start[r] / true[r])) < np.log(2)
    assert abs(np.log(start["L2"] / true["L2"])) < np.log(1.3)


def test_grid_start_shifts_the_arcs_together():
    """Random circuits, seed 542: p(CPE9,R9)-CPE3-L7-p(CPE2,R2), the arcs' τ 1.6e-4 and
    1.6e-3 s, both half a decade between points of the decade grid. The coarse grid's best
    placement is half a decade off for both, and moving one arc alone toward its place
    raises the misfit; the refinement's move of all arcs together puts both within a factor
    2 (one arc at a time: 7x and 2.5x too fast, and the fit from there stopped 6x above the
    optimum, converged and not doubtful)."""
    true, start = _seed_grid_start(542, "p(CPE9,R9)-CPE3-L7-p(CPE2,R2)")

    def taus(p: dict[str, float]) -> np.ndarray:
        return np.sort([(p[r] * p[f"{q}_0"]) ** (1 / p[f"{q}_1"])
                        for r, q in (("R9", "CPE9"), ("R2", "CPE2"))])

    assert np.all(np.abs(np.log(taus(start) / taus(true))) < np.log(2))


def test_compiled_and_pure_solve_agree():
    """One source: the compiled loop (_start_kernels.positive_normal_solve) and its pure
    twin give the same costs and coefficients, soft variants included, and the same
    feasibility (inf where none is)."""
    from eis_pipeline import _jit
    from eis_pipeline.fitting import _start_kernels, compiled_lm

    if not compiled_lm.ENABLED:
        pytest.skip("numba off: the compiled loop is the pure one")
    pure = _jit.pure("eis_pipeline.fitting._start_kernels")
    rng = np.random.default_rng(7)
    x, y = _badly_scaled(rng, (4, 6))
    y[0] = -y[0]   # some problems without a feasible variant
    a, b, yy = _normal(x, y)
    keep = np.ones((4, 4), dtype=np.bool_)
    keep[1, 0] = keep[2, 1] = False
    keep[3, :2] = False
    args = (a.reshape(-1, 4, 4), b.reshape(-1, 4), yy.reshape(-1), keep)
    c1, k1 = _start_kernels.positive_normal_solve(*args)
    c2, k2 = pure.positive_normal_solve(*args)
    assert np.isinf(c1).any() and np.isfinite(c1).any()
    np.testing.assert_array_equal(np.isfinite(c1), np.isfinite(c2))
    np.testing.assert_allclose(c1, c2, rtol=1e-12)
    np.testing.assert_allclose(k1, k2, rtol=1e-12, atol=0)
