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

__all__ = ["conductivity_spectra", "dielectric_spectra", "electrode_factor", "jonscher_fit"]

FloatArray = NDArray[np.float64]

#: |d ln σ' / d ln f| below which σ'(f) counts as a plateau (σ' changes < 10 % per decade·2.3).
PLATEAU_SLOPE = 0.1
#: The log-log slope is a local straight-line fit over ± this many decades (0.5 % noise on σ'
#: gives ±0.05 from neighbouring points alone, ±0.01 from five at 10 points per decade).
SLOPE_HALF_WIDTH = 0.25
#: A rise of the smoothed slope by more than this is a real feature, not noise: the end of
#: the plateau (with LEVEL_RISE) or, past its maximum, the end of the power-law dispersion.
SLOPE_NOISE = 0.03
#: ... and σ' must have risen by this fraction (in ln) for the plateau to end there: a small
#: grain-boundary step (σ_bulk 1.2× σ_total) stays under PLATEAU_SLOPE all the way up.
LEVEL_RISE = 0.03
#: The roll-off below a dc plateau is the blocking electrodes': its capacitance per cell
#: constant, σ_dc / (2π f_e) in F/cm, lies in the interface range (≥ 1e-7, PHYSICS.md §4).
#: Below this (the top of the grain-boundary range) the roll-off is a grain-boundary step and
#: the flat part above it the bulk plateau: σ_dc is then not visible.
ELECTRODE_MIN_SPECIFIC_CAPACITANCE = 1e-8
#: A plateau is "visible" when σ' stays that flat over at least this many decades: a run of a
#: few points at the end of the window is the start of a plateau, not one (read there, σ_dc
#: was 7 % high on a simulated pellet at -40 °C). A run at the window's low end counts half.
PLATEAU_DECADES = 0.5
#: Relative difference between the model-free σ_dc and the circuit's total σ that is flagged.
DISAGREEMENT = 0.2
#: How far below the plateau σ' is followed into the electrode polarisation (fraction of it).
ELECTRODE_FLOOR = 0.2
#: How far above the plateau σ' is followed into the dispersion: the start of a
#: grain-boundary (or bulk) relaxation is a power law, its middle is not.
DISPERSION_CEILING = 1.3


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


def _smoothed_slope(lf: FloatArray, ls: FloatArray) -> FloatArray:
    """d ln σ'/d ln f by a local straight-line fit over ±SLOPE_HALF_WIDTH decades (at least
    one neighbour each side): 0.5 % noise on σ' gives slopes of ±0.05 from neighbours alone."""
    half = SLOPE_HALF_WIDTH * math.log(10.0)
    n = lf.size
    out = np.empty(n)
    idx = np.arange(n)
    lo = np.minimum(np.searchsorted(lf, lf - half, side="left"), np.maximum(idx - 1, 0))
    hi = np.maximum(np.searchsorted(lf, lf + half, side="right") - 1, np.minimum(idx + 1, n - 1))
    c1 = np.concatenate([[0.0], np.cumsum(lf)])
    c2 = np.concatenate([[0.0], np.cumsum(lf * lf)])
    cy = np.concatenate([[0.0], np.cumsum(ls)])
    cxy = np.concatenate([[0.0], np.cumsum(lf * ls)])
    m = (hi - lo + 1).astype(float)
    sx, sxx = c1[hi + 1] - c1[lo], c2[hi + 1] - c2[lo]
    sy, sxy = cy[hi + 1] - cy[lo], cxy[hi + 1] - cxy[lo]
    den = m * sxx - sx * sx
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (m * sxy - sx * sy) / den
    return np.asarray(np.where(den > 0, out, 0.0))


def _plateau_window(f: FloatArray, sigma: FloatArray) -> tuple[NDArray[np.bool_], float, float]:
    """Points for the Jonscher fit, the flattest log-log slope of the plateau and the decades
    the plateau spans (half of them when it starts at the lowest frequency)."""
    order = np.argsort(f)
    lf, ls = np.log(f[order]), np.log(sigma[order])
    slope = _smoothed_slope(lf, ls)
    n = f.size
    flat = np.abs(slope) < PLATEAU_SLOPE
    if not flat.any():
        a = b = int(np.argmin(np.abs(slope)))
    else:
        # The dc plateau is the first flat run above the electrode polarisation (scanning up
        # from the lowest frequency). It ends where the slope rises again from its minimum
        # and σ' with it (the start of a grain-boundary or bulk dispersion), even when the
        # slope of a small step stays under PLATEAU_SLOPE up to the next (bulk) plateau.
        a = int(np.argmax(flat))
        k_min = b = a
        while b + 1 < n and flat[b + 1]:
            if (slope[b + 1] > slope[k_min] + SLOPE_NOISE
                    and ls[b + 1] > ls[k_min] + LEVEL_RISE):
                break
            b += 1
            if slope[b] < slope[k_min]:
                k_min = b
    level = float(np.median(ls[a:b + 1]))
    # Downwards: into the electrode polarisation while σ' keeps falling, until it is below
    # ELECTRODE_FLOOR of the plateau (the electrode factor of the fit describes that roll-off;
    # further down the electrode's own non-ideality takes over).
    first, last = a, b
    while first > 0 and ls[first - 1] <= ls[first] + 0.01 \
            and ls[first - 1] >= level + math.log(ELECTRODE_FLOOR):
        first -= 1
    # Upwards: into the dispersion while its log-log slope still grows (the power-law start of
    # a relaxation), to DISPERSION_CEILING times the plateau at most. Past the slope's maximum
    # the next plateau, a stray inductance or a cable resonance takes over: fitting those
    # with a power law made n fall to 0.3 and σ_dc 9-11 % low (mill120 at 80 °C, 7 MHz).
    ceiling = level + math.log(DISPERSION_CEILING)
    peak = slope[last]
    while (last + 1 < n and ls[last + 1] <= ceiling
           and -PLATEAU_SLOPE <= slope[last + 1] <= 2.0
           and slope[last + 1] >= peak - SLOPE_NOISE):
        last += 1
        peak = max(peak, slope[last])
    keep = (np.arange(n) >= first) & (np.arange(n) <= last)
    out = np.zeros(n, bool)
    out[order] = keep
    span = float((lf[b] - lf[a]) / math.log(10.0)) if flat[a] else 0.0
    if a == 0:
        # a run at the lowest frequency measured may still be falling towards σ_dc there
        # (no electrode roll-off to bound it): it counts half
        span /= 2
    return out, float(np.min(np.abs(slope[a:b + 1]))), span


def electrode_factor(frequency: ArrayLike, electrode_frequency: float,
                     exponent: float) -> FloatArray:
    """σ'/σ_dc of a resistance in series with a blocking CPE: ``Re[1 / (1 + (j f/f_e)^-m)]``.

    With ``Z = R + 1/(Q (jω)^m)``, ``σ' R / κ = Re[1 / (1 + (jωτ)^-m)]``, ``τ = (RQ)^(1/m)``,
    ``f_e = 1/(2πτ)``: closed form ``(1 + u cos θ) / (1 + 2u cos θ + u²)`` with
    ``u = (f_e/f)^m``, ``θ = mπ/2``. For m = 1 (an ideal capacitor) it is
    ``1 / (1 + (f_e/f)²)``.
    """
    u = (electrode_frequency / np.asarray(frequency, dtype=np.float64)) ** exponent
    cos_t = math.cos(exponent * math.pi / 2)
    return np.asarray((1 + u * cos_t) / (1 + 2 * u * cos_t + u * u))


def jonscher_fit(frequency: ArrayLike, conductivity_real: ArrayLike) -> dict[str, float]:
    """σ_dc from ``σ'(f) = σ_dc [1 + (f/f_c)^n] · E(f)`` fitted on ln σ' around the plateau.

    ``E(f)`` (:func:`electrode_factor`) is the roll-off of σ' below the plateau caused by the
    blocking electrodes (a series CPE, exact for R + CPE). Without it, the points where the
    electrode already pulls σ' down read as plateau and σ_dc comes out low: 3-30 % with a
    grain-boundary arc close to the electrode (measured on simulated pellets, issue 14).

    Returns
    -------
    dict
        ``sigma_dc`` (S/cm) and ``sigma_dc_stderr``, ``crossover_frequency`` f_c (Hz),
        ``exponent`` n, ``electrode_frequency`` f_e (Hz) and ``electrode_exponent`` m,
        ``electrode_specific_capacitance`` σ_dc/(2π f_e) (F/cm: the roll-off's C·L/A),
        ``plateau_slope`` (flattest |d ln σ'/d ln f|), ``plateau_decades`` (span of the
        plateau flatter than 0.1), ``plateau_visible`` (slope < 0.1 over >= 0.5 decade, and
        a roll-off below it with an electrode's capacitance, not a grain boundary's: see
        ELECTRODE_MIN_SPECIFIC_CAPACITANCE), ``f_min``/``f_max`` of the fitted window,
        ``n_points``, ``converged``.
    """
    from scipy.optimize import least_squares

    f = np.asarray(frequency, dtype=np.float64).ravel()
    s = np.asarray(conductivity_real, dtype=np.float64).ravel()
    ok = np.isfinite(f) & np.isfinite(s) & (f > 0) & (s > 0)
    nan = {"sigma_dc": math.nan, "sigma_dc_stderr": math.nan, "crossover_frequency": math.nan,
           "exponent": math.nan, "electrode_frequency": math.nan,
           "electrode_exponent": math.nan, "electrode_specific_capacitance": math.nan,
           "plateau_slope": math.nan, "plateau_decades": 0.0,
           "plateau_visible": False,
           "f_min": math.nan, "f_max": math.nan, "n_points": 0, "converged": False}
    if ok.sum() < 4:
        return nan
    f, s = f[ok], s[ok]
    win, flat, span = _plateau_window(f, s)
    fw, sw = f[win], s[win]
    lf, ls = np.log(fw), np.log(sw)
    lo_f, hi_f = math.log(f.min()) - 5, math.log(f.max()) + 5
    # the electrode term only where the window reaches into the roll-off (enough points)
    with_electrode = fw.size >= 7

    def resid(p: FloatArray) -> FloatArray:
        out = p[0] + np.log1p(np.exp(p[2] * (lf - p[1]))) - ls
        if with_electrode:
            out += np.log(electrode_factor(fw, math.exp(p[3]), p[4]))
        return np.asarray(out)

    k0 = int(np.argmax(sw * (sw <= 1.05 * np.median(sw))))
    start = [math.log(sw[k0]), min(max(math.log(fw.max()), lo_f + 1), hi_f - 1), 0.8]
    # n >= 0.3: a flatter "power law" trades off against σ_dc when no dispersion is seen
    lower, upper = [-np.inf, lo_f, 0.3], [np.inf, hi_f, 2.0]
    if with_electrode:
        start += [math.log(fw.min()), 0.85]
        lower += [lo_f, 0.3]
        upper += [hi_f, 1.0]
    p0 = np.clip(start, np.array(lower) + 1e-9, np.array(upper) - 1e-9)
    sol = least_squares(resid, p0, bounds=(lower, upper), method="trf", x_scale="jac")
    dof = fw.size - p0.size
    err = math.nan
    if dof > 0:
        jtj = sol.jac.T @ sol.jac
        s2 = float(sol.fun @ sol.fun) / dof
        try:
            err = math.sqrt(max(float(np.linalg.pinv(jtj)[0, 0] * s2), 0.0))
        except np.linalg.LinAlgError:
            err = math.nan
    sdc = math.exp(sol.x[0])
    f_e = math.exp(sol.x[3]) if with_electrode else math.nan
    # C_el/κ of R + CPE (Brug, PHYSICS.md §3: C = τ/R, τ = 1/(2π f_e), R = κ/σ_dc)
    electrode_capacitance = sdc / (2 * math.pi * f_e)
    grain_boundary_like = electrode_capacitance < ELECTRODE_MIN_SPECIFIC_CAPACITANCE
    return {"sigma_dc": sdc, "sigma_dc_stderr": sdc * err,
            "crossover_frequency": math.exp(sol.x[1]), "exponent": float(sol.x[2]),
            "electrode_frequency": f_e,
            "electrode_specific_capacitance": electrode_capacitance,
            "electrode_exponent": float(sol.x[4]) if with_electrode else math.nan,
            "plateau_slope": flat, "plateau_decades": span,
            "plateau_visible": (flat < PLATEAU_SLOPE and span >= PLATEAU_DECADES
                                and not grain_boundary_like),
            "f_min": float(fw.min()), "f_max": float(fw.max()), "n_points": int(fw.size),
            "converged": bool(sol.success)}


def conductivity_spectra(spectra: Sequence[xr.Dataset], cell_constant_per_cm: float,
                         circuit_sigma_S_cm: ArrayLike | None = None) -> xr.Dataset:
    """Jonscher σ_dc and the model-free spectra of every spectrum.

    ``circuit_sigma_S_cm`` (one total σ per spectrum, from the circuit fits) adds the
    cross-check: ``sigma_circuit``, ``sigma_dc_relative_difference`` = σ_dc/σ_circuit - 1 and
    ``sigma_dc_disagrees`` (|difference| > DISAGREEMENT, i.e. 20 %, where both are known).

    Returns
    -------
    xarray.Dataset
        Along ``spectrum``: ``sigma_dc`` (+ ``_stderr``), ``crossover_frequency``,
        ``jonscher_exponent``, ``plateau_visible``, ``plateau_decades``,
        ``plateau_fit_f_min``/``_f_max`` (the fitted window), ``jonscher_converged``,
        ``temperature``
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
    for key, name, unit in (("plateau_decades", "plateau_decades", "1"),
                            ("f_min", "plateau_fit_f_min", "Hz"),
                            ("f_max", "plateau_fit_f_max", "Hz")):
        data[name] = ("spectrum", np.array([r[key] for r in fits], float), {"units": unit})
    data["plateau_visible"] = ("spectrum", np.array([r["plateau_visible"] for r in fits]))
    data["jonscher_converged"] = ("spectrum", np.array([r["converged"] for r in fits]))
    data["temperature"] = ("spectrum", temps, {"units": "K"})
    if circuit_sigma_S_cm is not None:
        circ = np.asarray(circuit_sigma_S_cm, dtype=float).ravel()
        if circ.size != b:
            raise ValueError(f"circuit_sigma_S_cm has {circ.size} values for {b} spectra")
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = data["sigma_dc"][1] / circ - 1.0
        data["sigma_circuit"] = ("spectrum", circ, {"units": "S/cm",
                                                    "long_name": "total σ of the circuit fit"})
        data["sigma_dc_relative_difference"] = ("spectrum", rel, {"units": "1"})
        data["sigma_dc_disagrees"] = ("spectrum", np.isfinite(rel) & (np.abs(rel) > DISAGREEMENT),
                                      {"long_name": f"|σ_dc/σ_circuit - 1| > {DISAGREEMENT:g}"})
    ds_out = xr.Dataset(data)
    ds_out.attrs.update(cell_constant_per_cm=float(cell_constant_per_cm),
                        equation="σ'(f) = σ_dc [1 + (f/f_c)^n]")
    return ds_out
