"""Levenberg–Marquardt least squares: the method, the result type, and a generic front end.

The iteration itself exists once, in :mod:`eis_pipeline.fitting._lm_kernels`: compiled by
numba for circuit fits (:mod:`~eis_pipeline.fitting.compiled_lm`, each row of a batch one
after another in machine code), and as its pure-Python twin behind
:func:`least_squares_batch`, which accepts any Python residual function.

Method (per row), following Moré's MINPACK formulation with Nielsen's damping update:

- the step solves ``(JᵀJ + λ D²) δ = -Jᵀr`` in Jacobi-scaled form, where ``D²`` is the running
  maximum of ``diag(JᵀJ)`` (invariant to parameter scaling);
- box constraints are handled by projection: parameters on a bound whose gradient points
  outward are frozen for the step, and the trial step is shortened along its direction to
  stay in the box;
- an optional cap ``max_step`` on the step's largest component shortens the step along its
  direction;
- the gain ratio ρ = actual / predicted reduction accepts the step when ρ > 1e-4 and updates
  λ ← λ·max(1/3, 1 - (2ρ - 1)³) (accepted) or λ ← λ·ν, ν ← 2ν (rejected).

Stopping tests (per row): gradient (max cosine between the residual and a Jacobian column
<= ``gtol``), cost (actual and predicted relative reduction <= ``ftol``; and, right after a
step that gained less than ``sqrt(ftol)`` of the cost, the Newton decrement below — the gain
a full Gauss–Newton step still predicts — <= ``ftol`` of the cost, which spares the
evaluation that would only confirm convergence; both only where the judgement below agrees
that at most ``stationary_rtol`` of the cost is left, else the iteration goes on: small steps
under heavy damping gain little too), step (max |δ| <= ``xtol`` in internal
units, i.e. a relative change for log parameters), an exact fit, a step that cannot reduce the
cost at machine precision, and the evaluation limit ``max_nfev``. Whatever stopped a row, the
row is then *judged*: it counts as converged only if neither the Gauss–Newton model
(``0.5 gᵀ(JᵀJ)⁻¹g`` within a unit box) nor a steepest-descent step predicts a meaningful
further decrease (``<= stationary_rtol·cost``), or, for a row stopped by the step or
round-off tests, the Gauss–Newton step to the model's optimum is itself below ``xtol`` (the
stationary point lies within xtol: a fit to the data's own rounding). A row that hit
``max_nfev`` reports that, even if it happened to be close.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from eis_pipeline import _jit

__all__ = ["STATUS_MESSAGES", "SolverResult", "Status", "least_squares_batch"]

Array = NDArray[np.float64]
#: fun(u (k, P), rows (k,)) -> residuals (k, M), Jacobian d residuals / d u (k, M, P)
ResidualFunction = Callable[[Array, NDArray[np.intp]], tuple[Array, Array]]


class Status:
    """Status codes of a fit (0 converged; > 0 did not reach a stationary point, or failed)."""

    CONVERGED = 0
    MAX_NFEV = 1
    NOT_STATIONARY = 2
    NON_FINITE = 3
    FAILED = 4


STATUS_MESSAGES: dict[int, str] = {
    Status.CONVERGED: "converged",
    Status.MAX_NFEV: "maximum number of function evaluations reached before convergence",
    Status.NOT_STATIONARY: "stopped at a non-stationary point (the step could not reduce the "
                           "cost although the gradient is not small)",
    Status.NON_FINITE: "model or residuals not finite at the starting point",
    Status.FAILED: "fit failed",
}

#: Detailed reasons for a converged row, indexed by the ``reason`` field.
REASONS = ("", "gradient below gtol", "relative cost reduction below ftol",
           "step below xtol", "exact fit (cost at round-off level)",
           "no further reduction possible at machine precision",
           "maximum number of function evaluations reached", "damping diverged",
           "non-finite starting point",
           "Gauss-Newton step predicts a relative cost reduction below ftol",
           "abandoned: at its pace it could not reach the cost another start reached")
(_GTOL, _FTOL, _XTOL, _EXACT, _ROUNDOFF, _MAXFEV, _LAMBDA, _NONFINITE,
 _NEWTON, _ABANDONED) = range(1, 11)


@dataclass
class SolverResult:
    """Per-row outcome of :func:`least_squares_batch` (arrays over the batch axis B).

    Attributes
    ----------
    x : ndarray (B, P)
        Final internal coordinates.
    cost : ndarray (B,)
        ``0.5 * sum(residuals**2)``.
    residuals : ndarray (B, M)
    jacobian : ndarray (B, M, P)
        Jacobian at ``x`` (internal coordinates).
    status : ndarray of int (B,)
        See :class:`Status`.
    reason : ndarray of int (B,)
        Index into :data:`REASONS`: which test stopped the row.
    nfev, n_iterations : ndarray of int (B,)
    newton_decrement : ndarray (B,)
        ``0.5 gᵀ(JᵀJ)⁻¹g`` at ``x``: the cost decrease a Gauss–Newton step still predicts.
    """

    x: Array
    cost: Array
    residuals: Array
    jacobian: Array
    status: NDArray[np.int_]
    reason: NDArray[np.int_]
    nfev: NDArray[np.int_]
    n_iterations: NDArray[np.int_]
    newton_decrement: Array = field(repr=False)

    @property
    def converged(self) -> NDArray[np.bool_]:
        """True where a stationary point was reached."""
        return self.status == Status.CONVERGED

    def messages(self) -> list[str]:
        """A human-readable message per row."""
        out = []
        for s, r in zip(self.status.tolist(), self.reason.tolist(), strict=True):
            text = STATUS_MESSAGES[s]
            if s == Status.CONVERGED and REASONS[r]:
                text = f"{text}: {REASONS[r]}"
            elif s == Status.NOT_STATIONARY and REASONS[r]:
                text = f"{text}; stopped by: {REASONS[r]}"
            out.append(text)
        return out


#: Default stopping and judging tolerances of :func:`least_squares_batch`, also the compiled
#: solver's (:mod:`eis_pipeline.fitting.compiled_lm`).
TOLERANCES = {"ftol": 1e-9, "xtol": 1e-10, "gtol": 1e-10, "stationary_rtol": 1e-6,
              "lambda0": 1e-3}


def default_max_nfev(n_params: int) -> int:
    """Evaluation limit per row when none is given."""
    return 100 * (n_params + 1)


def least_squares_batch(
    fun: ResidualFunction,
    x0: Array,
    lower: Array | None = None,
    upper: Array | None = None,
    *,
    max_nfev: int | None = None,
    ftol: float = TOLERANCES["ftol"],
    xtol: float = TOLERANCES["xtol"],
    gtol: float = TOLERANCES["gtol"],
    stationary_rtol: float = TOLERANCES["stationary_rtol"],
    lambda0: float = TOLERANCES["lambda0"],
    cost_floor: Array | None = None,
    max_step: float | None = None,
    beat: Array | None = None,
) -> SolverResult:
    """Minimise ``0.5 * ||r(x)||²`` independently for every row of ``x0``.

    The iteration of the compiled circuit fits, run in Python for a Python residual function
    (circuit fits themselves go through :mod:`~eis_pipeline.fitting.compiled_lm`).

    Parameters
    ----------
    fun : callable
        ``fun(x, rows) -> (r, J)`` with ``x`` of shape (k, P) (the rows ``rows`` of the batch),
        returning residuals (k, M) and their Jacobian (k, M, P).
    x0 : ndarray (B, P)
        Starting points (internal coordinates).
    lower, upper : ndarray (P,) or (B, P), optional
        Box constraints; ``-inf``/``inf`` when absent.
    max_nfev : int, optional
        Function evaluations allowed per row (default ``100 * (P + 1)``).
    ftol, xtol, gtol : float
        Stopping tolerances (module docstring).
    stationary_rtol : float
        A stopped row is converged when no step predicts a decrease above this fraction of
        its cost (or above round-off level).
    lambda0 : float
        Initial damping (relative to the Jacobi-scaled normal matrix).
    max_step : float, optional
        Longest trial step, ``max |δ_i|`` in internal coordinates: a longer LM step is
        shortened along its direction (still a descent direction of the quadratic model, and
        the gain ratio is computed for the shortened step). For log parameters 3 means a
        factor e³ per iteration. Far from the optimum the undamped Gauss–Newton step of a
        weakly determined log parameter (a stray inductance, a series resistance much
        smaller than the arcs) can be tens of units long; it is rejected again and again
        while λ grows, one evaluation each. Default: no limit.
    cost_floor : ndarray (B,), optional
        Cost at round-off level for each row (the cost of residuals of a few machine
        epsilons of the data): below it a fit is exact and decreases are meaningless. The
        default assumes residuals of order one, as with modulus weighting.
    beat : ndarray (B,), optional
        A cost another start already reached: a row above it whose decrease over the last
        :data:`~eis_pipeline.fitting._lm_kernels.GIVE_UP_WINDOW` evaluations, kept up for
        the evaluations it has left, would not bring it below is abandoned (status
        MAX_NFEV). Default: never.

    Returns
    -------
    SolverResult

    Examples
    --------
    >>> t = np.linspace(0, 1, 20)
    >>> y = 2.0 * np.exp(-3.0 * t)
    >>> def fun(x, rows):
    ...     a, k = x[:, :1], x[:, 1:]
    ...     e = np.exp(-k * t)
    ...     return a * e - y, np.stack([e, -a * t * e], axis=-1)
    >>> res = least_squares_batch(fun, np.array([[1.0, 1.0], [5.0, 0.1]]))
    >>> np.round(res.x, 6).tolist(), res.converged.tolist()
    ([[2.0, 3.0], [2.0, 3.0]], [True, True])
    """

    x = np.array(x0, dtype=np.float64, copy=True)
    if x.ndim != 2:
        raise ValueError(f"x0 must have shape (B, P), got {x.shape}")
    b, p = x.shape
    lo = np.ascontiguousarray(np.broadcast_to(
        np.asarray(-np.inf if lower is None else lower, dtype=np.float64), (b, p)))
    hi = np.ascontiguousarray(np.broadcast_to(
        np.asarray(np.inf if upper is None else upper, dtype=np.float64), (b, p)))
    x = np.minimum(np.maximum(x, lo), hi)
    floor = (np.full(b, np.nan) if cost_floor is None
             else np.broadcast_to(np.asarray(cost_floor, dtype=np.float64), (b,)))
    target = (np.full(b, np.inf) if beat is None
              else np.broadcast_to(np.asarray(beat, dtype=np.float64), (b,)))
    kernels = _jit.pure("eis_pipeline.fitting._lm_kernels")
    r0, j0 = fun(x, np.arange(b))
    m = r0.shape[1]
    n = (m + 1) // 2   # the residuals ride in the real and imaginary parts of n "points"
    zeros = np.zeros(n)
    ones = np.ones(n)
    free = np.arange(p)
    log = np.zeros(p, dtype=bool)
    fields: list[tuple[object, ...]] = []
    with np.errstate(all="ignore"):
        for row in range(b):
            first = [(r0[row], j0[row])]

            def evaluate(params: Array, omega: Array, z: NDArray[np.complex128],
                         dz: NDArray[np.complex128], row: int = row,
                         first: list[tuple[Array, Array]] = first) -> None:
                if first:   # the batch's first evaluation, made above to learn M
                    r, jac = first.pop()
                else:
                    rk, jk = fun(params[None, :].copy(), np.array([row]))
                    r, jac = rk[0], jk[0]
                z[:] = 0.0
                dz[:] = 0.0
                z.real[:] = r[:n]
                z.imag[:m - n] = r[n:]
                dz.real[:] = jac[:n]
                dz.imag[:m - n] = jac[n:]

            fields.append(kernels.solve_single(
                evaluate, zeros, zeros, zeros, ones, ones, np.zeros(p), free, log, x[row],
                lo[row], hi[row], max_nfev or default_max_nfev(p), ftol, xtol, gtol,
                stationary_rtol, lambda0, np.inf if max_step is None else max_step,
                floor[row], target[row]))
    xs, cost, r, jac, status, reason, nfev, n_iter, dec = zip(*fields, strict=True)
    keep = np.r_[0:n, n:n + m - n]   # drop the padding of an odd M
    return SolverResult(
        x=np.array(xs), cost=np.array(cost, dtype=np.float64),
        residuals=np.array(r)[:, keep], jacobian=np.array(jac)[:, keep],
        status=np.array(status, dtype=np.int_), reason=np.array(reason, dtype=np.int_),
        nfev=np.array(nfev, dtype=np.int_), n_iterations=np.array(n_iter, dtype=np.int_),
        newton_decrement=np.array(dec, dtype=np.float64))
