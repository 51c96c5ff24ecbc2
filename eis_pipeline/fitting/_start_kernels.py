"""numba kernel of :mod:`eis_pipeline.fitting.compiled_starts` (imported only when numba is).

:func:`role_starts` is :func:`eis_pipeline.fitting.initial._from_roles` for one complete
spectrum, written with scalars and loops; change both together
(tests/fitting/test_compiled_starts.py checks they agree).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

# as in initial.py
_ARC_N = 0.9
_N_STARTS = 4
_N_TOP = 6


@nb.njit(cache=True)
def _high_frequency(omega, zr, zi, with_l, exponents):  # pragma: no cover - compiled
    """initial._high_frequency for one spectrum: (R_s, L, Q, n)."""
    t = min(_N_TOP, omega.size)
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
        a = x.T @ x + 1e-12 * np.eye(c)
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


@nb.njit(cache=True)
def _peaks(y):  # pragma: no cover - compiled
    """initial._peaks for one spectrum (no padding): (i1, i2, has2, trough)."""
    m = y.size
    ys = y.copy()
    for i in range(1, m - 1):
        ys[i] = (y[i - 1] + y[i] + y[i + 1]) / 3.0
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


@nb.njit(cache=True)
def _put_arc(out, written, cols, r, q, n):  # pragma: no cover - compiled
    """Write one arc's (R, Q, n) for every start; ``cols`` = (R, Q, n, capacitor), -1 absent."""
    for k in range(_N_STARTS):
        out[k, cols[0]] = r[k]
        if cols[1] >= 0:
            out[k, cols[1]] = q[k]
            out[k, cols[2]] = n[k]
        if cols[3] >= 0:
            out[k, cols[3]] = q[k]
    written[cols[0]] = True
    if cols[1] >= 0:
        written[cols[1]] = True
        written[cols[2]] = True
    if cols[3] >= 0:
        written[cols[3]] = True


@nb.njit(cache=True)
def role_starts(omega, zr, zi, n_params, l_col, series_col, elec_cols, arc_cols, n_arcs,
                exponents):  # pragma: no cover - compiled
    """Starts (N_STARTS, P) of one spectrum sorted by decreasing frequency, and which columns
    they set. ``elec_cols`` = (Q, n, capacitor) and ``arc_cols`` rows (R, Q, n, capacitor)
    are column indices, -1 where absent; ``series_col`` is the intercept bulk resistance."""
    m = omega.size
    out = np.empty((_N_STARTS, n_params))
    written = np.zeros(n_params, dtype=np.bool_)
    last = m - 1
    w_top, w_min = omega[0], omega[last]
    mods = np.sort(np.hypot(zr, zi))
    zs = (mods[(m - 1) // 2] + mods[m // 2]) / 2.0

    # high-frequency end: series resistance, stray inductance
    r_s = 0.0
    have_hf = False
    hf_q, hf_n = math.nan, _ARC_N
    cr = zr.copy()
    ci = zi.copy()
    if series_col >= 0 or l_col >= 0:
        r_s, l0, hf_q, hf_n = _high_frequency(omega, zr, zi, l_col >= 0, exponents)
        have_hf = True
        l0 = max(l0, 1e-4 * zs / w_top)
        if l_col >= 0:
            out[:, l_col] = l0
            written[l_col] = True
        if series_col >= 0:
            out[:, series_col] = r_s
            written[series_col] = True
        for i in range(m):
            cr[i] = zr[i] - r_s
            ci[i] = zi[i] - omega[i] * l0
    y = -ci

    # arcs and the trough before the spike
    i1, i2, has2, trough = _peaks(y)
    r_tot = max(cr[trough], 1e-2 * zs)
    # electrode spike beyond the trough
    if elec_cols[0] >= 0 or elec_cols[1] >= 0 or elec_cols[2] >= 0:
        if trough < last:
            tr, ti = cr[last] - r_tot, ci[last]
            n3 = min(max(-math.atan2(ti, tr) / (math.pi / 2), 0.5), 1.0)
            mod = math.hypot(tr, ti)
        else:
            n3, mod = _ARC_N, 0.3 * r_tot
        if elec_cols[0] >= 0:
            out[:, elec_cols[0]] = 1.0 / (mod * w_min**n3)
            written[elec_cols[0]] = True
        if elec_cols[1] >= 0:
            out[:, elec_cols[1]] = n3
            written[elec_cols[1]] = True
        if elec_cols[2] >= 0:
            out[:, elec_cols[2]] = 1.0 / (mod * w_min)
            written[elec_cols[2]] = True

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
        sh = np.array([share, 0.05, 0.9, 0.5])
        wb = np.array([w_hi, 3.0 * w_top, w1, w1 * 10.0])
        wg = np.array([w_lo if has2 else w1 / 100.0, w1, w1 / 100.0, w1 / 10.0])
        nn = np.full(_N_STARTS, _ARC_N)
        r = sh * r_tot
        _put_arc(out, written, arc_cols[0], r, 1.0 / (r * wb**_ARC_N), nn)
        r = (1 - sh) * r_tot
        _put_arc(out, written, arc_cols[1], r, 1.0 / (r * wg**_ARC_N), nn)
    elif n_arcs == 1:
        if not have_hf:
            hf_q, hf_n = math.nan, _ARC_N
        n_hf = min(max(hf_n if math.isfinite(hf_q) else _ARC_N, 0.5), 1.0)
        q_hf = hf_q if math.isfinite(hf_q) else 1.0 / (r_tot * w1**_ARC_N)
        h1 = max(y[i1], 1e-3 * zs)
        r_height = 2.0 * h1 / math.tan(_ARC_N * math.pi / 4)
        re_top = max(zr[0], 1e-3 * zs)
        r = np.array([r_tot, r_tot, r_tot, r_height])
        nn = np.array([_ARC_N, n_hf, 0.75, _ARC_N])
        q = 1.0 / (r * w1**nn)
        q[1] = q_hf
        _put_arc(out, written, arc_cols[0], r, q, nn)
        if series_col >= 0:
            out[0, series_col] = r_s
            out[1, series_col] = r_s
            out[2, series_col] = 0.5 * re_top
            out[3, series_col] = 0.05 * re_top
    return out, written
