"""The regularised solve of the DRT (:mod:`eis_pipeline.validation.drt`), for a stack of
problems of one shape.

A campaign's spectra share their frequencies and hence the shape of their DRT problems; only
the row weights (1/|Z|) and the data differ. Stacked, the projection of the free series terms,
the GCV's penalty solve and its SVD are one LAPACK-backed call each for the whole stack
(numpy's linear algebra and ``matmul`` work matrix by matrix, so each problem's numbers are
those of solving it alone); the non-negative least squares stays one call per problem.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from eis_pipeline.validation._common import FloatArray

Penalty = Literal["identity", "first", "second"]

#: Default λ grid (dimensionless; γ is scaled by max|Z|).
DEFAULT_LAMBDAS = np.logspace(-8, 2, 51)
#: λ is the largest whose GCV score is within this fraction of the lowest (see choose_lambda).
GCV_TOLERANCE = 0.05

#: one stacked problem's solution: (γ, series terms, λ, λ grid or None, GCV scores or None)
Solution = tuple[FloatArray, FloatArray, float, FloatArray | None, FloatArray | None]


def penalty_matrix(n: int, penalty: Penalty) -> FloatArray:
    """Square, invertible penalty operator D (n × n).

    Difference rows are completed by rows penalising γ itself at the grid ends (first row, and
    also the last for the second difference); γ should vanish there, beyond the data.
    """
    if penalty == "identity":
        return np.eye(n)
    if penalty == "first":
        return np.eye(n) - np.eye(n, k=-1)
    d = np.eye(n, k=-1) - 2.0 * np.eye(n) + np.eye(n, k=1)
    d[0, :] = 0.0
    d[-1, :] = 0.0
    d[0, 0] = d[-1, -1] = 1.0
    return d


def gcv_scores(a: FloatArray, b: FloatArray, d: FloatArray, lambdas: FloatArray,
               *, n_fixed: int = 0) -> FloatArray:
    """GCV score of min ||a x - b||² + λ||d x||² for every λ, from one SVD.

    ``a`` and ``b`` are already projected orthogonally to ``n_fixed`` free parameters, which
    take that many degrees of freedom from the trace. In standard form a d⁻¹ = U S Vᵀ, the
    influence matrix is U diag(s²/(s²+λ)) Uᵀ, so

        GCV(λ) = m ||(I - H) b||² / (m - n_fixed - Σ s²/(s²+λ))²
    """
    return gcv_scores_stack(a[None], b[None], d, lambdas, n_fixed=n_fixed)[0]


def gcv_scores_stack(a: FloatArray, b: FloatArray, d: FloatArray, lambdas: FloatArray,
                     *, n_fixed: int = 0) -> FloatArray:
    """:func:`gcv_scores` of every problem of a stack: ``a`` (S, m, n), ``b`` (S, m), one
    ``d``; scores (S, λ)."""
    if _is_first_difference(d):
        # dᵀ is unit upper bidiagonal (-1 above the diagonal): the solve is a reverse running
        # sum, bit for bit what LAPACK's LU solve gives (no pivoting, unit pivots, one
        # addition per entry) at a fraction of the cost
        a_std = np.cumsum(a[:, :, ::-1], axis=2)[:, :, ::-1]
    else:
        a_std = np.swapaxes(np.linalg.solve(d.T, np.swapaxes(a, 1, 2)), 1, 2)
    u, s, _ = np.linalg.svd(a_std, full_matrices=False)
    beta = (np.swapaxes(u, 1, 2) @ b[..., None])[..., 0]
    excess = _dots(b) - _dots(beta)
    outside = np.where(excess < 0.0, 0.0, excess)   # max(excess, 0), NaN kept
    s2 = s[:, None, :] ** 2
    filt = s2 / (s2 + lambdas[None, :, None])
    residual = ((1.0 - filt) ** 2 * beta[:, None, :] ** 2).sum(axis=2) + outside[:, None]
    m = b.shape[1]
    dof = m - n_fixed - filt.sum(axis=2)
    return np.asarray(m * residual / dof**2, dtype=np.float64)


def _is_first_difference(d: FloatArray) -> bool:
    """Whether ``d`` is :func:`penalty_matrix`'s ``"first"`` operator (1 on the diagonal, -1
    below it)."""
    n = d.shape[0]
    return d.shape == (n, n) and bool(np.array_equal(d, penalty_matrix(n, "first")))


def _dots(v: FloatArray) -> FloatArray:
    """``v[s] @ v[s]`` of every row (S,): a dot product per row, as ``v @ v`` of one."""
    return np.asarray((v[:, None, :] @ v[..., None])[:, 0, 0], dtype=np.float64)


def choose_lambda(scores: FloatArray, tolerance: float) -> int:
    """Index of the largest λ whose GCV score is within ``tolerance`` of the minimum.

    The GCV curve of a DRT problem is often flat over decades of λ, with shallow local minima
    at small λ that give rippled, spurious-peaked γ. Within the flat region the scores cannot
    tell the candidates apart, so the smoothest one is taken (in the spirit of the
    one-standard-error rule of cross-validation). ``scores`` must follow increasing λ.
    """
    ok = np.flatnonzero(scores <= (1.0 + tolerance) * scores.min())
    return int(ok[-1])


def regularised_nnls_stack(
    a0: FloatArray, a1: FloatArray, b: FloatArray, d: FloatArray,
    regularization: float | None, lambdas: ArrayLike | None,
) -> list[Solution]:
    """Solve min ||a0 x0 + a1 x - b||² + λ||d x||², x ≥ 0, x0 free, for every problem of the
    stack ``a0`` (S, m, k), ``a1`` (S, m, n), ``b`` (S, m); λ given or by GCV per problem.

    Returns ``(x, x0, λ, λ grid or None, GCV scores or None)`` per problem.
    """
    n_stack, m, n_fixed = a0.shape
    # Project out the free series parameters (exact: they enter linearly, unconstrained).
    q0 = np.linalg.qr(a0)[0] if n_fixed else np.empty((n_stack, m, 0))
    q0t = np.swapaxes(q0, 1, 2)
    a1p = a1 - q0 @ (q0t @ a1)
    bp = b - (q0 @ (q0t @ b[..., None]))[..., 0]
    grid: FloatArray | None = None
    scores: FloatArray | None = None
    if regularization is None:
        grid = np.asarray(DEFAULT_LAMBDAS if lambdas is None else lambdas, dtype=np.float64)
        scores = gcv_scores_stack(a1p, bp, d, grid, n_fixed=n_fixed)
        lams = [float(grid[choose_lambda(row, GCV_TOLERANCE)]) for row in scores]
    else:
        lams = [float(regularization)] * n_stack
    import scipy.optimize  # here, not at the top: `import eis_pipeline.fitting` stays light

    out: list[Solution] = []
    zeros = np.zeros(d.shape[0])
    for s, lam in enumerate(lams):   # NNLS has no stacked solver: one call per problem
        stacked = np.concatenate([a1p[s], np.sqrt(lam) * d])
        target = np.concatenate([bp[s], zeros])
        x = scipy.optimize.nnls(stacked, target, maxiter=50 * d.shape[0])[0]
        x0 = (np.linalg.lstsq(a0[s], b[s] - a1[s] @ x, rcond=None)[0] if n_fixed
              else np.empty(0))
        out.append((x, x0, lam, grid, None if scores is None else scores[s]))
    return out
