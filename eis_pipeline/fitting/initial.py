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
    return np.take_along_axis(a, idx[:, None], axis=1)[:, 0]


def spectral_features(frequency: Array, impedance: NDArray[np.complex128]) -> dict[str, Array]:
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
        "z_scale": np.nanmedian(np.where(valid, np.abs(z), np.nan), axis=1),
    }


def generic_guess(names: Sequence[str], feat: Mapping[str, Array]) -> Array:
    """Order-of-magnitude values for any parameter from its name and the spectrum's scale.

    Returns an array (S, P).
    """
    zs = feat["z_scale"]
    w = feat["omega_mid"]
    n_r = max(1, sum(1 for n in names if _element(n)[0] == "R"))
    out = np.empty((zs.size, len(names)))
    for j, name in enumerate(names):
        kind, suffix = _element(name)
        if kind == "R":
            v = zs / n_r
        elif kind == "C":
            v = 1.0 / (zs * w)
        elif kind == "L":
            v = 1e-3 * zs / feat["omega_max"]
        elif kind == "CPE":
            v = np.full_like(zs, ARC_N) if suffix == "1" else 1.0 / (zs * w**ARC_N)
        elif kind == "W":
            v = zs * np.sqrt(w)
        elif kind in ("Wo", "Ws"):
            v = zs if suffix == "0" else 1.0 / w
        else:
            v = np.ones_like(zs)
        out[:, j] = v
    return out


def _element(name: str) -> tuple[str, str]:
    """``"CPE1_0" -> ("CPE", "0")``, ``"R1" -> ("R", "")``."""
    base, _, suffix = name.partition("_")
    letters = base.rstrip("0123456789")
    return letters, suffix


def _spike(feat: Mapping[str, Array]) -> tuple[Array, Array]:
    """Electrode CPE (Q, n) from the lowest three frequencies."""
    omega, z = feat["omega"], feat["z"]
    last = np.maximum(feat["n_valid"].astype(np.intp) - 1, 2)
    idx = np.stack([last - 2, last - 1, last], axis=1)
    w = np.take_along_axis(omega, idx, axis=1)
    y = -np.take_along_axis(z, idx, axis=1).imag
    ok = np.all(y > 0, axis=1)
    lx = np.log(w)
    ly = np.log(np.where(y > 0, y, 1.0))
    lx_c = lx - lx.mean(axis=1, keepdims=True)
    slope = (lx_c * ly).sum(axis=1) / np.maximum((lx_c**2).sum(axis=1), 1e-300)
    n = np.where(ok, np.clip(-slope, 0.5, 1.0), 0.8)
    w_last, y_last = w[:, -1], np.where(ok, y[:, -1], feat["z_scale"])
    q = np.sin(n * np.pi / 2) / (w_last**n * y_last)
    return q, n


def _cpe(q: Array, n: Array, omega: Array) -> NDArray[np.complex128]:
    return 1.0 / (q[:, None] * (1j * omega) ** n[:, None])


def _arc(r: Array, omega_apex: Array, n: float = ARC_N) -> tuple[Array, Array, Array]:
    """(R, Q, n) of an R‖CPE arc with its apex at ``omega_apex``: Q = 1 / (R ω_apexⁿ)."""
    return r, 1.0 / (r * omega_apex**n), np.full_like(r, n)


def _peaks(y: Array, valid: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp],
                                                       NDArray[np.bool_]]:
    """Indices of the highest and second-highest local maxima of smoothed ``y`` per row.

    The second must be at least half a decade away and 5 % as high; ``has2`` says whether
    one was found. With no interior maximum the global maximum is used.
    """
    yv = np.where(valid, y, -np.inf)
    ys = yv.copy()
    ys[:, 1:-1] = (yv[:, :-2] + yv[:, 1:-1] + yv[:, 2:]) / 3.0  # 3-point smoothing vs noise
    ys = np.where(np.isfinite(ys), ys, yv)
    peak = np.zeros_like(valid)
    peak[:, 1:-1] = (ys[:, 1:-1] > ys[:, :-2]) & (ys[:, 1:-1] >= ys[:, 2:]) & (yv[:, 1:-1] > 0)
    height = np.where(peak, ys, -np.inf)
    i1 = np.argmax(np.where(np.isfinite(height).any(axis=1)[:, None], height, yv), axis=1)
    h1 = _take(ys, i1)
    pos = np.arange(y.shape[1])[None, :]
    # half a decade of separation, in points: estimated from the row's own spacing
    far = np.abs(pos - i1[:, None]) >= 3
    h2 = np.where(peak & far & (ys >= 0.05 * h1[:, None]), ys, -np.inf)
    i2 = np.argmax(h2, axis=1)
    has2 = np.isfinite(_take(h2, i2))
    return i1, i2, has2


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
    feat = spectral_features(frequency, impedance)
    s = feat["z_scale"].size
    base = generic_guess(names, feat)
    out = np.repeat(base[:, None, :], N_STARTS, axis=1)
    index = {n: i for i, n in enumerate(names)}
    roles = roles or {}
    if not roles:
        # generic: vary every time constant by decades across the starts
        for k, factor in enumerate((1.0, 1e-2, 1e2, 1e-4)[:N_STARTS]):
            for name, j in index.items():
                kind, suffix = _element(name)
                if kind == "C" or (kind == "CPE" and suffix == "0"):
                    out[:, k, j] *= factor
        return out

    omega, z, valid = feat["omega"], feat["z"], feat["valid"]
    zs = feat["z_scale"]

    def put(name: str | None, values: Any, k: slice | int = slice(None)) -> None:
        if name is not None and name in index:
            out[:, k, index[name]] = values if np.ndim(values) < 2 else values

    resid = z.copy()
    # stray inductance
    ind = roles.get("inductance", {})
    l_name = ind.get("inductor")
    if l_name in index:
        l0 = np.maximum(z[:, 0].imag / feat["omega_max"], 1e-4 * zs / feat["omega_max"])
        put(l_name, l0[:, None])
        resid = resid - 1j * omega * l0[:, None]
    # electrode spike
    elec = roles.get("electrode", {})
    if elec.get("cpe") in {n.partition("_")[0] for n in index}:
        q3, n3 = _spike(feat)
        put(f"{elec['cpe']}_0", q3[:, None])
        put(f"{elec['cpe']}_1", n3[:, None])
        resid = resid - _cpe(q3, n3, omega)
    elif elec.get("capacitor") in index:
        q3, _ = _spike(feat)
        c3 = q3  # n = 1 assumed for a capacitor
        put(elec["capacitor"], c3[:, None])
        resid = resid - 1.0 / (1j * omega * c3[:, None])
    # series bulk resistance from the high-frequency intercept
    bulk = roles.get("bulk", {})
    series = bulk_from_intercept and bulk.get("resistance") in index
    r_s = np.zeros(s)
    if series:
        r_s = np.maximum(resid[:, 0].real, 1e-3 * zs)
        put(bulk["resistance"], r_s[:, None])
        resid = resid - r_s[:, None]

    # arcs
    last = np.maximum(feat["n_valid"].astype(np.intp) - 1, 0)
    re_lo = np.median(np.stack([_take(resid.real, np.maximum(last - i, 0)) for i in range(3)]),
                      axis=0)
    r_tot = np.maximum(re_lo, 1e-2 * zs)
    y = -resid.imag
    i1, i2, has2 = _peaks(y, valid)
    w1 = _take(omega, i1)
    w_hi = np.where(has2, np.maximum(w1, _take(omega, i2)), w1)
    w_lo = np.where(has2, np.minimum(w1, _take(omega, i2)), w1)
    # bulk share from the real part at the valley between two apices
    lo_i, hi_i = np.minimum(i1, i2), np.maximum(i1, i2)
    pos = np.arange(y.shape[1])[None, :]
    between = (pos > lo_i[:, None]) & (pos < hi_i[:, None]) & valid
    valley = np.argmin(np.where(between, y, np.inf), axis=1)
    share = np.clip(_take(resid.real, valley) / r_tot, 0.05, 0.95)
    share = np.where(has2 & between.any(axis=1), share, 0.3)

    gb = roles.get("grain_boundary", {})
    arcs = [role for role in (bulk, gb) if role.get("resistance") in index
            and (role.get("cpe") or role.get("capacitor")) is not None
            and not (role is bulk and series)]
    w_top = feat["omega_max"]
    if len(arcs) == 2:
        # (bulk R share, bulk apex, gb apex) for each start
        starts = [
            (share, w_hi, np.where(has2, w_lo, w1 / 100.0)),
            (np.full(s, 0.05), 3.0 * w_top, w1),
            (np.full(s, 0.9), w1, w1 / 100.0),
            (np.full(s, 0.5), w1 * 10.0, w1 / 10.0),
        ]
        for k, (sh, wb, wg) in enumerate(starts[:N_STARTS]):
            _put_arc(out, index, bulk, *_arc(sh * r_tot, wb), k)
            _put_arc(out, index, gb, *_arc((1 - sh) * r_tot, wg), k)
    elif len(arcs) == 1:
        role = arcs[0]
        h1 = np.maximum(_take(y, i1), 1e-3 * zs)
        r_height = 2.0 * h1 / np.tan(ARC_N * np.pi / 4)
        starts1 = [(r_tot, w1, ARC_N), (r_height, w1, ARC_N), (r_tot, w1, 0.7),
                   (r_tot, w1 * 10.0, ARC_N)]
        for k, (r, w, n) in enumerate(starts1[:N_STARTS]):
            _put_arc(out, index, role, *_arc(r, w, n), k)
    return out


def _put_arc(out: Array, index: Mapping[str, int], role: Mapping[str, str],
             r: Array, q: Array, n: Array, k: int) -> None:
    out[:, k, index[role["resistance"]]] = r
    cpe = role.get("cpe")
    if cpe is not None and f"{cpe}_0" in index:
        out[:, k, index[f"{cpe}_0"]] = q
        out[:, k, index[f"{cpe}_1"]] = n
    cap = role.get("capacitor")
    if cap is not None and cap in index:
        out[:, k, index[cap]] = q
