"""Model-free conductivity: σ'(f), electric modulus M''(f), permittivity ε'(f), Jonscher σ_dc.

From the impedance Z of a pellet with cell constant κ = L/A (PHYSICS.md section 5) and the
empty-cell capacitance C₀ = ε₀ A / L = ε₀ / κ:

    σ*(ω) = κ / Z            σ' = κ Re(1/Z)              [S/cm]
    ε*(ω) = 1 / (jω C₀ Z)    ε' = Re ε*                  [1]
    M*(ω) = 1 / ε* = jω C₀ Z M'' = ω C₀ Re Z             [1]

For R ‖ C: σ' = κ / R at every frequency, and M'' peaks at ω = 1/(RC) with height C₀/(2C).

The dc conductivity is read from the plateau of σ'(f) with Jonscher's universal dielectric
response ``σ'(f) = σ_dc [1 + (f / f_c)^n]`` fitted on ln σ' — the cross-check against the
circuit's total σ that Novocontrol users expect. Below the plateau the blocking electrodes
make σ' fall (electrode polarisation); those points are left out of the fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from eis_pipeline.conventions import VACUUM_PERMITTIVITY_F_PER_CM

__all__ = ["conductivity_spectra", "dielectric_spectra", "jonscher_fit"]

FloatArray = NDArray[np.float64]

#: |d ln σ' / d ln f| below which σ'(f) counts as a plateau (σ' changes < 10 % per decade·2.3).
PLATEAU_SLOPE = 0.1


def dielectric_spectra(frequency: ArrayLike, impedance: ArrayLike,
                       cell_constant_per_cm: float) -> dict[str, FloatArray]:
    """σ'(f) (S/cm), ε'(f), ε''(f), M'(f) and M''(f) of one spectrum (or a (B, F) batch).

    Examples
    --------
    >>> f = np.array([1.0, 1e3]); R, C = 1e4, 1e-10
    >>> z = R / (1 + 2j * np.pi * f * R * C)
    >>> d = dielectric_spectra(f, z, 0.1)
    >>> np.allclose(d["conductivity_real"], 0.1 / R)
    True
    """
    f = np.asarray(frequency, dtype=np.float64)
    z = np.asarray(impedance, dtype=np.complex128)
    kappa = float(cell_constant_per_cm)
    c0 = VACUUM_PERMITTIVITY_F_PER_CM / kappa   # F
    jw_c0 = 2j * np.pi * f * c0
    modulus = jw_c0 * z
    permittivity = 1.0 / modulus
    return {
        "conductivity_real": np.asarray((kappa / z).real),
        "permittivity_real": np.asarray(permittivity.real),
        "permittivity_imag": np.asarray(-permittivity.imag),   # ε* = ε' - j ε''
        "modulus_real": np.asarray(modulus.real),
        "modulus_imag": np.asarray(modulus.imag),
    }


def _plateau_window(f: FloatArray, sigma: FloatArray) -> tuple[NDArray[np.bool_], float]:
    """Points for the Jonscher fit and the flattest log-log slope found."""
    order = np.argsort(f)
    lf, ls = np.log(f[order]), np.log(sigma[order])
    slope = np.gradient(ls, lf)
    # smooth over 3 points: noise of 0.5 % on σ' gives slopes of ±0.05 at 10 points/decade
    slope = np.convolve(np.pad(slope, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    flat = np.abs(slope) < PLATEAU_SLOPE
    if not flat.any():
        k = int(np.argmin(np.abs(slope)))
        run = np.zeros(f.size, bool)
        run[k] = True
    else:
        # The dc plateau is the first flat run above the electrode-polarisation region
        # (scanning up from the lowest frequency); a grain-boundary arc adds a second,
        # higher plateau (σ_bulk) that must not be taken for it.
        k = int(np.argmax(flat))
        run = np.zeros(f.size, bool)
        i = k
        while i < f.size and flat[i]:
            run[i] = True
            i += 1
    level = float(np.exp(np.median(ls[run])))
    # From the first run point within 3 % of the plateau level (below it the electrode
    # polarisation already pulls σ' down) upwards into the dispersion, up to twice the
    # plateau (a power law, not the next plateau).
    run_idx = np.flatnonzero(run)
    first = int(run_idx[np.argmax(ls[run_idx] >= math.log(0.97 * level))])
    last = int(np.flatnonzero(run)[-1])
    keep = (np.arange(f.size) >= first) & (np.arange(f.size) <= last)
    i = int(np.flatnonzero(run)[-1]) + 1
    while i < f.size and ls[i] <= math.log(2.0 * level) and slope[i] <= 1.2:
        keep[i] = True
        i += 1
    out = np.zeros(f.size, bool)
    out[order] = keep
    return out, float(np.min(np.abs(slope[run])))


def jonscher_fit(frequency: ArrayLike, conductivity_real: ArrayLike) -> dict[str, float]:
    """σ_dc from ``σ'(f) = σ_dc [1 + (f/f_c)^n]`` fitted on ln σ' around the plateau.

    Returns
    -------
    dict
        ``sigma_dc`` (S/cm) and ``sigma_dc_stderr``, ``crossover_frequency`` f_c (Hz),
        ``exponent`` n, ``plateau_slope`` (flattest |d ln σ'/d ln f|; a visible plateau has
        < 0.1), ``plateau_visible``, ``f_min``/``f_max`` of the fitted window, ``n_points``,
        ``converged``.
    """
    from scipy.optimize import least_squares

    f = np.asarray(frequency, dtype=np.float64).ravel()
    s = np.asarray(conductivity_real, dtype=np.float64).ravel()
    ok = np.isfinite(f) & np.isfinite(s) & (f > 0) & (s > 0)
    nan = {"sigma_dc": math.nan, "sigma_dc_stderr": math.nan, "crossover_frequency": math.nan,
           "exponent": math.nan, "plateau_slope": math.nan, "plateau_visible": False,
           "f_min": math.nan, "f_max": math.nan, "n_points": 0, "converged": False}
    if ok.sum() < 4:
        return nan
    f, s = f[ok], s[ok]
    win, flat = _plateau_window(f, s)
    fw, sw = f[win], s[win]
    lf, ls = np.log(fw), np.log(sw)
    lo_f, hi_f = math.log(f.min()) - 5, math.log(f.max()) + 5

    def resid(p: FloatArray) -> FloatArray:
        return np.asarray(p[0] + np.log1p(np.exp(p[2] * (lf - p[1]))) - ls)

    k0 = int(np.argmin(sw))
    p0 = np.array([math.log(sw[k0]), min(max(math.log(fw.max()), lo_f + 1), hi_f - 1), 0.8])
    # n >= 0.3: a flatter "power law" trades off against σ_dc when no dispersion is seen
    sol = least_squares(resid, p0, bounds=([-np.inf, lo_f, 0.3], [np.inf, hi_f, 1.5]),
                        method="trf", x_scale="jac")
    dof = fw.size - 3
    err = math.nan
    if dof > 0:
        jtj = sol.jac.T @ sol.jac
        s2 = float(sol.fun @ sol.fun) / dof
        try:
            err = math.sqrt(max(float(np.linalg.pinv(jtj)[0, 0] * s2), 0.0))
        except np.linalg.LinAlgError:
            err = math.nan
    sdc = math.exp(sol.x[0])
    return {"sigma_dc": sdc, "sigma_dc_stderr": sdc * err,
            "crossover_frequency": math.exp(sol.x[1]), "exponent": float(sol.x[2]),
            "plateau_slope": flat, "plateau_visible": flat < PLATEAU_SLOPE,
            "f_min": float(fw.min()), "f_max": float(fw.max()), "n_points": int(fw.size),
            "converged": bool(sol.success)}


def conductivity_spectra(spectra: Sequence[xr.Dataset], cell_constant_per_cm: float,
                         ) -> xr.Dataset:
    """Jonscher σ_dc and the model-free spectra of every spectrum.

    Returns
    -------
    xarray.Dataset
        Along ``spectrum``: ``sigma_dc`` (+ ``_stderr``), ``crossover_frequency``,
        ``jonscher_exponent``, ``plateau_visible``, ``jonscher_converged``, ``temperature``
        (K, NaN when absent); along (``spectrum``, ``point``), NaN padded: ``frequency``,
        ``conductivity_real``, ``permittivity_real``, ``modulus_imag``.
    """
    n = max((ds.sizes["frequency"] for ds in spectra), default=0)
    b = len(spectra)
    cols = {k: np.full((b, n), np.nan) for k in ("frequency", "conductivity_real",
                                                 "permittivity_real", "modulus_imag")}
    fits = []
    temps = np.full(b, np.nan)
    for i, ds in enumerate(spectra):
        f = np.asarray(ds["frequency"].values, float)
        d = dielectric_spectra(f, ds["impedance"].values, cell_constant_per_cm)
        cols["frequency"][i, :f.size] = f
        for k in ("conductivity_real", "permittivity_real", "modulus_imag"):
            cols[k][i, :f.size] = d[k]
        fits.append(jonscher_fit(f, d["conductivity_real"]))
        if "temperature" in ds:
            temps[i] = float(np.nanmedian(ds["temperature"].values))
    units = {"frequency": "Hz", "conductivity_real": "S/cm", "permittivity_real": "1",
             "modulus_imag": "1"}
    data: dict[str, Any] = {k: (("spectrum", "point"), v, {"units": units[k]})
                            for k, v in cols.items()}
    for key, name, unit in (("sigma_dc", "sigma_dc", "S/cm"),
                            ("sigma_dc_stderr", "sigma_dc_stderr", "S/cm"),
                            ("crossover_frequency", "crossover_frequency", "Hz"),
                            ("exponent", "jonscher_exponent", "1")):
        data[name] = ("spectrum", np.array([r[key] for r in fits], float), {"units": unit})
    data["plateau_visible"] = ("spectrum", np.array([r["plateau_visible"] for r in fits]))
    data["jonscher_converged"] = ("spectrum", np.array([r["converged"] for r in fits]))
    data["temperature"] = ("spectrum", temps, {"units": "K"})
    ds_out = xr.Dataset(data)
    ds_out.attrs.update(cell_constant_per_cm=float(cell_constant_per_cm),
                        equation="σ'(f) = σ_dc [1 + (f/f_c)^n]")
    return ds_out
