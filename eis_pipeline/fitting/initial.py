"""Starting points from the data alone, vectorised over spectra.

For a preset with roles (docs/contracts.md) the features of a pellet spectrum map onto the
circuit directly (PHYSICS.md sections 1-3):

- stray inductance: ``L ≈ Z''/ω`` at the top frequency when Z'' > 0 there;
- series (bulk-intercept) resistance: ``Z'`` at the top frequency;
- blocking electrode: the low-frequency spike, ``-Z'' ≈ sin(nπ/2) / (Q ωⁿ)``, so the slope of
  ``ln(-Z'')`` against ``ln ω`` over the lowest three points gives ``n`` and the last point Q;
- arcs: after removing the electrode and series terms, apices of ``-Z''`` give the time
  constants (``ω_apex = (R Q)^(-1/n)``), the low-frequency real part gives the total arc
  resistance, and the valley between two apices splits it into bulk and grain boundary.

Arcs can overlap or lie partly outside the window, so several alternative starts are built per
spectrum (:data:`N_STARTS`) and solved in the same batch; the fitter keeps the best. Parameters
without a role get generic values from the spectrum's scale (|Z| and the mid frequency).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["N_STARTS", "generic_guess", "initial_guesses", "spectral_features"]

Array = NDArray[np.float64]

#: Alternative starting points per spectrum.
N_STARTS = 4
#: Arc exponent assumed at the start.
ARC_N = 0.9


def _take(a: Array, idx: NDArray[np.intp]) -> Array:
    """``a[i, idx[i]]`` for every row i (plain fancy indexing: cheaper than take_along_axis)."""
    return a[np.arange(idx.shape[0]), idx]


def _clip(a: Array, lo: float, hi: float) -> Array:
    """``np.clip(a, lo, hi)`` without its call overhead (several times the work here)."""
    return np.minimum(np.maximum(a, lo), hi)


def _median_rows(a: Array) -> Array:
    """``np.median(a, axis=1)`` for finite rows, without its per-call overhead."""
    a = np.sort(a, axis=1)
    n = a.shape[1]
    return np.asarray((a[:, (n - 1) // 2] + a[:, n // 2]) / 2.0)


def spectral_features(frequency: Array, impedance: NDArray[np.complex128]) -> dict[str, Any]:
    """Scale and shape features of NaN-padded spectra sorted by nothing in particular.

    Parameters
    ----------
    frequency : ndarray (S, N)
        Hz; padded entries NaN.
    impedance : ndarray of complex (S, N)
        Ohm; padded entries NaN.

    Returns
    -------
    dict of ndarray
        ``omega`` and ``z`` sorted by decreasing frequency (padding last), ``n_valid``,
        ``omega_max``, ``omega_min``, ``omega_mid`` (geometric mean), ``z_scale`` (median |Z|).
    """
    f = np.asarray(frequency, dtype=np.float64)
    z = np.asarray(impedance, dtype=np.complex128)
    if not (f.shape[1] < 2 or (f[:, :-1] > f[:, 1:]).all()):
        # (already in decreasing order, as most analysers record, when the test passes)
        order = np.argsort(-np.where(np.isfinite(f), f, -np.inf), axis=1, kind="stable")
        f = np.take_along_axis(f, order, axis=1)
        z = np.take_along_axis(z, order, axis=1)
    valid = np.isfinite(f) & np.isfinite(z)
    n_valid = valid.sum(axis=1)
    omega = 2 * np.pi * f
    last = np.maximum(n_valid - 1, 0)
    omega_max = omega[:, 0]
    omega_min = _take(omega, last)
    return {
        "omega": omega, "z": z, "valid": valid, "n_valid": n_valid.astype(np.float64),
        "omega_max": omega_max, "omega_min": omega_min,
        "omega_mid": np.sqrt(omega_max * omega_min),
        "z_scale": (_median_rows(np.abs(z)) if valid.all()
                    else np.nanmedian(np.where(valid, np.abs(z), np.nan), axis=1)),
    }


def generic_guess(names: Sequence[str], feat: Mapping[str, Any]) -> Array:
    """Order-of-magnitude values for any parameter from its name and the spectrum's scale.

    Returns an array (S, P).
    """
    zs = feat["z_scale"]
    w = feat["omega_mid"]
    parsed = [_element(n) for n in names]
    n_r = max(1, sum(1 for kind, _ in parsed if kind == "R"))
    out = np.empty((zs.size, len(names)))
    q_cpe = None
    for j, (kind, suffix) in enumerate(parsed):
        if kind == "R":
            v = zs / n_r
        elif kind == "C":
            v = 1.0 / (zs * w)
        elif kind == "L":
            v = 1e-3 * zs / feat["omega_max"]
        elif kind == "CPE" and suffix == "1":
            v = ARC_N
        elif kind == "CPE":
            if q_cpe is None:   # the same for every CPE
                q_cpe = 1.0 / (zs * w**ARC_N)
            v = q_cpe
        elif kind == "W":
            v = zs * np.sqrt(w)
        elif kind in ("Wo", "Ws"):
            v = zs if suffix == "0" else 1.0 / w
        else:
            v = np.ones_like(zs)
        out[:, j] = v
    return out


@lru_cache(maxsize=1024)
def _element(name: str) -> tuple[str, str]:
    """``"CPE1_0" -> ("CPE", "0")``, ``"R1" -> ("R", "")``."""
    base, _, suffix = name.partition("_")
    letters = base.rstrip("0123456789")
    return letters, suffix


def _arc(r: Array, omega_apex: Array, n: float = ARC_N) -> tuple[Array, Array, Array]:
    """(R, Q, n) of an R‖CPE arc with its apex at ``omega_apex``: Q = 1 / (R ω_apexⁿ)."""
    return r, 1.0 / (r * omega_apex**n), np.full_like(r, n)


def _arc_fixed_n(r: Array, omega_apex: Array,
                 n: float = ARC_N) -> tuple[Array, Array, float]:
    """:func:`_arc` with the exponent as a scalar (written by broadcasting)."""
    return r, 1.0 / (r * omega_apex**n), n


def _peaks(y: Array, valid: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp],
                                                       NDArray[np.bool_], NDArray[np.intp]]:
    """Arc apices and the trough before the electrode spike, per row (decreasing frequency).

    Returns the highest interior local maximum of smoothed ``y = -Z''`` (``i1``), the
    highest other one at least three points away and 5 % as high (``i2``, ``has2`` says if
    there is one), and the trough: the minimum of ``y`` on the low-frequency side of the
    lowest-frequency apex (the last point when no spike rises there).
    """
    # (method forms of argmax, max, ...: the np.* functions add a Python-level dispatch)
    dense = bool(valid.all())   # no padding (every y finite): the masks below are no-ops
    yv = y if dense else np.where(valid, y, -np.inf)
    ys = yv.copy()
    ys[:, 1:-1] = (yv[:, :-2] + yv[:, 1:-1] + yv[:, 2:]) / 3.0  # 3-point smoothing vs noise
    if not dense:
        ys = np.where(np.isfinite(ys), ys, yv)
    peak = np.zeros(valid.shape, dtype=bool)
    peak[:, 1:-1] = (ys[:, 1:-1] > ys[:, :-2]) & (ys[:, 1:-1] >= ys[:, 2:]) & (yv[:, 1:-1] > 0)
    pos = np.arange(y.shape[1])[None, :]
    any_peak = peak.any(axis=1)
    # the lowest-frequency apex, and the trough below it
    p_lo = np.where(any_peak, np.where(peak, pos, -1).max(axis=1), 0)
    below = pos >= p_lo[:, None]
    if not dense:
        below &= valid
    trough = np.where(below, ys, np.inf).argmin(axis=1)
    peak &= pos < trough[:, None]
    height = np.where(peak, ys, -np.inf)
    fallback = np.where(pos < np.maximum(trough, 1)[:, None], yv, -np.inf)
    has_peak = np.asarray(peak.any(axis=1))
    i1 = np.where(has_peak[:, None], height, fallback).argmax(axis=1)
    h1 = _take(ys, i1)
    far = np.abs(pos - i1[:, None]) >= 3
    h2 = np.where(peak & far & (ys >= 0.05 * h1[:, None]), ys, -np.inf)
    i2 = h2.argmax(axis=1)
    has2 = np.isfinite(_take(h2, i2))
    return i1, i2, has2, trough


def initial_guesses(
    frequency: Array,
    impedance: NDArray[np.complex128],
    names: Sequence[str],
    roles: Mapping[str, Mapping[str, str]] | None = None,
    bulk_from_intercept: bool = False,
) -> Array:
    """Alternative starting points, shape (S, N_STARTS, P), for NaN-padded spectra (S, N).

    Parameters
    ----------
    frequency, impedance : ndarray (S, N)
        Padded with NaN.
    names : sequence of str
        The circuit's parameter names.
    roles : mapping, optional
        Role -> element mapping of a preset (docs/contracts.md); without it only generic
        values are used (varied in time constant across the starts).
    bulk_from_intercept : bool
        The bulk resistance is a series resistance read at the high-frequency intercept.
    """
    if roles and frequency.shape[0] == 1:
        # one spectrum (a CircuitModel fit): the compiled twin of _from_roles when numba is
        # installed (the numpy arithmetic below is mostly call overhead at this size)
        from eis_pipeline.fitting.compiled_starts import role_starts

        one = role_starts(frequency[0], impedance[0], names, roles, bulk_from_intercept)
        if one is not None:
            return one[None]
    feat = spectral_features(frequency, impedance)
    index = {n: i for i, n in enumerate(names)}
    roles = roles or {}
    if roles:
        return _from_roles(feat, names, index, roles, bulk_from_intercept)
    out = np.repeat(generic_guess(names, feat)[:, None, :], N_STARTS, axis=1)
    # generic: vary every time constant by decades across the starts
    for k, factor in enumerate((1.0, 1e-2, 1e2, 1e-4)[:N_STARTS]):
        for name, j in index.items():
            kind, suffix = _element(name)
            if kind == "C" or (kind == "CPE" and suffix == "0"):
                out[:, k, j] *= factor
    return out


def _from_roles(feat: Mapping[str, Any], names: Sequence[str], index: Mapping[str, int],
                roles: Mapping[str, Mapping[str, str]], bulk_from_intercept: bool) -> Array:
    """:func:`initial_guesses` for a preset: each role's element from its spectral feature;
    parameters without a role get :func:`generic_guess` values."""
    s = feat["z_scale"].size
    out = np.empty((s, N_STARTS, len(names)))
    written: set[int] = set()   # columns set for every start (generic values for the rest)
    omega, z, valid = feat["omega"], feat["z"], feat["valid"]
    zs = feat["z_scale"]
    pos = np.arange(z.shape[1])[None, :]
    last = np.maximum(feat["n_valid"].astype(np.intp) - 1, 0)

    def put(name: str | None, values: Any) -> None:
        if name is not None and name in index:
            out[:, :, index[name]] = values
            written.add(index[name])

    bulk = roles.get("bulk", {})
    gb = roles.get("grain_boundary", {})
    elec = roles.get("electrode", {})
    l_name = roles.get("inductance", {}).get("inductor")
    series = bulk_from_intercept and bulk.get("resistance") in index
    # a series resistance besides the arcs (a custom circuit's structure: R0-p(..)-p(..)-..)
    extra_r = roles.get("series", {}).get("resistance")
    extra_r = extra_r if extra_r in index else None

    # -- high-frequency end: R_s + jωL + A (jω)^-n over the top points -----------------------
    r_s = np.zeros(s)
    hf_q: Array | None = None   # high-frequency arc (Q, n), used with a single arc
    hf_n = np.empty(0)
    z_c = z   # arcs + electrode: nothing else in series to remove
    if series or extra_r is not None or l_name in index:
        r_s, l0, hf_q, hf_n = _high_frequency(feat, with_l=l_name in index)
        l0 = np.maximum(l0, 1e-4 * zs / feat["omega_max"])
        put(l_name, l0[:, None])
        if series:
            put(bulk["resistance"], r_s[:, None])
        if extra_r is not None:
            put(extra_r, r_s[:, None])
        z_c = z - 1j * omega * l0[:, None] - r_s[:, None]

    # -- arcs and the trough before the spike ------------------------------------------------
    y = -z_c.imag
    i1, i2, has2, trough = _peaks(y, valid)
    r_tot = np.maximum(_take(z_c.real, trough), 1e-2 * zs)
    # -- electrode spike beyond the trough: phase and modulus of Z - R_total -----------------
    if elec.get("cpe") is not None or elec.get("capacitor") is not None:
        spike = trough < last
        tail = _take(z_c, last) - r_tot
        n3 = np.where(spike, _clip(-np.angle(tail) / (np.pi / 2), 0.5, 1.0), ARC_N)
        mod = np.where(spike, np.abs(tail), 0.3 * r_tot)
        q3 = 1.0 / (mod * feat["omega_min"] ** n3)
        if elec.get("cpe") is not None:
            put(f"{elec['cpe']}_0", q3[:, None])
            put(f"{elec['cpe']}_1", n3[:, None])
        else:
            put(elec.get("capacitor"), (1.0 / (mod * feat["omega_min"]))[:, None])

    w1 = _take(omega, i1)
    w2 = _take(omega, i2)
    w_hi = np.where(has2, np.maximum(w1, w2), w1)
    w_lo = np.where(has2, np.minimum(w1, w2), w1)
    lo_i, hi_i = np.minimum(i1, i2), np.maximum(i1, i2)
    between = (pos > lo_i[:, None]) & (pos < hi_i[:, None]) & valid
    valley = np.where(between, y, np.inf).argmin(axis=1)
    share = _clip(_take(z_c.real, valley) / r_tot, 0.05, 0.95)
    share = np.where(has2 & between.any(axis=1), share, 0.3)

    arcs = [role for role in (bulk, gb) if role.get("resistance") in index
            and (role.get("cpe") or role.get("capacitor")) is not None
            and not (role is bulk and series)]
    w_top = feat["omega_max"]
    if len(arcs) == 2:
        # (bulk R share, bulk apex, gb apex) for each start
        # (columns: the starts; all starts are built and written at once)
        sh = _columns(s, share, 0.05, 0.9, 0.5)
        wb = _columns(s, w_hi, 3.0 * w_top, w1, w1 * 10.0)
        wg = _columns(s, np.where(has2, w_lo, w1 / 100.0), w1, w1 / 100.0, w1 / 10.0)
        sh, wb, wg = sh[:, :N_STARTS], wb[:, :N_STARTS], wg[:, :N_STARTS]
        rt = r_tot[:, None]
        _put_arc(out, index, arcs[0], *_arc_fixed_n(sh * rt, wb), slice(None), written)
        _put_arc(out, index, arcs[1], *_arc_fixed_n((1 - sh) * rt, wg), slice(None), written)
    elif len(arcs) == 1:
        role = arcs[0]
        r_arc = r_tot
        if hf_q is None:
            hf_q, hf_n = np.full(s, np.nan), np.full(s, ARC_N)
        n_hf = _clip(np.where(np.isfinite(hf_q), hf_n, ARC_N), 0.5, 1.0)
        q_hf = np.where(np.isfinite(hf_q), hf_q, 1.0 / (r_arc * w1**ARC_N))
        h1 = np.maximum(_take(y, i1), 1e-3 * zs)
        r_height = 2.0 * h1 / np.tan(ARC_N * np.pi / 4)
        re_top = np.maximum(z[:, 0].real, 1e-3 * zs)
        # (arc R, Q, n, series R): the series R is the least certain number, so it varies
        # (columns: the starts; all starts are built and written at once)
        r = _columns(s, r_arc, r_arc, r_arc, r_height)
        n = _columns(s, ARC_N, n_hf, 0.75, ARC_N)
        q = 1.0 / (r * w1[:, None]**n)
        q[:, 1] = q_hf
        rs = _columns(s, r_s, r_s, 0.5 * re_top, 0.05 * re_top)
        ks = slice(0, N_STARTS)
        _put_arc(out, index, role, r[:, ks], q[:, ks], n[:, ks], ks, written)
        if series:
            put(bulk["resistance"], rs[:, ks])
    rest = [j for j in range(len(names)) if j not in written]
    if rest:
        out[:, :, rest] = generic_guess(names, feat)[:, None, rest]
    return out


#: Exponents tried by :func:`_high_frequency`.
HF_EXPONENTS = np.linspace(0.5, 1.0, 11)


def _high_frequency(feat: Mapping[str, Any], with_l: bool,
                    n_top: int = 6) -> tuple[Array, Array, Array, Array]:
    """Fit ``R_s + jωL + A (jω)^-n`` to the top ``n_top`` points for n on a grid.

    Linear in (R_s, L, A) for fixed n: weighted normal equations, batched over spectra and
    exponents together; the n with the smallest relative misfit wins (the first on a tie).
    Returns (R_s, L, Q = 1/A, n), NaN Q when A <= 0; zeros where no exponent gives a finite
    misfit.
    """
    w = feat["omega"][:, :n_top]
    z = feat["z"][:, :n_top]
    wt = 1.0 / np.abs(z)
    s = w.shape[0]
    x = _hf_design(w, with_l)                              # (S, K, 2T, c)
    ww = np.concatenate([wt, wt], axis=1)                  # (S, 2T)
    rw = np.concatenate([z.real, z.imag], axis=1) * ww
    xw = x * ww[:, None, :, None]
    xt = xw.swapaxes(-1, -2)
    a = xt @ xw + _RIDGE[x.shape[-1]]
    coef = np.linalg.solve(a, xt @ rw[:, None, :, None])   # (S, K, c, 1)
    misfit = (((xw @ coef)[..., 0] - rw[:, None, :]) ** 2).sum(axis=2)   # (S, K)
    misfit = np.where(np.isfinite(misfit), misfit, np.inf)
    k = misfit.argmin(axis=1)
    rows = np.arange(s)
    found = np.isfinite(misfit[rows, k])
    best = np.where(found[:, None], coef[rows, k, :, 0], 0.0)   # (S, c)
    a_hat = best[:, -1]
    with np.errstate(divide="ignore"):
        q = np.where(found, np.where(a_hat > 0, 1.0 / a_hat, np.nan), 0.0)
    n = np.where(found, HF_EXPONENTS[k], 0.0)
    l_hat = best[:, 1] if with_l else np.zeros(s)
    r_s = np.maximum(best[:, 0], 1e-3 * np.abs(z[:, 0]))
    return r_s, np.maximum(l_hat, 0.0), q, n


#: 1e-12 I for the 2 or 3 unknowns of :func:`_high_frequency` (a guard against singularity).
_RIDGE = {c: 1e-12 * np.eye(c) for c in (2, 3)}
#: Design matrices of :func:`_high_frequency` for single spectra, by frequencies (a model
#: fitted to many spectra on one grid builds it once).
_HF_DESIGNS: dict[tuple[bytes, bool], Array] = {}


def _hf_design(w: Array, with_l: bool) -> Array:
    """Unweighted design matrix (S, K, 2T, c) of ``R_s + jωL + A (jω)^-n`` at ``w`` (S, T)
    for each exponent of :data:`HF_EXPONENTS`; columns (R_s, [L,] A), rows real then
    imaginary parts. Cached for one spectrum."""
    key = (w.tobytes(), with_l)
    if w.shape[0] == 1 and key in _HF_DESIGNS:
        return _HF_DESIGNS[key]
    ns = HF_EXPONENTS[None, :, None]                       # (1, K, 1)
    wn = w[:, None, :] ** -ns                              # (S, K, T)
    ones = np.ones_like(wn)
    zero = np.zeros_like(wn)
    cols_re = [ones, zero, np.cos(ns * np.pi / 2) * wn]
    cols_im = [zero, np.broadcast_to(w[:, None, :], wn.shape), -np.sin(ns * np.pi / 2) * wn]
    if not with_l:
        cols_re.pop(1)
        cols_im.pop(1)
    x = np.concatenate([np.stack(cols_re, -1), np.stack(cols_im, -1)], axis=2)
    if w.shape[0] == 1:
        if len(_HF_DESIGNS) >= 16:
            _HF_DESIGNS.pop(next(iter(_HF_DESIGNS)))   # the oldest entry
        x.flags.writeable = False
        _HF_DESIGNS[key] = x
    return x


def _columns(s: int, *columns: Array | float) -> Array:
    """An (S, len(columns)) array from per-spectrum columns or scalars (np.stack costs
    several times more for these few short columns)."""
    out = np.empty((s, len(columns)))
    for j, c in enumerate(columns):
        out[:, j] = c
    return out


def _put_arc(out: Array, index: Mapping[str, int], role: Mapping[str, str],
             r: Array, q: Array, n: Array | float, k: int | slice,
             written: set[int]) -> None:
    """Write an arc's (R, Q, n) for the starts ``k``; record the columns in ``written``."""
    columns: list[tuple[str, Array | float]] = [(role["resistance"], r)]
    cpe = role.get("cpe")
    if cpe is not None and f"{cpe}_0" in index:
        columns += [(f"{cpe}_0", q), (f"{cpe}_1", n)]
    cap = role.get("capacitor")
    if cap is not None and cap in index:
        columns.append((cap, q))
    for name, values in columns:
        out[:, k, index[name]] = values
        written.add(index[name])
