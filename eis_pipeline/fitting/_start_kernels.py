"""Starting points from a spectrum's features, once: compiled by numba, or the same code pure.

:func:`role_starts` reads the features of each spectrum (PHYSICS.md sections 1-3; the method
is described in :mod:`eis_pipeline.fitting.initial`) with scalars and loops, one spectrum
after another: a handful of numpy calls per spectrum would cost more than the arithmetic.
:func:`eis_pipeline.fitting.initial.initial_guesses` runs it compiled, or as its pure-Python
twin (:func:`eis_pipeline._jit.pure`) when numba is off; there is no second copy.
"""

from __future__ import annotations

import math

import numpy as np

from eis_pipeline._jit import kernel

#: Alternative starting points per spectrum (the lists below hold this many; it is
#: initial.N_STARTS, tested there).
N_STARTS = 4
#: Points at the top of the spectrum fitted by :func:`high_frequency`.
N_TOP = 6


@kernel
def high_frequency(omega, zr, zi, with_l, exponents):  # pragma: no cover - compiled
    """Fit ``R_s + jωL + A (jω)^-n`` to the top :data:`N_TOP` points for each n of
    ``exponents``: linear in (R_s, L, A) for fixed n, solved by modulus-weighted normal
    equations; the n with the smallest misfit wins (the first on a tie).

    Returns (R_s, L, Q = 1/A, n): Q NaN when A <= 0; Q and n 0 when no exponent gives a
    finite misfit."""
    t = min(N_TOP, omega.size)
    c = 3 if with_l else 2
    best_misfit = np.inf
    best = np.zeros(c)
    best_k = -1
    x = np.zeros((2 * t, c))
    rw = np.empty(2 * t)
    for i in range(t):
        wt = 1.0 / math.hypot(zr[i], zi[i])
        rw[i] = zr[i] * wt
        rw[t + i] = zi[i] * wt
    for k in range(exponents.size):
        n = exponents[k]
        cn, sn = math.cos(n * math.pi / 2), math.sin(n * math.pi / 2)
        for i in range(t):
            wt = 1.0 / math.hypot(zr[i], zi[i])
            wn = omega[i] ** -n
            x[i, 0] = wt
            x[t + i, 0] = 0.0
            if with_l:
                x[i, 1] = 0.0
                x[t + i, 1] = omega[i] * wt
            x[i, c - 1] = cn * wn * wt
            x[t + i, c - 1] = -sn * wn * wt
        a = x.T @ x
        for j in range(c):   # a ridge against singularity, relative: the columns' scales
            a[j, j] += 1e-12 * a[j, j] + 1e-300   # differ by many decades (ω^-n vs 1)
        coef = np.linalg.solve(a, x.T @ rw)
        d = x @ coef - rw
        misfit = np.sum(d * d)
        if math.isfinite(misfit) and misfit < best_misfit:
            best_misfit, best_k = misfit, k
            best[:] = coef
    a_hat = best[c - 1]
    if best_k < 0:
        q, n_best = 0.0, 0.0
    else:
        q = 1.0 / a_hat if a_hat > 0 else math.nan
        n_best = exponents[best_k]
    l_hat = best[1] if with_l else 0.0
    r_s = max(best[0], 1e-3 * math.hypot(zr[0], zi[0]))
    return r_s, max(l_hat, 0.0), q, n_best


@kernel
def peaks(y):  # pragma: no cover - compiled
    """Arc apices and the trough before the electrode spike of ``y = -Z''`` (decreasing
    frequency): (i1, i2, has2, trough).

    ``i1`` is the highest interior local maximum of the 3-point smoothed ``y`` above the
    trough, ``i2`` the highest other one at least three points away and 5 % as high
    (``has2`` says if there is one), the trough the minimum of the smoothed ``y`` on the
    low-frequency side of the lowest-frequency apex (the last point when no spike rises)."""
    m = y.size
    ys = y.copy()
    for i in range(1, m - 1):
        ys[i] = (y[i - 1] + y[i] + y[i + 1]) / 3.0   # smoothing against noise
    peak = np.zeros(m, dtype=np.bool_)
    p_lo = 0
    for i in range(1, m - 1):
        peak[i] = ys[i] > ys[i - 1] and ys[i] >= ys[i + 1] and y[i] > 0
        if peak[i]:
            p_lo = i
    trough = p_lo
    for i in range(p_lo, m):
        if ys[i] < ys[trough]:
            trough = i
    has_peak = False
    for i in range(m):
        if peak[i] and i >= trough:
            peak[i] = False
        has_peak = has_peak or peak[i]
    i1 = -1
    if has_peak:
        for i in range(m):
            if peak[i] and (i1 < 0 or ys[i] > ys[i1]):
                i1 = i
    else:
        for i in range(max(trough, 1)):
            if i1 < 0 or y[i] > y[i1]:
                i1 = i
        i1 = max(i1, 0)
    h1 = ys[i1]
    i2 = -1
    for i in range(m):
        if peak[i] and abs(i - i1) >= 3 and ys[i] >= 0.05 * h1 and (i2 < 0 or ys[i] > ys[i2]):
            i2 = i
    has2 = i2 >= 0
    return i1, max(i2, 0), has2, trough


@kernel
def _put_arc(out, cols, r, q, n):  # pragma: no cover - compiled
    """Write one arc's (R, Q, n) for every start; ``cols`` = (R, Q, n, capacitor), -1 absent
    (a capacitor takes the Q column's value)."""
    for k in range(N_STARTS):
        out[k, cols[0]] = r[k]
        if cols[1] >= 0:
            out[k, cols[1]] = q[k]
            out[k, cols[2]] = n[k]
        if cols[3] >= 0:
            out[k, cols[3]] = q[k]


@kernel
def one_spectrum(out, omega, zr, zi, l_col, series_col, extra_col, elec_cols, arc_cols,
                 n_arcs, exponents, arc_n):  # pragma: no cover - compiled
    """The starts (N_STARTS, P) of one complete spectrum sorted by decreasing frequency,
    written into ``out`` at the columns of the plan (see :func:`role_starts`)."""
    m = omega.size
    last = m - 1
    w_top, w_min = omega[0], omega[last]
    mods = np.sort(np.hypot(zr, zi))
    zs = (mods[(m - 1) // 2] + mods[m // 2]) / 2.0   # median |Z|

    # high-frequency end: series resistance, stray inductance, removed from the data
    r_s = 0.0
    have_hf = False
    hf_q, hf_n = math.nan, arc_n
    cr = zr.copy()
    ci = zi.copy()
    if series_col >= 0 or extra_col >= 0 or l_col >= 0:
        r_s, l0, hf_q, hf_n = high_frequency(omega, zr, zi, l_col >= 0, exponents)
        have_hf = True
        l0 = max(l0, 1e-4 * zs / w_top)
        if l_col >= 0:
            out[:, l_col] = l0
        if series_col >= 0:
            out[:, series_col] = r_s
        if extra_col >= 0:
            out[:, extra_col] = r_s
        for i in range(m):
            cr[i] = zr[i] - r_s
            ci[i] = zi[i] - omega[i] * l0
    y = -ci

    # arcs and the trough before the spike: the arcs' total resistance
    i1, i2, has2, trough = peaks(y)
    r_tot = max(cr[trough], 1e-2 * zs)
    # electrode spike beyond the trough: phase and modulus of Z - R_total at the last point
    if elec_cols[0] >= 0 or elec_cols[1] >= 0 or elec_cols[2] >= 0:
        if trough < last:
            tr, ti = cr[last] - r_tot, ci[last]
            n3 = min(max(-math.atan2(ti, tr) / (math.pi / 2), 0.5), 1.0)
            mod = math.hypot(tr, ti)
        else:
            n3, mod = arc_n, 0.3 * r_tot
        if elec_cols[0] >= 0:
            out[:, elec_cols[0]] = 1.0 / (mod * w_min**n3)
        if elec_cols[1] >= 0:
            out[:, elec_cols[1]] = n3
        if elec_cols[2] >= 0:
            out[:, elec_cols[2]] = 1.0 / (mod * w_min)

    # arcs: apices give the time constants (Q = 1 / (R ω_apexⁿ)), the valley between two
    # apices splits the total resistance
    w1, w2 = omega[i1], omega[i2]
    w_hi = max(w1, w2) if has2 else w1
    w_lo = min(w1, w2) if has2 else w1
    lo_i, hi_i = min(i1, i2), max(i1, i2)
    valley = -1
    for i in range(lo_i + 1, hi_i):
        if valley < 0 or y[i] < y[valley]:
            valley = i
    share = min(max(cr[valley] / r_tot, 0.05), 0.95) if has2 and valley >= 0 else 0.3

    if n_arcs == 2:
        # the starts: (bulk R share, bulk apex, gb apex)
        sh = np.array([share, 0.05, 0.9, 0.5])
        wb = np.array([w_hi, 3.0 * w_top, w1, w1 * 10.0])
        wg = np.array([w_lo if has2 else w1 / 100.0, w1, w1 / 100.0, w1 / 10.0])
        nn = np.full(N_STARTS, arc_n)
        r = sh * r_tot
        _put_arc(out, arc_cols[0], r, 1.0 / (r * wb**arc_n), nn)
        r = (1 - sh) * r_tot
        _put_arc(out, arc_cols[1], r, 1.0 / (r * wg**arc_n), nn)
    elif n_arcs == 1:
        if not have_hf:
            hf_q, hf_n = math.nan, arc_n
        n_hf = min(max(hf_n if math.isfinite(hf_q) else arc_n, 0.5), 1.0)
        q_hf = hf_q if math.isfinite(hf_q) else 1.0 / (r_tot * w1**arc_n)
        h1 = max(y[i1], 1e-3 * zs)
        r_height = 2.0 * h1 / math.tan(arc_n * math.pi / 4)   # R from the apex height
        re_top = max(zr[0], 1e-3 * zs)
        # the starts: (arc R, Q, n) and the series R, the least certain number
        r = np.array([r_tot, r_tot, r_tot, r_height])
        nn = np.array([arc_n, n_hf, 0.75, arc_n])
        q = 1.0 / (r * w1**nn)
        q[1] = q_hf
        _put_arc(out, arc_cols[0], r, q, nn)
        if series_col >= 0:
            out[0, series_col] = r_s
            out[1, series_col] = r_s
            out[2, series_col] = 0.5 * re_top
            out[3, series_col] = 0.05 * re_top


@kernel
def role_starts(omega, zr, zi, n_valid, n_params, l_col, series_col, extra_col, elec_cols,
                arc_cols, n_arcs, exponents, arc_n):  # pragma: no cover - compiled
    """Starts (S, N_STARTS, P) of spectra (S, N) sorted by decreasing frequency, the first
    ``n_valid[s]`` points of each row valid (padding after them is never read).

    Column indices (-1 where absent): ``l_col`` the stray inductance, ``series_col`` the
    bulk resistance read at the high-frequency intercept, ``extra_col`` a series resistance
    beside the arcs, ``elec_cols`` the electrode's (Q, n, capacitor), ``arc_cols`` rows
    (R, Q, n, capacitor) of ``n_arcs`` arcs (bulk first); ``exponents`` those tried by
    :func:`high_frequency`, ``arc_n`` the arcs' exponent at the start. Columns no role
    covers are left NaN for the caller."""
    s = omega.shape[0]
    out = np.full((s, N_STARTS, n_params), np.nan)
    for i in range(s):
        m = n_valid[i]
        if m < 1:
            continue
        one_spectrum(out[i], omega[i, :m], zr[i, :m], zi[i, :m], l_col, series_col,
                     extra_col, elec_cols, arc_cols, n_arcs, exponents, arc_n)
    return out


@kernel
def positive_normal_solve(a, b, yy, keep):  # pragma: no cover - compiled
    """:func:`eis_pipeline.fitting.initial.positive_normal_lstsq` for B problems: ``a``
    (B, c, c) = XᵀX, ``b`` (B, c) = Xᵀy, ``yy`` (B,) = yᵀy; ``keep`` (V, c) the column
    subsets tried (each a variant, the others' coefficients 0). Per variant: Jacobi scaling
    (unit diagonal), a ridge of 1e-12, Gaussian elimination with partial pivoting (LAPACK's
    gesv, in a loop instead of a dozen numpy calls per batch); infeasible (a kept
    coefficient ≤ 0, or a non-finite cost) variants are skipped. Returns the best cost (B,)
    (inf where no variant is feasible) and its coefficients (B, c) (zero there)."""
    n_b, c = b.shape
    best_cost = np.full(n_b, np.inf)
    best_coef = np.zeros((n_b, c))
    m = np.empty((c, c))
    d = np.empty(c)
    x = np.empty(c)
    for i in range(n_b):
        for v in range(keep.shape[0]):
            for p in range(c):
                av = a[i, p, p] if keep[v, p] else 0.0
                d[p] = math.sqrt(max(av, 1e-300))
            for p in range(c):
                for q in range(c):
                    av = a[i, p, q] if keep[v, p] and keep[v, q] else 0.0
                    m[p, q] = av / (d[p] * d[q]) + (1e-12 if p == q else 0.0)
                x[p] = (b[i, p] if keep[v, p] else 0.0) / d[p]
            for col in range(c):   # elimination, pivot: the largest |entry| of the column
                piv = col
                for r in range(col + 1, c):
                    if abs(m[r, col]) > abs(m[piv, col]):
                        piv = r
                if piv != col:
                    for q in range(c):
                        m[col, q], m[piv, q] = m[piv, q], m[col, q]
                    x[col], x[piv] = x[piv], x[col]
                for r in range(col + 1, c):
                    f = m[r, col] / m[col, col]
                    for q in range(col, c):
                        m[r, q] -= f * m[col, q]
                    x[r] -= f * x[col]
            for r in range(c - 1, -1, -1):
                acc = x[r]
                for q in range(r + 1, c):
                    acc -= m[r, q] * x[q]
                x[r] = acc / m[r, r]
            feasible = True
            for p in range(c):
                x[p] = x[p] / d[p] if keep[v, p] else 0.0
                if keep[v, p] and not x[p] > 0.0:
                    feasible = False
            if not feasible:
                continue
            cost = yy[i]
            for p in range(c):
                if keep[v, p]:
                    cost -= 2.0 * b[i, p] * x[p]
                    for q in range(c):
                        if keep[v, q]:
                            cost += x[p] * a[i, p, q] * x[q]
            if math.isfinite(cost) and cost < best_cost[i]:
                best_cost[i] = cost
                best_coef[i] = x
    return best_cost, best_coef
