"""The Levenberg-Marquardt iteration, once: compiled by numba, or its pure-Python twin.

The method is described in :mod:`eis_pipeline.fitting.solver`. The residual function is the
circuit's generated ``evaluate(p, omega, z, dz)`` kernel
(:mod:`eis_pipeline.circuits.codegen`), passed in as a first-class function, so this code is
compiled once for every circuit; :func:`eis_pipeline.fitting.solver.least_squares_batch`
runs the pure twin (:func:`eis_pipeline._jit.pure`) with a Python residual function.
"""

from __future__ import annotations

import math

import numpy as np

from eis_pipeline._jit import kernel
from eis_pipeline.fitting.solver import (  # reasons and statuses (compile-time constants)
    _ABANDONED,
    _EXACT,
    _FTOL,
    _GTOL,
    _LAMBDA,
    _MAXFEV,
    _NEWTON,
    _NONFINITE,
    _ROUNDOFF,
    _XTOL,
    Status,
)

_EPS = float(np.finfo(np.float64).eps)
_CONVERGED = Status.CONVERGED
_MAX_NFEV = Status.MAX_NFEV
_NOT_STATIONARY = Status.NOT_STATIONARY
_NON_FINITE = Status.NON_FINITE
#: Evaluations over which a row's pace is measured against the cost it must beat.
GIVE_UP_WINDOW = 50


@kernel
def _natural(u, p_fixed, free, log, p, dpdu):  # pragma: no cover - compiled
    """Natural parameters p (P,) and dp/du (Pf,) at internal coordinates u (Pf,)."""
    for i in range(free.size):
        if log[i]:
            e = math.exp(u[i])
            p[free[i]] = e
            dpdu[i] = e
        else:
            p[free[i]] = u[i]
            dpdu[i] = 1.0


@kernel
def _weigh(z, dz, dre, dim, iwr, iwi, free, dpdu, r, jac):  # pragma: no cover - compiled
    """Weighted residuals r (2N,): real parts then imaginary parts, and their Jacobian
    (2N, Pf) with respect to the internal coordinates, from Z (N,) and dZ/dp (N, P)."""
    n = z.size
    for k in range(n):
        zk = z[k]
        a = iwr[k]
        b = iwi[k]
        r[k] = (zk.real - dre[k]) * a
        r[n + k] = (zk.imag - dim[k]) * b
        for i in range(free.size):
            d = dz[k, free[i]]
            jac[k, i] = d.real * (a * dpdu[i])
            jac[n + k, i] = d.imag * (b * dpdu[i])


@kernel
def _residuals(evaluate, omega, dre, dim, iwr, iwi, p, dpdu, free, log, u, z, dz, r,
               jac):  # pragma: no cover - compiled
    """r and jac at u: the circuit's generated ``evaluate(p, omega, z, dz)``, then weights.
    ``p`` holds the fixed parameters' values on entry."""
    _natural(u, p, free, log, p, dpdu)
    evaluate(p, omega, z, dz)
    _weigh(z, dz, dre, dim, iwr, iwi, free, dpdu, r, jac)


@kernel
def _lu_solve(a, b):  # pragma: no cover - compiled
    """Gaussian elimination with partial pivoting (LAPACK gesv's algorithm, unblocked);
    the pseudo-inverse when a pivot is exactly zero (gesv's info > 0)."""
    n = b.size
    m = a.copy()
    y = b.copy()
    for c in range(n):
        piv = c
        best = abs(m[c, c])
        for i in range(c + 1, n):
            if abs(m[i, c]) > best:
                best = abs(m[i, c])
                piv = i
        if best == 0.0:
            return np.linalg.pinv(a) @ b
        if piv != c:
            for j in range(n):
                t = m[c, j]
                m[c, j] = m[piv, j]
                m[piv, j] = t
            t = y[c]
            y[c] = y[piv]
            y[piv] = t
        inv = 1.0 / m[c, c]
        for i in range(c + 1, n):
            f = m[i, c] * inv
            if f != 0.0:
                for j in range(c + 1, n):
                    m[i, j] -= f * m[c, j]
                y[i] -= f * y[c]
    for i in range(n - 1, -1, -1):
        s = y[i]
        for j in range(i + 1, n):
            s -= m[i, j] * y[j]
        y[i] = s / m[i, i]
    return y


@kernel
def _solve_scaled(a, g, d, lam, free, all_free):  # pragma: no cover - compiled
    """Solve ``(A + λ diag(d²)) δ = -g`` in Jacobi-scaled form on the free subspace (frozen
    parameters: identity row and column, δ = 0)."""
    p = g.size
    s = 1.0 / d
    a_s = np.empty((p, p))
    rhs = np.empty(p)
    for i in range(p):
        for j in range(p):
            v = (a[i, j] * s[j]) * s[i]
            if not all_free and not (free[i] and free[j]):
                v = 0.0
            a_s[i, j] = v
        if all_free or free[i]:
            a_s[i, i] += lam
            rhs[i] = -g[i] * s[i]
        else:
            a_s[i, i] += 1.0
            rhs[i] = 0.0
    return _lu_solve(a_s, rhs) * s


@kernel
def _descent_gain(a, g, p, x, lo, hi, radius):  # pragma: no cover - compiled
    """Model decrease ``-(t g·p + t² pᵀap / 2)`` at the best admissible ``t`` along ``p``
    (at most ``radius`` per component, inside [lo, hi])."""
    gp = g @ p
    if not gp < 0:
        return 0.0
    pap = p @ (a @ p)
    t = min(-gp / pap if pap > 0 else np.inf, radius / np.abs(p).max())
    for i in range(p.size):
        if p[i] > 0:
            t = min(t, (hi[i] - x[i]) / p[i])
        elif p[i] < 0:
            t = min(t, (lo[i] - x[i]) / p[i])
    gain = -(t * gp + 0.5 * t * t * pap)
    return gain if math.isfinite(gain) else 0.0


@kernel
def _decrement(a, g, x, lo, hi, radius, free, all_free):  # pragma: no cover - compiled
    """Cost decrease the Gauss-Newton model (``a = JᵀJ``, ``g = Jᵀr``) predicts within
    ``|δ_i| <= radius``.

    The box matters for log parameters drifting towards 0 or infinity (a stray inductance too
    small to matter, a resistance shorted by its CPE): there the linear model extrapolates a
    finite gain from an arbitrarily long step although moving the parameter by a factor e
    changes the model by almost nothing. Components whose full step leaves the box are held
    at ``±radius`` and the others re-solved (one active-set pass). Also returns the largest
    component of the full step (before the box): below ``xtol`` the model's stationary point
    lies within xtol of ``x``.
    """
    d = np.sqrt(np.maximum(np.diag(a).copy(), 1e-300))
    delta = _solve_scaled(a, g, d, 1e-12, free, all_free)
    step = np.abs(delta).max() if delta.size else 0.0
    out = np.abs(delta) > radius
    if out.any():
        held = np.where(out, np.sign(delta) * radius, 0.0)
        delta = held + _solve_scaled(a, g + a @ held, d, 1e-12, free & ~out, False)
        delta = np.minimum(np.maximum(delta, -radius), radius)
    gain = -(g @ delta + 0.5 * (delta @ (a @ delta)))
    return max(gain, 0.0), step


#: The exponent bits of a float64: all set in inf and NaN only.
_EXPONENT = np.uint64(0x7FF0000000000000)


@kernel
def _all_finite(a):  # pragma: no cover - compiled
    """``np.isfinite(a).all()`` for a C-contiguous array from its bits: no entry has every
    exponent bit set. An integer reduction, which the compiler vectorises (the float test and
    its boolean temporary took 1/12 of an iteration at 70 points)."""
    return (a.view(np.uint64) & _EXPONENT).max() < _EXPONENT


@kernel
def _gain_left(a, jac, r, x, lo, hi):  # pragma: no cover - compiled
    """The cost decrease still predicted at ``x``: the Gauss-Newton model's within a unit
    box (:func:`_decrement`), or the best steepest-descent step's, plain (-g: internal
    units are alike, a factor e or a whole exponent) and scaled (-g/d²), whichever is
    larger; where JᵀJ is nearly singular the Newton-type step can be poor and read a clear
    descent as 0. Parameters on a bound with the gradient pointing out are held. Also the
    largest component of the Gauss-Newton step (:func:`_decrement`). ``a`` is ``jac.T @
    jac``, which the iteration has at hand."""
    g = jac.T @ r
    fr = ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
    dec, step = _decrement(a, g, x, lo, hi, 1.0, fr, fr.all())
    d = np.sqrt(np.maximum(np.diag(a).copy(), 1e-300))
    return max(dec, _descent_gain(a, g, np.where(fr, -g, 0.0), x, lo, hi, 1.0),
               _descent_gain(a, g, np.where(fr, -g / (d * d), 0.0), x, lo, hi, 1.0)), step


@kernel
def _step_into_box(x, delta, lo, hi):  # pragma: no cover - compiled
    """``x + α δ`` with the largest α <= 1 that stays in the box, and whether x + δ was
    strictly inside. Shortening keeps the direction (a descent direction of the quadratic
    model for every α in (0, 1]), where clipping each coordinate could bend it into an
    ascent; a bound reached within round-off is landed on exactly, so the active set sees it.
    """
    xt = x + delta
    if np.minimum(hi - xt, xt - lo).min() > 1e-12 * (1.0 + np.abs(xt).max()):
        return xt, True
    if not ((xt >= lo) & (xt <= hi)).all():
        room = np.inf
        for i in range(x.size):
            if delta[i] > 0:
                room = min(room, (hi[i] - x[i]) / delta[i])
            elif delta[i] < 0:
                room = min(room, (lo[i] - x[i]) / delta[i])
        xt = x + min(1.0, room) * delta
    tol = 1e-12 * (1.0 + np.abs(xt))
    xt = np.where(np.abs(xt - hi) <= tol, hi, xt)
    xt = np.where(np.abs(xt - lo) <= tol, lo, xt)
    return np.minimum(np.maximum(xt, lo), hi), False


@kernel
def solve_single(evaluate, omega, dre, dim, iwr, iwi, p_fixed, free_idx, log, x, lo, hi,
                 max_nfev, ftol, xtol, gtol, stationary_rtol, lambda0, max_step,
                 cost_floor, beat):  # pragma: no cover - compiled
    """Levenberg-Marquardt for one row (the method: :mod:`eis_pipeline.fitting.solver`);
    ``evaluate`` is the circuit's generated Z + Jacobian kernel; cost_floor NaN = none;
    ``beat``: a cost another start reached (inf = none): the row is abandoned where, above
    it, its decrease over the last :data:`GIVE_UP_WINDOW` evaluations kept up for those it
    has left would not bring it below (an alternative start crawling along a valley 2x
    above the first start's optimum used to take all 900 evaluations)."""
    p = x.size
    n_omega = omega.size
    m = 2 * n_omega
    r = np.empty(m)
    jac = np.empty((m, p))
    pn = p_fixed.copy()
    dpdu = np.ones(p)
    zb = np.empty(n_omega, dtype=np.complex128)
    dzb = np.empty((n_omega, p_fixed.size), dtype=np.complex128)
    _residuals(evaluate, omega, dre, dim, iwr, iwi, pn, dpdu, free_idx, log, x, zb, dzb, r,
               jac)
    rt = np.empty(m)
    jt = np.empty((m, p))
    cost = 0.5 * float(r @ r)
    nfev, n_iter = 1, 0
    status, reason = _CONVERGED, 0
    eps = _EPS
    tiny = (m * eps) ** 2 if math.isnan(cost_floor) else cost_floor
    finite = math.isfinite(cost) and _all_finite(jac)
    if not finite:
        status, reason = _NON_FINITE, _NONFINITE
    lam, nu = lambda0, 2.0
    dmax = np.zeros(p)
    all_true = np.ones(p, dtype=np.bool_)
    near = False
    near_tol = math.sqrt(ftol)
    dec = math.nan
    inside = False
    fresh = True
    a = np.zeros((p, p))
    a_now = False   # a = jac.T @ jac at the current jac (computed once per accepted point)
    g = np.zeros(p)
    d = np.ones(p)
    at_lo = np.zeros(p, dtype=np.bool_)
    at_hi = np.zeros(p, dtype=np.bool_)
    free0 = all_true
    any_bound = False
    all_free0 = True
    n_mark, c_mark = nfev, cost
    while finite:
        if fresh:
            if not a_now:
                a = jac.T @ jac
                a_now = True
            g = r @ jac
            if inside:
                any_bound = False
            else:
                at_lo = x <= lo
                at_hi = x >= hi
                any_bound = at_lo.any() or at_hi.any()
            free0 = ~((at_lo & (g > 0)) | (at_hi & (g < 0))) if any_bound else all_true
            diag = np.diag(a).copy()
            dmax = np.maximum(dmax, diag)
            d = np.sqrt(np.maximum(dmax, 1e-300))
            small_g = np.abs(g) <= (gtol * math.sqrt(2.0 * cost)) * np.sqrt(diag)
            stop_g = (small_g | ~free0).all() if any_bound else small_g.all()
            stop_exact = cost <= tiny
            if stop_g or stop_exact:
                reason = _EXACT if stop_exact else _GTOL
                break
            all_free0 = bool((not any_bound) or free0.all())
        if nfev >= max_nfev:
            reason = _MAXFEV
            break
        if nfev >= n_mark + GIVE_UP_WINDOW:
            if cost > beat and (cost - (c_mark - cost) * (max_nfev - nfev) / (nfev - n_mark)
                                > beat):
                reason = _ABANDONED
                break
            n_mark, c_mark = nfev, cost
        if near:
            near = False
            dec = _decrement(a, g, x, lo, hi, 1.0, free0, all_free0)[0]
            if dec <= ftol * max(cost, tiny):
                # the steepest-descent steps of the final judgement too: on a nearly
                # singular JᵀJ the Newton-type step can miss a clear descent
                dec = _gain_left(a, jac, r, x, lo, hi)[0]
                if dec <= stationary_rtol * cost + tiny:
                    reason = _NEWTON
                    break
        free, all_free = free0, all_free0
        delta = _solve_scaled(a, g, d, lam, free, all_free)
        if any_bound:
            for _ in range(3):
                out = free & ((at_lo & (delta < 0)) | (at_hi & (delta > 0)))
                if not out.any():
                    break
                free = free & ~out
                delta = _solve_scaled(a, g, d, lam, free, False)
        longest = np.abs(delta).max()
        if longest > max_step:
            delta = delta * (max_step / longest)
        xt, xt_inside = _step_into_box(x, delta, lo, hi)
        delta = xt - x
        predicted = -(g @ delta + 0.5 * (delta @ (a @ delta)))
        _residuals(evaluate, omega, dre, dim, iwr, iwi, pn, dpdu, free_idx, log, xt, zb, dzb,
                   rt, jt)
        ct = 0.5 * float(rt @ rt)
        ok = bool(math.isfinite(ct) and _all_finite(jt))
        if not ok:
            ct = np.inf
        nfev += 1
        n_iter += 1
        actual = cost - ct
        rho = actual / predicted if predicted > 0 else -np.inf
        accept = bool(ok and rho > 1e-4 and actual > 0)
        rel_scale = max(cost, tiny)
        fresh = accept
        if accept:
            dec = math.nan
            x = xt
            r, rt = rt, r
            jac, jt = jt, jac
            cost, inside = ct, xt_inside
            a_now = False
            lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
            nu = 2.0
        else:
            lam *= nu
            nu *= 2.0
        if accept and actual <= ftol * rel_scale and predicted <= ftol * rel_scale:
            # small steps under heavy damping also gain little: stop only where the
            # Gauss-Newton model agrees that little is left (the final judgement's test)
            a = jac.T @ jac
            a_now = True
            if _gain_left(a, jac, r, x, lo, hi)[0] > stationary_rtol * cost + tiny:
                continue
            reason = _FTOL
        elif accept and np.abs(delta).max() <= xtol:
            reason = _XTOL
        elif (not accept) and 0 <= predicted <= 4 * eps * rel_scale:
            reason = _ROUNDOFF
        elif lam > 1e16:
            reason = _LAMBDA
        else:
            near = bool(accept and actual <= near_tol * rel_scale)
            continue
        break
    if finite:
        # converged where no meaningful decrease is left, or, stopped by the step or round-off
        # tests, where the Gauss-Newton optimum lies within xtol: what the model still
        # predicts there is the data's own rounding (seen: noise-free spectra written with
        # 11 digits, cost 2.5e-21, 3 % of it predicted by steps of 1e-11)
        if not a_now:
            a = jac.T @ jac
        dec, step = _gain_left(a, jac, r, x, lo, hi)
        if reason in (_MAXFEV, _ABANDONED):
            status = _MAX_NFEV
        elif not (dec <= stationary_rtol * cost + tiny
                  or (reason in (_XTOL, _ROUNDOFF) and step <= xtol)):
            status = _NOT_STATIONARY
    return x, cost, r, jac, status, reason, nfev, n_iter, dec


@kernel
def solve_rows(evaluate, omega, grid_of, n_valid, dre, dim, iwr, iwi, spec, p_fixed, free_idx,
               log, x0, lo, hi, max_nfev, ftol, xtol, gtol, stationary_rtol, lambda0,
               max_step, cost_floor, beat, out_x, out_cost, out_r, out_jac, out_int,
               out_dec):  # pragma: no cover - compiled
    """:func:`solve_single` for every row of x0 (R, Pf) against spectrum ``i = spec[row]``:
    its first ``n_valid[i]`` points of the (S, N) data, on grid ``omega[grid_of[i]]``.
    Results into the ``out_*`` arrays in the padded layout of the numpy solver (residuals:
    real parts at 0.., imaginary parts at N..; zeros for padding); ``out_int`` columns:
    status, reason, nfev, n_iterations. The loop over rows is compiled too."""
    n_max = dre.shape[1]
    for row in range(x0.shape[0]):
        i = spec[row]
        n = n_valid[i]
        x, cost, r, jac, status, reason, nfev, n_iter, dec = solve_single(
            evaluate, omega[grid_of[i], :n], dre[i, :n], dim[i, :n],
            iwr[i, :n], iwi[i, :n], p_fixed, free_idx, log, x0[row].copy(), lo[row], hi[row],
            max_nfev, ftol, xtol, gtol, stationary_rtol, lambda0, max_step, cost_floor[row],
            beat[row])
        out_x[row] = x
        out_cost[row] = cost
        if n == n_max:
            out_r[row] = r
            out_jac[row] = jac
        else:
            out_r[row] = 0.0
            out_jac[row] = 0.0
            out_r[row, :n] = r[:n]
            out_r[row, n_max:n_max + n] = r[n:]
            out_jac[row, :n] = jac[:n]
            out_jac[row, n_max:n_max + n] = jac[n:]
        out_int[row, 0] = status
        out_int[row, 1] = reason
        out_int[row, 2] = nfev
        out_int[row, 3] = n_iter
        out_dec[row] = dec


@kernel
def start_costs(evaluate, omega, grid_of, n_valid, dre, dim, iwr, iwi, spec, p_fixed,
                free_idx, log, x0, out_cost):  # pragma: no cover - compiled
    """The cost ``0.5 |r|²`` of every row of x0 (R, Pf) against spectrum ``spec[row]`` (the
    layout of :func:`solve_rows`), inf where it is not finite: one evaluation per start,
    to solve the most promising start first."""
    pf = x0.shape[1]
    for row in range(x0.shape[0]):
        i = spec[row]
        n = n_valid[i]
        r = np.empty(2 * n)
        jac = np.empty((2 * n, pf))
        _residuals(evaluate, omega[grid_of[i], :n], dre[i, :n], dim[i, :n], iwr[i, :n],
                   iwi[i, :n], p_fixed.copy(), np.ones(pf), free_idx, log, x0[row],
                   np.empty(n, dtype=np.complex128),
                   np.empty((n, p_fixed.size), dtype=np.complex128), r, jac)
        cost = 0.5 * float(r @ r)
        out_cost[row] = cost if math.isfinite(cost) else math.inf
