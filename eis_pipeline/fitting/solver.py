"""A batched Levenberg–Marquardt least-squares solver in numpy.

Every row of the batch is an independent problem (one spectrum from one starting point); all
rows advance together, each with its own damping, so a batch of 10,000 fits costs a few dozen
vectorised passes instead of 10,000 Python-level solver runs. Rows that have stopped leave the
active set and cost nothing more.

Method (per row), following Moré's MINPACK formulation with Nielsen's damping update:

- the step solves ``(JᵀJ + λ D²) δ = -Jᵀr`` in Jacobi-scaled form, where ``D²`` is the running
  maximum of ``diag(JᵀJ)`` (invariant to parameter scaling);
- box constraints are handled by projection: parameters on a bound whose gradient points
  outward are frozen for the step, and the trial point is clipped into the box;
- an optional cap ``max_step`` on the step's largest component shortens the step along its
  direction;
- the gain ratio ρ = actual / predicted reduction accepts the step when ρ > 1e-4 and updates
  λ ← λ·max(1/3, 1 - (2ρ - 1)³) (accepted) or λ ← λ·ν, ν ← 2ν (rejected).

Stopping tests (per row): gradient (max cosine between the residual and a Jacobian column
<= ``gtol``), cost (actual and predicted relative reduction <= ``ftol``; and, right after a
step that gained less than ``sqrt(ftol)`` of the cost, the Newton decrement below — the gain
a full Gauss–Newton step still predicts — <= ``ftol`` of the cost, which spares the
evaluation that would only confirm convergence), step (max |δ| <= ``xtol``
in internal units, i.e. a relative change for log parameters), an exact fit, a step that cannot
reduce the cost at machine precision, and the evaluation limit ``max_nfev``. Whatever stopped a
row, the row is then *judged*: it counts as converged only if the Gauss–Newton model predicts
no meaningful further decrease (``0.5 gᵀ(JᵀJ)⁻¹g <= stationary_rtol·cost``). A row that hit
``max_nfev`` reports that, even if it happened to be close.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

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
           "non-finite starting point", "abandoned: another start of the same problem is "
           "far better", "Gauss-Newton step predicts a relative cost reduction below ftol")
(_GTOL, _FTOL, _XTOL, _EXACT, _ROUNDOFF, _MAXFEV, _LAMBDA, _NONFINITE, _PRUNED,
 _NEWTON) = range(1, 11)
_EPS = float(np.finfo(np.float64).eps)


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


def _cost(r: Array) -> Array:
    return 0.5 * np.matmul(r[:, None, :], r[:, :, None])[:, 0, 0]


def _normal(jac: Array, r: Array) -> tuple[Array, Array]:
    """JᵀJ and Jᵀr, batched (matmul: an order of magnitude faster than einsum here)."""
    jt = jac.transpose(0, 2, 1)
    return np.matmul(jt, jac), np.matmul(jt, r[:, :, None])[:, :, 0]


def _mv(a: Array, v: Array) -> Array:
    return np.matmul(a, v[:, :, None])[:, :, 0]


def _dot(u: Array, v: Array) -> Array:
    return np.matmul(u[:, None, :], v[:, :, None])[:, 0, 0]


def _free_mask(x: Array, g: Array, lo: Array, hi: Array) -> NDArray[np.bool_]:
    """Parameters allowed to move: not on a bound with the descent direction pointing out."""
    at_lo = (x <= lo) & (g > 0)
    at_hi = (x >= hi) & (g < 0)
    return ~(at_lo | at_hi)


def _step_into_box(x: Array, delta: Array, lo: Array, hi: Array) -> Array:
    """``x + α δ`` with the largest α <= 1 that stays in the box.

    Clipping each coordinate separately would bend the step and can make it an ascent
    direction of the quadratic model; shortening it keeps the direction (a descent direction
    for every α in (0, 1]). The parameter that limits α lands exactly on its bound and is
    frozen by the active set at the next iteration if the gradient still points outward.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(delta > 0, (hi - x) / delta, np.where(delta < 0, (lo - x) / delta,
                                                              np.inf))
    alpha = np.minimum(1.0, np.min(room, axis=1))
    xt = x + alpha[:, None] * delta
    # land exactly on a bound reached within round-off, so the active set recognises it
    tol = 1e-12 * (1.0 + np.abs(xt))
    xt = np.where(np.abs(xt - hi) <= tol, hi, xt)
    xt = np.where(np.abs(xt - lo) <= tol, lo, xt)
    return np.clip(xt, lo, hi)


def _solve_scaled(a: Array, g: Array, d: Array, lam: Array,
                  free: NDArray[np.bool_]) -> Array:
    """Solve ``(A + λ diag(d²)) δ = -g`` on the free subspace, batched; frozen δ = 0."""
    s = 1.0 / d
    a_s = a * s[:, :, None] * s[:, None, :]
    # Frozen parameters: identity row/column, zero right-hand side.
    mask = free[:, :, None] & free[:, None, :]
    a_s = np.where(mask, a_s, 0.0)
    p = a.shape[-1]
    eye = np.eye(p)
    a_s = a_s + eye * np.where(free, lam[:, None], 1.0)[:, :, None]
    rhs = np.where(free, -g * s, 0.0)
    try:
        y = np.linalg.solve(a_s, rhs[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        y = _mv(np.asarray(np.linalg.pinv(a_s), dtype=np.float64), rhs)
    return y * s


def _decrement(a: Array, g: Array, x: Array, lo: Array, hi: Array,
               radius: float = 1.0) -> Array:
    """Cost decrease the Gauss–Newton model (``a = JᵀJ``, ``g = Jᵀr``) predicts within
    ``|δ_i| <= radius``; batched.

    The box matters for log parameters drifting towards 0 or infinity (a stray inductance
    too small to matter, a resistance shorted by its CPE): there the linear model in log
    coordinates extrapolates a finite gain from an arbitrarily long step, although moving the
    parameter by a factor e changes the model by almost nothing. Components whose full step
    leaves the box are held at ``±radius`` and the others re-solved (one active-set pass).

    That step can be poor where JᵀJ is nearly singular; rows are judged with
    :func:`_cauchy_gain` as well.
    """
    d = np.sqrt(np.maximum(np.diagonal(a, axis1=1, axis2=2), 1e-300))
    free = _free_mask(x, g, lo, hi)
    lam = np.full(len(x), 1e-12)
    delta = _solve_scaled(a, g, d, lam, free)
    out = np.abs(delta) > radius
    if out.any():
        held = np.where(out, np.sign(delta) * radius, 0.0)
        g2 = g + _mv(a, held)
        delta = held + _solve_scaled(a, g2, d, lam, free & ~out)
        delta = np.clip(delta, -radius, radius)
    gain = -(_dot(g, delta) + 0.5 * _dot(delta, _mv(a, delta)))
    return np.asarray(np.maximum(gain, 0.0))


def _cauchy_gain(a: Array, g: Array, d: Array, x: Array, lo: Array, hi: Array,
                 free: NDArray[np.bool_], radius: float) -> Array:
    """Model decrease of the best step along steepest descent, plain (``-g``: internal
    units are alike, a factor e or a whole exponent) or scaled (``-g / d²``), whichever is
    larger; free parameters only, at most ``radius`` per component, inside [lo, hi].

    A lower bound of the best decrease, used with the Newton-type estimate when a row is
    judged: where JᵀJ is nearly singular (a parameter that no longer changes the model) that
    step can be poor and its gain read as 0, while a plain descent direction is still clear.
    (Not used for the early Newton stop: it would only prolong fits that have converged.)
    """
    return np.maximum(_descent_gain(a, g, np.where(free, -g, 0.0), x, lo, hi, radius),
                      _descent_gain(a, g, np.where(free, -g / (d * d), 0.0), x, lo, hi,
                                    radius))


def _descent_gain(a: Array, g: Array, p: Array, x: Array, lo: Array, hi: Array,
                  radius: float) -> Array:
    """Model decrease ``-(t g·p + t² pᵀap / 2)`` at the best admissible ``t`` along ``p``."""
    gp = _dot(g, p)
    pap = _dot(p, _mv(a, p))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        room = np.where(p > 0, (hi - x) / p, np.where(p < 0, (lo - x) / p, np.inf))
        t = np.minimum(np.where(pap > 0, -gp / pap, np.inf),
                       np.minimum(radius / np.abs(p).max(axis=1), room.min(axis=1)))
        gain = -(t * gp + 0.5 * t * t * pap)
    return np.where((gp < 0) & np.isfinite(gain), gain, 0.0)


#: Default stopping and judging tolerances of :func:`least_squares_batch`, which the compiled
#: solver (:mod:`eis_pipeline.fitting.compiled_lm`) takes too.
TOLERANCES = {"ftol": 1e-10, "xtol": 1e-10, "gtol": 1e-10, "stationary_rtol": 1e-6,
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
    groups: NDArray[np.intp] | None = None,
    prune_factor: float = 2.0,
    prune_grace: int = 10,
    cost_floor: Array | None = None,
    max_step: float | None = None,
) -> SolverResult:
    """Minimise ``0.5 * ||r(x)||²`` independently for every row of ``x0``.

    Parameters
    ----------
    fun : callable
        ``fun(x, rows) -> (r, J)`` with ``x`` of shape (k, P) (the rows ``rows`` of the batch),
        returning residuals (k, M) and their Jacobian (k, M, P). Padded points must give zero
        residuals and zero Jacobian rows.
    x0 : ndarray (B, P)
        Starting points (internal coordinates).
    lower, upper : ndarray (P,) or (B, P), optional
        Box constraints; ``-inf``/``inf`` when absent.
    max_nfev : int, optional
        Function evaluations allowed per row (default ``100 * (P + 1)``).
    ftol, xtol, gtol : float
        Stopping tolerances (module docstring).
    stationary_rtol : float
        A stopped row is converged when its Newton decrement is at most this fraction of its
        cost (or at round-off level).
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
    groups : ndarray of int (B,), optional
        Rows with the same group id are alternative starts of one problem (a race). Once a
        start of a group has finished at iteration k, the group's other starts get until
        iteration ``prune_factor * k + prune_grace``; one still running then with a higher
        cost than the finished start is abandoned (reason "abandoned"). A batch otherwise
        pays for its slowest start, usually one crawling towards a worse local minimum.

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
    lo = np.broadcast_to(np.asarray(-np.inf if lower is None else lower, dtype=np.float64),
                         (b, p))
    hi = np.broadcast_to(np.asarray(np.inf if upper is None else upper, dtype=np.float64),
                         (b, p))
    x = np.minimum(np.maximum(x, lo), hi)   # np.clip, without its call overhead
    if max_nfev is None:
        max_nfev = default_max_nfev(p)
    tol = (ftol, xtol, gtol, stationary_rtol, lambda0, np.inf if max_step is None else max_step)
    return _solve_batch(fun, x, lo, hi, max_nfev, tol, cost_floor, groups, prune_factor,
                        prune_grace)


def _solve_batch(fun: ResidualFunction, x: Array, lo: Array, hi: Array, max_nfev: int,
                 tol: tuple[float, float, float, float, float, float], cost_floor: Array | None,
                 groups: NDArray[np.intp] | None, prune_factor: float,
                 prune_grace: int) -> SolverResult:
    """The batched iteration of :func:`least_squares_batch` (arguments validated there)."""
    ftol, xtol, gtol, stationary_rtol, lambda0, max_step = tol
    b, p = x.shape
    rows_all = np.arange(b)

    r, jac = fun(x, rows_all)
    m = r.shape[1]
    cost = _cost(r)
    nfev = np.ones(b, dtype=np.int_)
    n_iter = np.zeros(b, dtype=np.int_)
    status = np.zeros(b, dtype=np.int_)
    reason = np.zeros(b, dtype=np.int_)
    finite = np.isfinite(cost) & np.all(np.isfinite(jac), axis=(1, 2))
    done = ~finite
    status[~finite] = Status.NON_FINITE
    reason[~finite] = _NONFINITE
    lam = np.full(b, lambda0)
    nu = np.full(b, 2.0)
    dmax = np.zeros((b, p))
    near = np.zeros(b, dtype=bool)     # the last accepted step gained < sqrt(ftol) of the cost
    dec = np.full(b, np.nan)           # Newton decrement where already computed
    near_tol = math.sqrt(ftol)
    # Round-off floor of the cost: below this, no decrease is meaningful.
    eps = np.finfo(np.float64).eps
    if cost_floor is None:
        tiny_cost = np.full(b, (m * eps) ** 2)
    else:
        tiny_cost = np.broadcast_to(np.asarray(cost_floor, dtype=np.float64), (b,))

    # Trial points may overflow or divide by zero: such steps are rejected, not errors.
    with np.errstate(all="ignore"):
        iteration = 0
        finish_iter = np.full(b, -1, dtype=np.int64)
        n_groups = 0 if groups is None else int(np.max(groups)) + 1
        while True:
            act = np.flatnonzero(~done)
            if act.size == 0:
                break
            iteration += 1
            if groups is not None:
                # iteration at which each group first had a finished, converging row
                finished = done & (reason != _PRUNED) & (reason != _NONFINITE) & (reason != _MAXFEV)
                newly = finished & (finish_iter < 0)
                finish_iter[newly] = iteration
                first = np.full(n_groups, np.iinfo(np.int64).max)
                np.minimum.at(first, groups[finished], finish_iter[finished])
                best = np.full(n_groups, np.inf)
                np.minimum.at(best, groups[finished], cost[finished])
                late = iteration >= prune_factor * np.minimum(first, 10**9)[groups] + prune_grace
                prune = ~done & late & (cost > best[groups])
                if prune.any():
                    done[prune] = True
                    reason[prune] = _PRUNED
                    act = np.flatnonzero(~done)
                    if act.size == 0:
                        break
            xa, ra, ja, ca = x[act], r[act], jac[act], cost[act]
            lo_a, hi_a = lo[act], hi[act]
            a, g = _normal(ja, ra)
            free = _free_mask(xa, g, lo_a, hi_a)
            diag = np.diagonal(a, axis1=1, axis2=2)
            dmax[act] = np.maximum(dmax[act], diag)
            d = np.sqrt(np.maximum(dmax[act], 1e-300))

            # -- tests at the current point ------------------------------------------------------
            col_norm = np.sqrt(diag)
            r_norm = np.sqrt(2.0 * ca)
            cosine = np.where(free & (col_norm > 0), np.abs(g) / (col_norm * r_norm[:, None]), 0.0)
            stop_g = np.max(cosine, axis=1) <= gtol
            stop_exact = ca <= tiny_cost[act]
            stop_fev = nfev[act] >= max_nfev
            stop_now = stop_g | stop_exact | stop_fev
            if stop_now.any():
                rows = act[stop_now]
                reason[rows] = np.where(stop_exact[stop_now], _EXACT,
                                        np.where(stop_g[stop_now], _GTOL, _MAXFEV))
                done[rows] = True
                keep = ~stop_now
                act, xa, ra, ja, ca = act[keep], xa[keep], ra[keep], ja[keep], ca[keep]
                lo_a, hi_a, a, g, free, d = (lo_a[keep], hi_a[keep], a[keep], g[keep], free[keep],
                                             d[keep])
                if act.size == 0:
                    break
            check = near[act]
            if check.any():
                # close to convergence: stop where a full Gauss–Newton step predicts no
                # meaningful gain, without evaluating that step
                sub = np.flatnonzero(check)
                rows = act[sub]
                dec[rows] = _decrement(a[sub], g[sub], xa[sub], lo_a[sub], hi_a[sub])
                near[rows] = False
                stop_n = np.zeros(act.size, dtype=bool)
                stop_n[sub] = dec[rows] <= ftol * np.maximum(ca[sub], tiny_cost[rows])
                if stop_n.any():
                    reason[act[stop_n]] = _NEWTON
                    done[act[stop_n]] = True
                    keep = ~stop_n
                    act, xa, ra, ja, ca = act[keep], xa[keep], ra[keep], ja[keep], ca[keep]
                    lo_a, hi_a, a, g, free, d = (lo_a[keep], hi_a[keep], a[keep], g[keep],
                                                 free[keep], d[keep])
                    if act.size == 0:
                        break

            # -- trial step ----------------------------------------------------------------------
            delta = _solve_scaled(a, g, d, lam[act], free)
            # A parameter on a bound can be pushed outward by the coupled step even when its
            # own gradient points inward; freeze it too and re-solve (else the step-back
            # below would shorten the whole step to nothing).
            for _ in range(3):
                out = free & (((xa <= lo_a) & (delta < 0)) | ((xa >= hi_a) & (delta > 0)))
                if not out.any():
                    break
                free = free & ~out
                delta = _solve_scaled(a, g, d, lam[act], free)
            longest = np.max(np.abs(delta), axis=1)
            delta *= np.where(longest > max_step, max_step / longest, 1.0)[:, None]
            xt = _step_into_box(xa, delta, lo_a, hi_a)
            delta = xt - xa
            predicted = -(_dot(g, delta) + 0.5 * _dot(delta, _mv(a, delta)))
            rt, jt = fun(xt, act)
            ct = _cost(rt)
            ok = np.isfinite(ct) & np.all(np.isfinite(jt), axis=(1, 2))
            ct = np.where(ok, ct, np.inf)
            nfev[act] += 1
            n_iter[act] += 1
            actual = ca - ct
            rho = np.where(predicted > 0, actual / predicted, -np.inf)
            accept = ok & (rho > 1e-4) & (actual > 0)

            # -- update the accepted rows --------------------------------------------------------
            acc = act[accept]
            x[acc] = xt[accept]
            r[acc] = rt[accept]
            jac[acc] = jt[accept]
            cost[acc] = ct[accept]
            ra_ = rho[accept]
            lam[acc] *= np.maximum(1.0 / 3.0, 1.0 - (2.0 * ra_ - 1.0) ** 3)
            nu[acc] = 2.0
            rej = act[~accept]
            lam[rej] *= nu[rej]
            nu[rej] *= 2.0
            dec[acc] = np.nan

            # -- tests after the step ------------------------------------------------------------
            rel_scale = np.maximum(ca, tiny_cost[act])
            stop_f = accept & (actual <= ftol * rel_scale) & (predicted <= ftol * rel_scale)
            stop_x = accept & (np.max(np.abs(delta), axis=1) <= xtol)
            # A rejected step whose predicted gain is already at round-off level: nothing left.
            stop_round = ~accept & (predicted >= 0) & (predicted <= 4 * eps * rel_scale)
            stop_lam = lam[act] > 1e16
            stop = stop_f | stop_x | stop_round | stop_lam
            near[act] = accept & ~stop & (actual <= near_tol * rel_scale)
            if stop.any():
                reason[act[stop]] = np.select(
                    [stop_f[stop], stop_x[stop], stop_round[stop]],
                    [_FTOL, _XTOL, _ROUNDOFF], _LAMBDA)
                done[act[stop]] = True

    # -- judge every row honestly ------------------------------------------------------------
    judged = (status != Status.NON_FINITE) & (reason != _PRUNED)
    rows = np.flatnonzero(judged)
    if rows.size:
        # the Newton-type decrease where the iteration did not leave one, and the descent
        # steps' decrease everywhere, from one set of normal equations
        a, g = _normal(jac[rows], r[rows])
        xj, loj, hij = x[rows], lo[rows], hi[rows]
        fresh = np.isnan(dec[rows])
        if fresh.any():
            dec[rows[fresh]] = _decrement(a[fresh], g[fresh], xj[fresh], loj[fresh],
                                          hij[fresh])
        d = np.sqrt(np.maximum(np.diagonal(a, axis1=1, axis2=2), 1e-300))
        dec[rows] = np.maximum(dec[rows], _cauchy_gain(a, g, d, xj, loj, hij,
                                                        _free_mask(xj, g, loj, hij), 1.0))
    stationary = dec <= stationary_rtol * cost + tiny_cost
    status[reason == _PRUNED] = Status.NOT_STATIONARY
    status[judged & (reason == _MAXFEV)] = Status.MAX_NFEV
    status[judged & (reason != _MAXFEV) & ~stationary] = Status.NOT_STATIONARY
    return SolverResult(x=x, cost=cost, residuals=r, jacobian=jac, status=status,
                        reason=reason, nfev=nfev, n_iterations=n_iter, newton_decrement=dec)
