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


#: Time constants tried per arc by :func:`grid_start`: one per decade, from a decade above
#: the top frequency to a decade below the lowest.
GRID_PER_DECADE = 1.0
#: Exponents assumed by :func:`grid_start` for arc CPEs and for an electrode CPE.
GRID_ARC_N = 0.9
GRID_ELECTRODE_N = 0.85


def _arc_orders(kinds: tuple[str, ...]) -> list[tuple[int, ...]]:
    """Distinct assignments of the arcs (their kinds) to increasing time constants: every
    ordering of arcs of different kinds, one per set of alike arcs."""
    from itertools import permutations

    seen: dict[tuple[str, ...], tuple[int, ...]] = {}
    for perm in permutations(range(len(kinds))):
        seen.setdefault(tuple(kinds[i] for i in perm), perm)
    return list(seen.values())


def grid_start(frequency: Array, impedance: NDArray[np.complex128], names: Sequence[str],
               terms: Any) -> Array | None:
    """One start (S, P) for a circuit of series terms (structure.SeriesTerms), from a search
    over the arcs' time constants.

    For fixed time constants and exponents the model ``R_s + jωL + A (jω)^-n_e +
    Σ R_k / (1 + (jωτ_k)^n_k)`` is linear in (R_s, L, A, R_k): every assignment of the
    arcs to a grid of τ (one per decade over the window ± a decade, arcs in increasing τ)
    is solved by modulus-weighted linear least squares, and the best one with all
    coefficients positive gives the start (CPE ``Q = τⁿ / R``, PHYSICS.md section 3; C =
    τ / R). So the data's arcs are mapped onto the circuit's by time constant, whatever the
    elements are called or the order they are written in. None where no assignment is
    feasible or the circuit has more than three arcs.
    """
    from itertools import combinations

    arcs = terms.arcs
    k = len(arcs)
    if k > 3:
        return None
    f = np.asarray(frequency, dtype=np.float64)
    z = np.asarray(impedance, dtype=np.complex128)
    valid = np.isfinite(f) & np.isfinite(z)
    w = 2 * np.pi * np.where(valid, f, 1.0)
    s = f.shape[0]
    inv = np.where(valid, 1.0 / np.where(valid, np.abs(z), 1.0), 0.0)
    y = np.concatenate([np.where(valid, z.real, 0.0) * inv,
                        np.where(valid, z.imag, 0.0) * inv], axis=1)     # (S, 2N)

    def col(h: Any) -> Array:
        return np.concatenate([h.real * inv, h.imag * inv], axis=-1)

    fixed: list[Array] = []
    if terms.resistors:
        fixed.append(col(np.ones_like(z)))
    if terms.inductors:
        fixed.append(col(1j * w))
    if terms.electrodes:
        n_e = GRID_ELECTRODE_N if terms.electrodes[0][1] == "CPE" else 1.0
        fixed.append(col((1j * w) ** -n_e))
    w_top = np.nanmax(np.where(valid, w, np.nan), axis=1)
    w_low = np.nanmin(np.where(valid, w, np.nan), axis=1)
    decades = np.log10(w_top / w_low) + 2.0
    g = int(np.ceil(np.nanmax(decades) * GRID_PER_DECADE)) + 1
    # τ grid per spectrum: (S, G), relative to its own window
    tau = (0.1 / w_top)[:, None] * 10.0 ** (np.arange(g)[None, :] / GRID_PER_DECADE)
    exps = {"CPE": GRID_ARC_N, "C": 1.0}
    basis = {kind: col(1.0 / (1.0 + (1j * w[:, None, :] * tau[:, :, None]) ** n))
             for kind, n in exps.items() if any(a[2] == kind for a in arcs)}   # (S, G, 2N)
    orders = _arc_orders(tuple(a[2] for a in arcs))
    combos = np.array(list(combinations(range(g), k)), dtype=np.intp)        # (C, k)
    best_cost = np.full(s, np.inf)
    best_coef = np.zeros((s, len(fixed) + k))
    best_tau = np.zeros((s, k))
    n_fixed = len(fixed)
    fx = np.stack(fixed, axis=-1) if fixed else np.zeros((s, y.shape[1], 0))   # (S, 2N, c)
    for order in orders:
        # arc order[j] takes the j-th smallest τ of the combination
        cols = [basis[arcs[order[j]][2]][:, combos[:, j], :] for j in range(k)]   # (S, C, 2N)
        x = np.concatenate([np.broadcast_to(fx[:, None], (s, combos.shape[0], *fx.shape[1:])),
                            np.stack(cols, axis=-1)], axis=-1)                # (S, C, 2N, c)
        a = np.einsum("scmi,scmj->scij", x, x)
        a += 1e-12 * np.trace(a, axis1=2, axis2=3)[..., None, None] * np.eye(a.shape[-1])
        b = np.einsum("scmi,sm->sci", x, y)
        with np.errstate(all="ignore"):
            coef = np.linalg.solve(a, b[..., None])[..., 0]                  # (S, C, c)
            cost = ((np.einsum("scmi,sci->scm", x, coef) - y[:, None, :]) ** 2).sum(axis=2)
        cost = np.where((coef > 0).all(axis=2) & np.isfinite(cost), cost, np.inf)
        i = cost.argmin(axis=1)
        c_i = cost[np.arange(s), i]
        better = c_i < best_cost
        if better.any():
            best_cost = np.where(better, c_i, best_cost)
            coef_i = coef[np.arange(s), i]
            tau_i = tau[np.arange(s)[:, None], combos[i]]                    # (S, k)
            perm = np.empty(k, dtype=np.intp)
            perm[list(order)] = np.arange(k)
            coef_i[:, n_fixed:] = coef_i[:, n_fixed + perm]   # arcs back to circuit order
            best_coef[better] = coef_i[better]
            best_tau[better] = tau_i[better][:, perm]   # back to circuit order of the arcs
    if not np.isfinite(best_cost).any():
        return None
    index = {n: i for i, n in enumerate(names)}
    out = np.full((s, len(names)), np.nan)
    j = 0
    if terms.resistors:
        for r in terms.resistors:
            out[:, index[r]] = best_coef[:, j] / len(terms.resistors)
        j += 1
    if terms.inductors:
        for ind in terms.inductors:
            out[:, index[ind]] = best_coef[:, j] / len(terms.inductors)
        j += 1
    if terms.electrodes:
        for e, kind in terms.electrodes:
            q = len(terms.electrodes) / best_coef[:, j]
            if kind == "CPE":
                out[:, index[f"{e}_0"]], out[:, index[f"{e}_1"]] = q, GRID_ELECTRODE_N
            else:
                out[:, index[e]] = q
        j += 1
    for a_i, (r, cap, kind) in enumerate(arcs):
        rk = best_coef[:, n_fixed + a_i]
        t = best_tau[:, a_i]
        out[:, index[r]] = rk
        if kind == "CPE":
            out[:, index[f"{cap}_0"]] = t**GRID_ARC_N / rk
            out[:, index[f"{cap}_1"]] = GRID_ARC_N
        else:
            out[:, index[cap]] = t / rk
    # spectra without a feasible assignment: NaN, replaced by the caller
    out[~np.isfinite(best_cost)] = np.nan
    return out
