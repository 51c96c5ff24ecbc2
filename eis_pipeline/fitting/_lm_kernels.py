"""numba kernels of :mod:`eis_pipeline.fitting.compiled_lm` (imported only when numba is).

:func:`solve_single` is one row of :func:`eis_pipeline.fitting.solver._solve_batch`, step by
step; change both together (tests/fitting/test_compiled_lm.py checks they agree).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_EPS = float(np.finfo(np.float64).eps)
# reasons, as in solver.py
_GTOL, _FTOL, _XTOL, _EXACT, _ROUNDOFF, _MAXFEV, _LAMBDA, _NONFINITE = 1, 2, 3, 4, 5, 6, 7, 8
_NEWTON = 10
_CONVERGED, _MAX_NFEV, _NOT_STATIONARY, _NON_FINITE = 0, 1, 2, 3


@nb.njit(cache=True)
def evaluate(ops, children, n_slots, root, omega, dre, dim, iwr, iwi, p_fixed, free, log, u,
             r, jac):  # pragma: no cover - compiled
    """Weighted residuals r (2N,) and Jacobian jac (2N, Pf) at internal coordinates u."""
    n_par = p_fixed.size
    pf = free.size
    p = p_fixed.copy()
    dpdu = np.ones(pf)
    for i in range(pf):
        if log[i]:
            e = math.exp(u[i])
            p[free[i]] = e
            dpdu[i] = e
        else:
            p[free[i]] = u[i]
    val = np.empty(n_slots, dtype=np.complex128)
    grad = np.zeros((n_slots, n_par), dtype=np.complex128)
    n = omega.size
    for k in range(n):
        w = omega[k]
        jw = 1j * w
        lj = complex(math.log(w), 0.5 * math.pi)   # log(jω)
        for o in range(ops.shape[0]):
            code, slot, s = ops[o, 0], ops[o, 1], ops[o, 2]
            if code <= 1:
                first, m, p0, p1 = ops[o, 3], ops[o, 4], ops[o, 5], ops[o, 6]
                for q in range(p0, p1):
                    grad[slot, q] = 0.0
                if code == 0:   # series
                    z = 0j
                    for c in range(first, first + m):
                        ch = children[c]
                        z += val[ch]
                        for q in range(ops[ch, 5], ops[ch, 6]):
                            grad[slot, q] += grad[ch, q]
                else:           # parallel
                    y = 0j
                    for c in range(first, first + m):
                        y += 1.0 / val[children[c]]
                    z = 1.0 / y
                    for c in range(first, first + m):
                        ch = children[c]
                        zc = val[ch]
                        fc = (z * z) / (zc * zc)
                        for q in range(ops[ch, 5], ops[ch, 6]):
                            grad[slot, q] += grad[ch, q] * fc
                val[slot] = z
            elif code == 2:     # R
                val[slot] = p[s]
                grad[slot, s] = 1.0
            elif code == 3:     # C: 1 / (jωC)
                z = 1.0 / (jw * p[s])
                val[slot] = z
                grad[slot, s] = -z / p[s]
            elif code == 4:     # L: jωL
                val[slot] = jw * p[s]
                grad[slot, s] = jw
            elif code == 5:     # CPE: (jω)^-n / Q
                z = np.exp(-p[s + 1] * lj) / p[s]
                val[slot] = z
                grad[slot, s] = -z / p[s]
                grad[slot, s + 1] = -z * lj
            elif code == 6:     # W: A (1 - j) / √ω
                b = (1.0 - 1j) / math.sqrt(w)
                val[slot] = p[s] * b
                grad[slot, s] = b
            elif code == 7:     # La: (L jω)^α
                ll = lj + math.log(p[s])
                z = np.exp(p[s + 1] * ll)
                val[slot] = z
                grad[slot, s] = z * p[s + 1] / p[s]
                grad[slot, s + 1] = z * ll
            elif code == 8:     # K: R / (1 + jωτ)
                inv = 1.0 / (1.0 + jw * p[s + 1])
                val[slot] = p[s] * inv
                grad[slot, s] = inv
                grad[slot, s + 1] = -p[s] * jw * inv * inv
            else:               # Zarc: R / (1 + (jωτ)^γ)
                lt = lj + math.log(p[s + 1])
                qz = np.exp(p[s + 2] * lt)
                inv = 1.0 / (1.0 + qz)
                z = p[s] * inv
                val[slot] = z
                grad[slot, s] = inv
                grad[slot, s + 1] = -z * inv * qz * p[s + 2] / p[s + 1]
                grad[slot, s + 2] = -z * inv * qz * lt
        z = val[root]
        r[k] = (z.real - dre[k]) * iwr[k]
        r[n + k] = (z.imag - dim[k]) * iwi[k]
        for i in range(pf):
            d = grad[root, free[i]]
            jac[k, i] = d.real * (iwr[k] * dpdu[i])
            jac[n + k, i] = d.imag * (iwi[k] * dpdu[i])


@nb.njit(cache=True)
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


@nb.njit(cache=True)
def _solve_scaled(a, g, d, lam, free, all_free):  # pragma: no cover - compiled
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


@nb.njit(cache=True)
def _descent_gain(a, g, p, x, lo, hi, radius):  # pragma: no cover - compiled
    """solver._descent_gain_1."""
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


@nb.njit(cache=True)
def _decrement(a, g, x, lo, hi, radius, free, all_free):  # pragma: no cover - compiled
    d = np.sqrt(np.maximum(np.diag(a).copy(), 1e-300))
    delta = _solve_scaled(a, g, d, 1e-12, free, all_free)
    out = np.abs(delta) > radius
    if out.any():
        held = np.where(out, np.sign(delta) * radius, 0.0)
        delta = held + _solve_scaled(a, g + a @ held, d, 1e-12, free & ~out, False)
        delta = np.minimum(np.maximum(delta, -radius), radius)
    gain = -(g @ delta + 0.5 * (delta @ (a @ delta)))
    return max(gain, 0.0)


@nb.njit(cache=True)
def _step_into_box(x, delta, lo, hi):  # pragma: no cover - compiled
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


@nb.njit(cache=True)
def solve_single(ops, children, n_slots, root, omega, dre, dim, iwr, iwi, p_fixed, free_idx, log,
                 x, lo, hi, max_nfev, ftol, xtol, gtol, stationary_rtol, lambda0, max_step,
                 cost_floor):  # pragma: no cover - compiled
    """One row of solver._solve_batch with the residual function compiled in; cost_floor NaN =
    none."""
    p = x.size
    m = 2 * omega.size
    r = np.empty(m)
    jac = np.empty((m, p))
    evaluate(ops, children, n_slots, root, omega, dre, dim, iwr, iwi, p_fixed, free_idx, log,
             x, r, jac)
    rt = np.empty(m)
    jt = np.empty((m, p))
    cost = 0.5 * float(r @ r)
    nfev, n_iter = 1, 0
    status, reason = _CONVERGED, 0
    eps = _EPS
    tiny = (m * eps) ** 2 if math.isnan(cost_floor) else cost_floor
    finite = math.isfinite(cost) and np.isfinite(jac).all()
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
    g = np.zeros(p)
    d = np.ones(p)
    at_lo = np.zeros(p, dtype=np.bool_)
    at_hi = np.zeros(p, dtype=np.bool_)
    free0 = all_true
    any_bound = False
    all_free0 = True
    while finite:
        if fresh:
            a = jac.T @ jac
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
        if near:
            near = False
            dec = _decrement(a, g, x, lo, hi, 1.0, free0, all_free0)
            if dec <= ftol * max(cost, tiny):
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
        evaluate(ops, children, n_slots, root, omega, dre, dim, iwr, iwi, p_fixed, free_idx,
                 log, xt, rt, jt)
        ct = 0.5 * float(rt @ rt)
        ok = bool(math.isfinite(ct) and np.isfinite(jt).all())
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
            lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
            nu = 2.0
        else:
            lam *= nu
            nu *= 2.0
        if accept and actual <= ftol * rel_scale and predicted <= ftol * rel_scale:
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
        a = jac.T @ jac
        g = jac.T @ r
        fr = ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
        if math.isnan(dec):
            dec = _decrement(a, g, x, lo, hi, 1.0, fr, fr.all())
        # solver._cauchy_gain: steepest-descent steps bound the best decrease below
        d = np.sqrt(np.maximum(np.diag(a).copy(), 1e-300))
        dec = max(dec, _descent_gain(a, g, np.where(fr, -g, 0.0), x, lo, hi, 1.0),
                  _descent_gain(a, g, np.where(fr, -g / (d * d), 0.0), x, lo, hi, 1.0))
        if reason == _MAXFEV:
            status = _MAX_NFEV
        elif not dec <= stationary_rtol * cost + tiny:
            status = _NOT_STATIONARY
    return x, cost, r, jac, status, reason, nfev, n_iter, dec


@nb.njit(cache=True)
def solve_rows(ops, children, n_slots, root, omega, grid_of, n_valid, dre, dim, iwr, iwi, spec,
               p_fixed, free_idx, log, x0, lo, hi, max_nfev, ftol, xtol, gtol, stationary_rtol,
               lambda0, max_step, cost_floor, out_x, out_cost, out_r, out_jac, out_int,
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
            ops, children, n_slots, root, omega[grid_of[i], :n], dre[i, :n], dim[i, :n],
            iwr[i, :n], iwi[i, :n], p_fixed, free_idx, log, x0[row].copy(), lo[row], hi[row],
            max_nfev, ftol, xtol, gtol, stationary_rtol, lambda0, max_step, cost_floor[row])
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
