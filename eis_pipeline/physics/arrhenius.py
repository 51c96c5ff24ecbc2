"""Arrhenius fits of conductivity against temperature, with phase-transition breakpoints.

``ln(σT) = ln σ₀ - E_a/(k_B T)`` (form ``"sigma_T"``) or ``ln σ = ln σ₀' - E_a'/(k_B T)`` (form
``"sigma"``), PHYSICS.md section 6. The fit is weighted least squares on ``y = ln(σT)`` (or
``ln σ``) against ``x = 1/(k_B T)`` with weights ``(σ/δσ)²``. A phase transition (a jump or a
change of slope) is handled by also fitting two segments — continuous at the breakpoint
("continuous") or with a jump ("jump") — and keeping the model an information criterion prefers.

Uncertainties: the least-squares covariance scaled by ``max(1, χ²_red)`` when the conductivity
errors are given (never smaller than the stated errors, inflated by the Birge ratio when the
scatter exceeds them), or by ``χ²_red`` when they are not. The breakpoint location is treated
as known when computing the segment covariances (conditional errors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from eis_pipeline.conventions import BOLTZMANN_EV_PER_K, ROOM_TEMPERATURE_K
from eis_pipeline.physics.geometry import Geometry
from eis_pipeline.vocabulary import ArrheniusForm, TemperatureLaw

__all__ = ["BOLTZMANN_EV_PER_K", "ROOM_TEMPERATURE_K", "arrhenius", "arrhenius_by_component", "vtf"]

#: RMS residual of ln σ (≈ relative error of σ) below which the criterion sees no difference
#: between models: 0.1 % is below the reproducibility of any pellet measurement. It keeps the
#: criterion finite for noise-free data (which then get the simplest model). Note that σT-law
#: data fitted in the σ form are genuinely curved (0.5 % RMS over 250–350 K): noise-free, they
#: are split, as they should be; with real noise of a few % they are not.
_RESIDUAL_FLOOR = 1e-3

#: Parameters charged for a breakpoint in the criterion. One is too few: a search over every
#: gap finds spurious splits in 10-40 % of noisy straight lines (measured with BIC and AICc).
_BREAKPOINT_PARAMS = 3

#: Temperatures closer than this (K) count as one temperature: two pellets measured "at 25 °C",
#: or a thermocouple's few-mK jitter between repeats. A line through points 1e-6 K apart has
#: any slope (E_a of 1e5 eV, a prefactor overflowing a float); no transition can be located
#: between them, and a segment needs two distinct temperatures.
_SAME_TEMPERATURE_K = 0.5

FloatArray = NDArray[np.float64]
Form = ArrheniusForm


@dataclass
class _Fit:
    """One candidate model: per-segment (ln σ₀, E_a) and their 2×2 covariances."""

    model: str
    params: list[FloatArray]  # per segment: array([ln σ0, Ea])
    covs: list[FloatArray]  # per segment: 2x2
    segments: list[NDArray[np.bool_]]  # point masks, low temperature first
    rss: float
    n_coef: int  # fitted coefficients, breakpoint excluded
    breakpoint_x: float = math.nan
    bracket_x: tuple[float, float] = (math.nan, math.nan)
    fitted: FloatArray = field(default_factory=lambda: np.empty(0))
    searched: bool = True  # breakpoint found by a search (charged in the criterion) or given


@dataclass
class _Table:
    """A law's results before they become a Dataset: variables as ``(dims, values[, attrs])``
    in order, and the dataset's attributes. :func:`arrhenius_by_component` stacks the tables
    of the components into one Dataset instead of concatenating a Dataset per component."""

    variables: dict[str, tuple[Any, ...]]
    attrs: dict[str, Any]
    n_segments: int | None = None  # length of the ``segment`` coordinate; None: no segments

    def dataset(self) -> xr.Dataset:
        coords = {} if self.n_segments is None else {"segment": np.arange(self.n_segments)}
        return xr.Dataset(self.variables, coords=coords, attrs=self.attrs)


def _wls(design: FloatArray, y: FloatArray,
         w: FloatArray) -> tuple[FloatArray, FloatArray, float] | None:
    """Weighted least squares: coefficients, unscaled covariance (XᵀWX)⁻¹, weighted RSS."""
    sw = np.sqrt(w)
    return _weighted_ls(design * sw[:, None], y * sw)


def _weighted_ls(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray, float] | None:
    """:func:`_wls` of the weighted design ``a`` = X √w and data ``b`` = y √w."""
    coef, _, rank, _ = np.linalg.lstsq(a, b, rcond=None)
    if rank < a.shape[1]:
        return None
    try:
        cov = np.asarray(np.linalg.inv(a.T @ a), dtype=np.float64)
    except np.linalg.LinAlgError:  # full rank by lstsq's tolerance, singular in the square
        return None
    resid = b - a @ coef
    return np.asarray(coef, dtype=np.float64), cov, float(resid @ resid)


def _line(x: FloatArray, y: FloatArray, w: FloatArray) -> _Fit | None:
    res = _wls(np.column_stack([np.ones_like(x), x]), y, w)
    if res is None:
        return None
    coef, cov, rss = res
    jac = np.array([[1.0, 0.0], [0.0, -1.0]])  # (ln σ0, slope) -> (ln σ0, Ea = -slope)
    return _Fit("line", [jac @ coef], [jac @ cov @ jac.T], [np.ones(x.size, bool)], rss, 2,
                fitted=coef[0] + coef[1] * x)


def _jump(x: FloatArray, y: FloatArray, w: FloatArray, m: int,
          allowed: NDArray[np.bool_]) -> _Fit | None:
    """Two independent lines; the split between consecutive points minimising the RSS.

    ``x`` is sorted descending (``x = 1/k_B T``), so the first points are the coldest;
    ``allowed[i]``: a split between points i-1 and i is admissible (see :func:`_admissible`).
    """
    best: _Fit | None = None
    for i in range(m, x.size - m + 1):
        if not allowed[i]:
            continue
        fit = _jump_split(x, y, w, i, 0.5 * (float(x[i - 1]) + float(x[i])))
        if fit is not None and (best is None or fit.rss < best.rss):
            best = fit
    return best


def _jump_split(x: FloatArray, y: FloatArray, w: FloatArray, i: int,
                breakpoint_x: float) -> _Fit | None:
    """Two independent lines, the first ``i`` (coldest) points in the low-temperature one."""
    low = np.arange(x.size) < i
    design = np.column_stack([low, low * x, ~low, ~low * x]).astype(float)
    res = _wls(design, y, w)
    if res is None:
        return None
    coef, cov, rss = res
    params, covs = [], []
    for j in (0, 2):
        jac = np.zeros((2, 4))
        jac[0, j], jac[1, j + 1] = 1.0, -1.0
        params.append(jac @ coef)
        covs.append(jac @ cov @ jac.T)
    bracket = (float(x[i - 1]), float(x[i]))
    return _Fit("jump", params, covs, [low, ~low], rss, 4, breakpoint_x, bracket,
                fitted=design @ coef)


def _hinge_at(x: FloatArray, y: FloatArray, w: FloatArray,
              xb: float) -> tuple[FloatArray, FloatArray, float, FloatArray] | None:
    d = x - xb
    design = np.column_stack([np.ones_like(x), np.maximum(d, 0.0), np.minimum(d, 0.0)])
    res = _wls(design, y, w)
    return None if res is None else (*res, design)


def _hinge(x: FloatArray, y: FloatArray, w: FloatArray, m: int,
           allowed: NDArray[np.bool_]) -> _Fit | None:
    """Two lines meeting at a breakpoint x_b, searched over every admissible gap."""
    from scipy.optimize import minimize_scalar

    # The search evaluates ~20 breakpoints per gap: the weighted design of _hinge_at is
    # filled in place (the same products, so the same RSS bit for bit).
    sw = np.sqrt(w)
    a, b = np.empty((x.size, 3)), y * sw
    a[:, 0] = sw

    def rss(xb: float) -> float:
        d = x - xb
        np.multiply(np.maximum(d, 0.0), sw, out=a[:, 1])
        np.multiply(np.minimum(d, 0.0), sw, out=a[:, 2])
        res = _weighted_ls(a, b)
        return math.inf if res is None else res[2]

    best_xb, best_rss, best_gap = math.nan, math.inf, (math.nan, math.nan)
    # The kink lies between x[i-1] and x[i] with >= m points on each side (endpoints allowed,
    # a point exactly at the kink fits both segments).
    for i in range(m, x.size - m + 1):
        hi, lo = float(x[i - 1]), float(x[i])
        if not allowed[i]:
            continue
        opt = minimize_scalar(rss, bounds=(lo, hi), method="bounded",
                              options={"xatol": 1e-9 * max(abs(hi), 1.0)})
        for xb, r in ((float(opt.x), float(opt.fun)), (lo, rss(lo)), (hi, rss(hi))):
            if r < best_rss:
                best_xb, best_rss, best_gap = xb, r, (hi, lo)
    if not math.isfinite(best_rss):
        return None
    return _hinge_fit(x, y, w, best_xb, best_gap)


def _hinge_fit(x: FloatArray, y: FloatArray, w: FloatArray, xb: float,
               gap: tuple[float, float]) -> _Fit | None:
    """Two lines meeting at ``xb``; ``gap`` = x of the measured points on either side."""
    res = _hinge_at(x, y, w, xb)
    if res is None:
        return None
    coef, cov, rss_value, design = res
    # Segment low T (x >= xb): ln σ0 = c - b_lo x_b, Ea = -b_lo; high T likewise with b_hi.
    jacs = [np.array([[1.0, -xb, 0.0], [0.0, -1.0, 0.0]]),
            np.array([[1.0, 0.0, -xb], [0.0, 0.0, -1.0]])]
    low = x >= xb
    return _Fit("continuous", [j @ coef for j in jacs], [j @ cov @ j.T for j in jacs],
                [low, ~low], rss_value, 3, xb, gap, fitted=design @ coef)


def _at_known_breakpoint(x: FloatArray, y: FloatArray, w: FloatArray, xb: float,
                         m: int, allowed: NDArray[np.bool_]) -> list[_Fit] | str:
    """Continuous and jump models split at a given breakpoint ``xb`` (not searched).

    Points colder than the breakpoint (``x > xb``) form the low-temperature segment. Returns
    the reason instead when a side has fewer than ``m`` points.
    """
    i = int(np.sum(x > xb))  # x descends: the first i points are colder than the breakpoint
    if i < m or x.size - i < m:
        return (f"{i} point(s) below and {x.size - i} above the given breakpoint; "
                f"each side needs >= {m}: one line")
    if not allowed[i]:
        return (f"a side of the given breakpoint holds one temperature (within "
                f"{_SAME_TEMPERATURE_K} K): no slope to fit there; one line")
    gap = (float(x[i - 1]), float(x[i]))
    fits = [_hinge_fit(x, y, w, xb, gap), _jump_split(x, y, w, i, xb)]
    out = [f for f in fits if f is not None]
    for f in out:
        f.searched = False
    return out


def _series_points(temperature_K: ArrayLike, conductivity_S_cm: ArrayLike
                   ) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """T and σ as flat float arrays, and the usable points (finite, positive)."""
    t = np.asarray(temperature_K, dtype=np.float64).ravel()
    s = np.asarray(conductivity_S_cm, dtype=np.float64).ravel()
    if t.shape != s.shape:
        raise ValueError(f"temperature_K has {t.size} values but conductivity_S_cm {s.size}")
    return t, s, np.isfinite(t) & np.isfinite(s) & (t > 0) & (s > 0)
def _admissible(t: FloatArray) -> NDArray[np.bool_]:
    """``allowed[i]`` for i in 0..n: a breakpoint may lie between the sorted temperatures
    ``t[i-1]`` and ``t[i]``: they differ by more than :data:`_SAME_TEMPERATURE_K` and each side
    holds at least two distinct temperatures (a segment at one temperature has no slope)."""
    group = np.concatenate([[0], np.cumsum(np.diff(t) > _SAME_TEMPERATURE_K)])
    allowed = np.zeros(t.size + 1, dtype=bool)
    i = np.arange(1, t.size)
    allowed[1:-1] = (group[i] != group[i - 1]) & (group[i - 1] >= 1) & (group[-1] - group[i] >= 1)
    return allowed


def _criterion(fit: _Fit, n: int, kind: str) -> float:
    """BIC or AICc for Gaussian residuals of unknown variance (weights relative)."""
    # + 1 for the residual variance; the breakpoint, chosen by a search over every gap, costs
    # more than one ordinary parameter (change-point literature): see _BREAKPOINT_PARAMS.
    k = fit.n_coef + 1 + (_BREAKPOINT_PARAMS if fit.model != "line" and fit.searched else 0)
    rss = max(fit.rss, n * _RESIDUAL_FLOOR**2)
    base = n * math.log(rss / n)
    if kind == "bic":
        return base + k * math.log(n)
    if n - k - 1 <= 0:
        return math.inf
    return base + 2 * k + 2 * k * (k + 1) / (n - k - 1)


def _r_squared(y: FloatArray, fitted: FloatArray, w: FloatArray) -> float:
    if y.size < 3:
        return math.nan if y.size < 2 else 1.0
    mean = np.sum(w * y) / np.sum(w)
    tss = float(np.sum(w * (y - mean) ** 2))
    return math.nan if tss == 0 else 1.0 - float(np.sum(w * (y - fitted) ** 2)) / tss


def _empty(form: Form, n_used: int, n_dropped: int, reason: str) -> _Table:
    nan1 = np.full(1, np.nan)
    table = _table(form, {
        "activation_energy": nan1, "activation_energy_stderr": nan1, "prefactor": nan1,
        "prefactor_stderr": nan1, "temperature_min": nan1, "temperature_max": nan1,
        "segment_n_points": np.zeros(1, int), "segment_r_squared": nan1}, {
        "sigma_25C": math.nan, "sigma_25C_stderr": math.nan, "sigma_25C_extrapolated": False,
        "sigma_25C_segment": -1, "sigma_ref": math.nan, "sigma_ref_stderr": math.nan,
        "sigma_ref_extrapolated": False, "r_squared": math.nan,
        "breakpoint_temperature": math.nan,
        "breakpoint_temperature_low": math.nan, "breakpoint_temperature_high": math.nan,
        "n_points": n_used, "n_dropped": n_dropped})
    table.attrs.update(model="none", reason=reason)
    return table


_META: dict[str, tuple[str, str]] = {
    "activation_energy": ("eV", "activation energy E_a"),
    "activation_energy_stderr": ("eV", "standard error of E_a"),
    "prefactor": ("", "Arrhenius prefactor σ₀"),
    "prefactor_stderr": ("", "standard error of σ₀"),
    "temperature_min": ("K", "lowest temperature in the segment"),
    "temperature_max": ("K", "highest temperature in the segment"),
    "segment_n_points": ("1", "points in the segment"),
    "segment_r_squared": ("1", "weighted R² of the segment"),
    "sigma_25C": ("S/cm", "σ at 298.15 K from the segment containing it"),
    "sigma_25C_stderr": ("S/cm", "standard error of σ(25 °C)"),
    "sigma_25C_extrapolated": ("", "298.15 K lies outside the measured range"),
    "sigma_25C_segment": ("", "segment used for σ(25 °C)"),
    "sigma_ref": ("S/cm", "σ at the reference temperature (attribute reference_temperature_K)"),
    "sigma_ref_stderr": ("S/cm", "standard error of σ at the reference temperature"),
    "sigma_ref_extrapolated": ("", "the reference temperature lies outside the measured range"),
    "r_squared": ("1", "weighted R² of the whole model"),
    "breakpoint_temperature": ("K", "temperature of the breakpoint (NaN: none)"),
    "breakpoint_temperature_low": ("K", "measured temperature just below the breakpoint"),
    "breakpoint_temperature_high": ("K", "measured temperature just above the breakpoint"),
    "n_points": ("1", "points used"),
    "n_dropped": ("1", "points dropped (NaN, non-positive σ or T, bad stderr)"),
}


def _table(form: Form, per_segment: dict[str, ArrayLike],
           scalars: dict[str, float | int | bool]) -> _Table:
    prefactor_units = "S K/cm" if form == "sigma_T" else "S/cm"
    data = {}
    for name, values in {**per_segment, **scalars}.items():
        units, long_name = _META[name]
        if name.startswith("prefactor"):
            units = prefactor_units
        attrs = {"units": units, "long_name": long_name} if units else {"long_name": long_name}
        data[name] = (("segment",) if name in per_segment else (), values, attrs)
    table_attrs = {"form": form, "boltzmann_constant_eV_per_K": BOLTZMANN_EV_PER_K,
                   "equation": ("ln(σT) = ln σ0 - Ea/(kB T)" if form == "sigma_T"
                                else "ln σ = ln σ0 - Ea/(kB T)"), "reason": ""}
    return _Table(data, table_attrs, int(np.size(per_segment["activation_energy"])))


def arrhenius(
    temperature_K: ArrayLike,
    conductivity_S_cm: ArrayLike,
    conductivity_stderr: ArrayLike | None = None,
    form: Form = "sigma_T",
    breakpoints: Literal["auto", 0, 1] | int | str = "auto",
    *,
    breakpoint_K: float | None = None,
    min_segment_points: int = 3,
    criterion: Literal["bic", "aicc"] = "aicc",
    reference_temperature_K: float = ROOM_TEMPERATURE_K,
) -> xr.Dataset:
    """Fit an Arrhenius law to a conductivity series, splitting it at a phase transition.

    Parameters
    ----------
    temperature_K : array_like
        Temperatures in kelvin.
    conductivity_S_cm : array_like
        Conductivities in S/cm; NaN or non-positive points are dropped (counted in
        ``n_dropped``).
    conductivity_stderr : array_like, optional
        Standard errors of σ (S/cm); the fit is then weighted by ``(σ/δσ)²`` on ``ln σ``. Use
        the fit-only error (``conductivity_fit_stderr``): a geometry error is common to every
        point and does not change the slope.
    form : {"sigma_T", "sigma"}
        ``ln(σT)`` (default, most of the solid-electrolyte literature) or ``ln σ`` against 1/T
        (PHYSICS.md section 6); E_a(σ form) ≈ E_a(σT form) - k_B T.
    breakpoints : {"auto", 0, 1}
        0: one line; 1: two segments (when there are enough points); "auto": two segments
        only when the information criterion prefers them over one line.
    breakpoint_K : float, optional
        A known transition temperature (e.g. 529 K for Na₂B₁₂H₁₂, from calorimetry): the two
        segments are split there instead of searched, and the breakpoint costs no extra
        parameter in the criterion. With ``breakpoints="auto"`` one line may still win; with
        1 the better of the continuous and jump models is kept. A side with fewer than
        ``min_segment_points`` points gives one line, said in ``reason``.
    min_segment_points : int
        Minimum points per segment (default 3).
    reference_temperature_K : float
        Where ``sigma_ref`` is reported (default 298.15 K, where ``sigma_25C`` always is);
        ``sigma_ref_extrapolated`` says when it lies outside the measured range.
    criterion : {"aicc", "bic"}
        Information criterion comparing one line, two continuous segments and two segments with
        a jump. The breakpoint counts as 3 parameters (it is searched over every gap). With
        AICc (default) a split needs at least 9 points (continuous) or 10 (jump). Measured on
        simulated straight lines with 0.5 % or 3 % noise: no split in 60 series each of 8, 12
        or 20 points, 2 of 60 at 30 points; a 0.5 → 0.3 eV slope change or a 3x jump mid-range
        was found in 95–100 % of series from 12 points on.

    Returns
    -------
    xarray.Dataset
        Along ``segment`` (low temperature first): ``activation_energy`` (eV), ``prefactor``
        (S K/cm or S/cm) with ``_stderr``, ``temperature_min/max``, ``segment_n_points``,
        ``segment_r_squared``. Scalars: ``sigma_25C`` and ``sigma_25C_stderr`` (S/cm),
        ``sigma_25C_extrapolated``, ``sigma_25C_segment``, ``sigma_ref`` (+ ``_stderr``,
        ``_extrapolated``) at ``reference_temperature_K`` (an attribute), ``r_squared``,
        ``breakpoint_temperature`` (+ ``_low``/``_high`` bracketing measured temperatures),
        ``n_points``, ``n_dropped``. Attributes ``form``, ``model`` (``line``, ``continuous``,
        ``jump``, ``none``), ``criterion`` values, ``reason`` (why results are NaN, or what was
        done differently from what was asked, e.g. an unweighted fallback; else "").

    Examples
    --------
    >>> T = np.array([250.0, 275.0, 300.0, 325.0, 350.0])
    >>> sigma = 1e5 / T * np.exp(-0.35 / (BOLTZMANN_EV_PER_K * T))
    >>> res = arrhenius(T, sigma, breakpoints=0)
    >>> round(float(res.activation_energy[0]), 9)
    0.35
    """
    return _arrhenius_table(temperature_K, conductivity_S_cm, conductivity_stderr, form,
                            breakpoints, breakpoint_K=breakpoint_K,
                            min_segment_points=min_segment_points, criterion=criterion,
                            reference_temperature_K=reference_temperature_K).dataset()


def _arrhenius_table(
    temperature_K: ArrayLike,
    conductivity_S_cm: ArrayLike,
    conductivity_stderr: ArrayLike | None,
    form: Form,
    breakpoints: Literal["auto", 0, 1] | int | str,
    *,
    breakpoint_K: float | None,
    min_segment_points: int,
    criterion: Literal["bic", "aicc"],
    reference_temperature_K: float,
) -> _Table:
    """:func:`arrhenius`, its result as a :class:`_Table`."""
    if form not in ("sigma_T", "sigma"):
        raise ValueError(f"form must be 'sigma_T' or 'sigma', got {form!r}")
    if not (math.isfinite(reference_temperature_K) and reference_temperature_K > 0):
        raise ValueError("reference_temperature_K must be a positive temperature in K, got "
                         f"{reference_temperature_K!r}")
    if breakpoints not in ("auto", 0, 1):
        raise ValueError(f"breakpoints must be 'auto', 0 or 1, got {breakpoints!r}")
    if criterion not in ("bic", "aicc"):
        raise ValueError(f"criterion must be 'bic' or 'aicc', got {criterion!r}")
    if breakpoint_K is not None:
        if not (math.isfinite(breakpoint_K) and breakpoint_K > 0):
            raise ValueError(f"breakpoint_K must be a positive temperature in K, "
                             f"got {breakpoint_K!r}")
        if breakpoints == 0:
            raise ValueError("breakpoints=0 (one line) contradicts breakpoint_K="
                             f"{breakpoint_K!r}; drop one of them")
    t, s, ok = _series_points(temperature_K, conductivity_S_cm)
    weighted = conductivity_stderr is not None
    note = ""
    if weighted:
        ds_ = np.broadcast_to(np.asarray(conductivity_stderr, dtype=np.float64), s.shape)
        good_err = np.isfinite(ds_) & (ds_ > 0)
        if not np.all(good_err[ok]):
            # Weights for some points only would be arbitrary; dropping good conductivities
            # for a missing error would lose data. Fit unweighted and say so.
            weighted = False
            note = (f"{int((~good_err[ok]).sum())} conductivity_stderr value(s) NaN or <= 0: "
                    "fitted unweighted")
    n_dropped = int(t.size - ok.sum())
    if ok.sum() < 2:
        return _empty(form, int(ok.sum()), n_dropped,
                      f"fewer than 2 usable points ({int(ok.sum())} after dropping {n_dropped})")
    order = np.argsort(t[ok])  # coldest first, so x = 1/(kB T) descends
    t, s = t[ok][order], s[ok][order]
    x = 1.0 / (BOLTZMANN_EV_PER_K * t)
    y = np.log(s) + (np.log(t) if form == "sigma_T" else 0.0)
    w = (s / ds_[ok][order]) ** 2 if weighted else np.ones_like(t)
    w_scale = float(w.mean())
    w = w / w_scale  # relative weights: the criterion is scale-free; _report restores the scale
    n = t.size

    line = _line(x, y, w) if t[-1] - t[0] > _SAME_TEMPERATURE_K else None
    if line is None:
        return _empty(form, n, n_dropped, f"all temperatures are equal (within "
                      f"{_SAME_TEMPERATURE_K} K): no slope to fit")
    allowed = _admissible(t)
    candidates = [line]
    if breakpoint_K is not None:
        split = _at_known_breakpoint(x, y, w, 1.0 / (BOLTZMANN_EV_PER_K * breakpoint_K),
                                     min_segment_points, allowed)
        if isinstance(split, str):
            note = f"{note}; {split}" if note else split
        else:
            candidates += split
    elif breakpoints != 0:
        if n >= 2 * min_segment_points:
            candidates += [f for f in (_hinge(x, y, w, min_segment_points, allowed),
                                       _jump(x, y, w, min_segment_points, allowed))
                           if f is not None]
        elif breakpoints == 1:
            why = f"breakpoints=1 needs >= {2 * min_segment_points} points, got {n}: one line"
            note = f"{note}; {why}" if note else why
    scores = {f.model: _criterion(f, n, criterion) for f in candidates}
    pool = candidates if breakpoints != 1 or len(candidates) == 1 else candidates[1:]
    best = min(pool, key=lambda f: scores[f.model])
    return _report(best, t, x, y, w, w_scale, weighted, form, n_dropped, scores, criterion, note,
                   reference_temperature_K)


def _sigma_at(fit: _Fit, temperature_K: float, form: Form,
              scale: float) -> tuple[float, float, int]:
    """σ (S/cm) and its standard error at ``temperature_K`` from the segment holding it
    (segments split at the breakpoint), and that segment's index."""
    xt = 1.0 / (BOLTZMANN_EV_PER_K * temperature_K)
    seg = 0 if len(fit.params) == 1 or xt >= fit.breakpoint_x else 1
    p, cov = fit.params[seg], fit.covs[seg] * scale
    grad = np.array([1.0, -xt])  # y = ln σ0 - Ea x
    y_t = float(p[0] - p[1] * xt)
    sd_y = math.sqrt(max(float(grad @ cov @ grad), 0.0)) if np.all(np.isfinite(cov)) \
        else math.nan
    sigma = _exp(y_t) / (temperature_K if form == "sigma_T" else 1.0)
    return sigma, sigma * sd_y, seg


def _exp(value: float) -> float:
    """exp that gives inf beyond the float range (a prefactor of 1e400 S K/cm is reported as
    inf, with its E_a, instead of stopping the sample with OverflowError)."""
    return math.exp(value) if value < 709.0 else math.inf


def _report(fit: _Fit, t: FloatArray, x: FloatArray, y: FloatArray, w: FloatArray,
            w_scale: float, weighted: bool, form: Form, n_dropped: int, scores: dict[str, float],
            criterion: str, reason: str, reference_K: float) -> _Table:
    n = t.size
    dof = n - fit.n_coef - (0 if fit.model == "line" else 1)
    # The fit ran on weights normalised to mean 1; w_scale (the mean of the true weights
    # (σ/δσ)²) turns its covariance and RSS back into absolute ones.
    chi2_red = fit.rss * w_scale / dof if dof > 0 else math.nan
    scale = (max(1.0, chi2_red) if dof > 0 else 1.0) / w_scale if weighted else chi2_red
    ea, ea_err, pre, pre_err, tmin, tmax, npts, r2 = ([] for _ in range(8))
    for p, c, mask in zip(fit.params, fit.covs, fit.segments, strict=True):
        cov = c * scale
        ea.append(p[1])
        ea_err.append(math.sqrt(cov[1, 1]) if np.isfinite(cov[1, 1]) else math.nan)
        pre.append(_exp(p[0]))
        pre_err.append(_exp(p[0]) * math.sqrt(cov[0, 0]) if np.isfinite(cov[0, 0])
                       else math.nan)
        tmin.append(float(t[mask].min()))
        tmax.append(float(t[mask].max()))
        npts.append(int(mask.sum()))
        r2.append(_r_squared(y[mask], fit.fitted[mask], w[mask]))
    sigma25, sigma25_err, seg = _sigma_at(fit, ROOM_TEMPERATURE_K, form, scale)
    sigma_ref, sigma_ref_err, _ = _sigma_at(fit, reference_K, form, scale)
    bp_t = 1.0 / (BOLTZMANN_EV_PER_K * fit.breakpoint_x) if fit.model != "line" else math.nan
    lo_t, hi_t = ((1.0 / (BOLTZMANN_EV_PER_K * fit.bracket_x[0]),
                   1.0 / (BOLTZMANN_EV_PER_K * fit.bracket_x[1]))
                  if fit.model != "line" else (math.nan, math.nan))
    table = _table(form, {
        "activation_energy": np.array(ea), "activation_energy_stderr": np.array(ea_err),
        "prefactor": np.array(pre), "prefactor_stderr": np.array(pre_err),
        "temperature_min": np.array(tmin), "temperature_max": np.array(tmax),
        "segment_n_points": np.array(npts), "segment_r_squared": np.array(r2)}, {
        "sigma_25C": sigma25, "sigma_25C_stderr": sigma25_err,
        "sigma_25C_extrapolated": not t.min() <= ROOM_TEMPERATURE_K <= t.max(),
        "sigma_25C_segment": seg, "sigma_ref": sigma_ref, "sigma_ref_stderr": sigma_ref_err,
        "sigma_ref_extrapolated": not t.min() <= reference_K <= t.max(),
        "r_squared": _r_squared(y, fit.fitted, w),
        "breakpoint_temperature": bp_t, "breakpoint_temperature_low": lo_t,
        "breakpoint_temperature_high": hi_t, "n_points": n, "n_dropped": n_dropped})
    table.attrs.update(model=fit.model, criterion=criterion, reference_temperature_K=reference_K,
                       weighting="(σ/δσ)² on ln σ" if weighted else "unweighted",
                       reduced_chi_square=chi2_red, reason=reason,
                       **{f"{criterion}_{k}": v for k, v in scores.items()})
    return table


def arrhenius_by_component(
    cond: xr.Dataset,
    form: TemperatureLaw = "sigma_T",
    breakpoints: Literal["auto", 0, 1] | int | str = "auto",
    *,
    breakpoint_K: float | None = None,
    min_segment_points: int = 3,
    criterion: Literal["bic", "aicc"] = "aicc",
    weighting: Literal["fit_stderr", "none"] = "fit_stderr",
    reference_temperature_K: float = ROOM_TEMPERATURE_K,
) -> xr.Dataset:
    """:func:`arrhenius` for every component of a :func:`~eis_pipeline.physics.conductivity`
    result, over its ``temperature`` coordinate; :func:`vtf` with ``form="vtf"`` (no
    breakpoint: ``breakpoints`` is then ignored and ``breakpoint_K`` refused).

    ``weighting="fit_stderr"`` (default) weights by ``conductivity_fit_stderr``;
    ``"none"`` fits unweighted, as most of the literature does (a point with a tiny fit error
    then cannot dominate the line). The geometry error is common to every point and moves σ₀
    and σ(T_ref), not E_a (it is added to ``sigma_25C_stderr``, ``sigma_ref_stderr`` and
    ``prefactor_stderr`` in quadrature here, from ``cond.attrs``). The output's ``weighting``
    attribute records the choice.

    Returns
    -------
    xarray.Dataset
        The :func:`arrhenius` variables with a leading ``component`` dimension (``segment``
        padded with NaN where components differ); ``model`` and ``reason`` become
        ``(component,)`` string variables.
    """
    if "temperature" not in cond.coords:
        raise ValueError("the conductivity dataset has no 'temperature' coordinate: "
                         "fit spectra that carry a temperature, or call arrhenius() directly")
    if weighting not in ("fit_stderr", "none"):
        raise ValueError(f"weighting must be 'fit_stderr' or 'none', got {weighting!r}")
    attrs = cond.attrs
    geometry = Geometry.from_attrs(attrs)
    geo_rel = 0.0 if geometry is None else math.sqrt(geometry.relative_variance)
    if form == "vtf" and breakpoint_K is not None:
        raise ValueError("a VTF law has no breakpoint: give breakpoint_K only with the "
                         "Arrhenius forms")
    components = cond["component"].values
    weighted = weighting == "fit_stderr" and "conductivity_fit_stderr" in cond.variables
    tables = []
    for i in range(components.size):
        # the component's values by position: Variable.isel, not a Dataset.sel per component
        def values(name: str, i: int = i) -> Any:
            return cond.variables[name].isel(component=i, missing_dims="ignore").values

        err = values("conductivity_fit_stderr") if weighted else None
        if form == "vtf":
            table = _vtf_table(values("temperature"), values("conductivity"), err,
                               reference_temperature_K)
            table.attrs["model"] = "vtf"
        else:
            table = _arrhenius_table(values("temperature"), values("conductivity"), err, form,
                                     breakpoints, breakpoint_K=breakpoint_K,
                                     min_segment_points=min_segment_points,
                                     criterion=criterion,
                                     reference_temperature_K=reference_temperature_K)
        tables.append(table)
    return _by_component(tables, [str(c) for c in components], geo_rel, criterion, {
        "geometry_relative_stderr": geo_rel, "weighting": weighting, "form": form,
        "reference_temperature_K": float(reference_temperature_K)})


def _by_component(tables: list[_Table], components: list[str], geo_rel: float,
                  criterion: str, attrs: dict[str, Any]) -> xr.Dataset:
    """The components' tables as one Dataset along a leading ``component`` dimension, with
    the geometry error added and ``model`` and ``reason`` as variables; ``attrs`` update the
    merged attributes.

    It is what ``xr.concat`` of one Dataset per component gives (``join="outer"``,
    ``combine_attrs="drop_conflicts"``; results identical, variables and attributes in the
    same order), built with one numpy stack per variable: the xarray route cost three times
    the fits. ``segment`` is NaN-padded to the longest, an integer variable then becoming
    float as xarray's NaN fill makes it.
    """
    n_seg = (None if tables[0].n_segments is None
             else max(t.n_segments or 0 for t in tables))
    data: dict[str, tuple[Any, ...]] = {}
    for name, (dims, *_) in tables[0].variables.items():
        parts = [np.asarray(t.variables[name][1]) for t in tables]
        if "segment" in dims and n_seg is not None:
            parts = [_padded(p, n_seg) for p in parts]
        data[name] = (("component", *dims), np.stack(parts),
                      _agreed([dict(*t.variables[name][2:]) for t in tables]))
    for name in ("sigma_25C", "sigma_ref", "prefactor"):
        # the geometry error is common to every point: it moves σ0 and σ(T_ref), not E_a
        dims, fit_err, err_attrs = data[f"{name}_stderr"]
        data[f"{name}_stderr"] = (dims, (fit_err**2 + (data[name][1] * geo_rel) ** 2) ** 0.5,
                                  err_attrs)
    for key in ("model", "reason"):
        data[key] = (("component",), np.stack([np.asarray(t.attrs[key]) for t in tables]))
    # the per-fit attributes (scores, χ², weighting) stay out: they differ by component
    dropped = {"model", "reason", "reduced_chi_square", "weighting"}
    merged = _agreed([{k: v for k, v in t.attrs.items()
                       if k not in dropped and not k.startswith(criterion + "_")}
                      for t in tables])
    coords: dict[str, Any] = {"component": np.array(components, dtype=object)}
    if n_seg is not None:
        coords["segment"] = np.arange(n_seg)
        if any(t.n_segments != n_seg for t in tables):   # xarray's join puts it first then
            coords = {"segment": coords.pop("segment"), **coords}
    return xr.Dataset(data, coords=coords, attrs={**merged, **attrs})


def _padded(values: NDArray[Any], size: int) -> NDArray[Any]:
    """``values`` NaN-padded to ``size`` (integers become float64)."""
    if values.shape[0] == size:
        return values
    out = np.full(size, np.nan, dtype=np.float64 if values.dtype.kind in "iu" else values.dtype)
    out[:values.shape[0]] = values
    return out


def _agreed(attrs: list[dict[str, Any]]) -> dict[str, Any]:
    """Attributes merged as xarray's ``combine_attrs="drop_conflicts"`` merges them: keys in
    order of first appearance, a key dropped once two values differ (NaN equals NaN)."""
    out: dict[str, Any] = {}
    dropped: set[str] = set()
    for each in attrs:
        for key, value in each.items():
            if key in dropped:
                continue
            if key not in out:
                out[key] = value
            elif not (out[key] == value or (isinstance(value, float) and math.isnan(value)
                                            and isinstance(out[key], float)
                                            and math.isnan(out[key]))):
                del out[key]
                dropped.add(key)
    return out


def vtf(
    temperature_K: ArrayLike,
    conductivity_S_cm: ArrayLike,
    conductivity_stderr: ArrayLike | None = None,
    *,
    reference_temperature_K: float = ROOM_TEMPERATURE_K,
) -> xr.Dataset:
    """Vogel-Tammann-Fulcher fit for glassy and polymer electrolytes.

    PHYSICS.md section 6 gives only the Arrhenius forms; VTF is the usual law above the glass
    transition, where ln σ against 1/T is curved (with T₀ -> 0 it is Arrhenius in σ√T).

    ``σ = A T^(-1/2) exp(-B / (k_B (T - T₀)))``, i.e. ``ln(σ √T) = ln A - B/(k_B (T - T₀))``:
    B is the pseudo-activation energy (eV), T₀ the ideal glass-transition temperature
    (0 < T₀ < the coldest point). For each T₀ the fit is linear in (ln A, B); T₀ is found by
    minimising the (weighted) residual over it, and the standard errors come from the full
    3-parameter Jacobian at the optimum, scaled as in :func:`arrhenius`.

    Returns
    -------
    xarray.Dataset
        Scalars ``activation_energy`` (B, eV), ``prefactor`` (A, S K^½/cm), ``vtf_T0`` (K),
        each with ``_stderr``; ``sigma_ref`` (+ ``_stderr``, ``_extrapolated``) at
        ``reference_temperature_K`` and ``sigma_25C`` (the same at 25 °C),
        ``temperature_min``/``_max``, ``n_points``; attributes ``form="vtf"``, ``equation``,
        ``reduced_chi_square``, ``reason`` (why results are NaN, else "").

    Examples
    --------
    >>> T = np.linspace(260.0, 400.0, 8)
    >>> sigma = 20.0 / np.sqrt(T) * np.exp(-0.06 / (BOLTZMANN_EV_PER_K * (T - 190.0)))
    >>> res = vtf(T, sigma)
    >>> round(float(res.activation_energy), 6), round(float(res.vtf_T0), 3)
    (0.06, 190.0)
    """
    return _vtf_table(temperature_K, conductivity_S_cm, conductivity_stderr,
                      reference_temperature_K).dataset()


def _vtf_table(temperature_K: ArrayLike, conductivity_S_cm: ArrayLike,
               conductivity_stderr: ArrayLike | None, reference_temperature_K: float) -> _Table:
    """:func:`vtf`, its result as a :class:`_Table`."""
    from scipy.optimize import minimize_scalar

    t, s, ok = _series_points(temperature_K, conductivity_S_cm)
    weighted = conductivity_stderr is not None
    if weighted:
        err = np.broadcast_to(np.asarray(conductivity_stderr, dtype=np.float64), s.shape)
        ok &= np.isfinite(err) & (err > 0)
    names = ("activation_energy", "prefactor", "vtf_T0")
    units = {"activation_energy": "eV", "prefactor": "S K^0.5/cm", "vtf_T0": "K"}
    out: dict[str, float] = dict.fromkeys(
        [*names, *(f"{n}_stderr" for n in names), "sigma_ref", "sigma_ref_stderr",
         "sigma_25C", "sigma_25C_stderr"], math.nan)
    reason = ""
    t, s = t[ok], s[ok]
    w = (s / err[ok]) ** 2 if weighted else np.ones_like(t)
    y = np.log(s * np.sqrt(t))
    chi2_red = math.nan
    if t.size < 4 or np.unique(t).size < 4:
        reason = f"a VTF fit needs >= 4 distinct temperatures, got {np.unique(t).size}"
    else:
        def line(t0: float) -> tuple[FloatArray, float]:
            z = 1.0 / (BOLTZMANN_EV_PER_K * (t - t0))
            a = np.column_stack([np.ones_like(z), -z]) * np.sqrt(w)[:, None]
            coef = np.linalg.lstsq(a, y * np.sqrt(w), rcond=None)[0]
            r = a @ coef - y * np.sqrt(w)
            return coef, float(r @ r)

        t_cold = float(t.min())
        opt = minimize_scalar(lambda t0: line(t0)[1], bounds=(0.0, t_cold * (1 - 1e-6)),
                              method="bounded", options={"xatol": 1e-10 * t_cold})
        t0 = float(opt.x)
        (ln_a, b), rss = line(t0)
        z = 1.0 / (BOLTZMANN_EV_PER_K * (t - t0))
        jac = np.column_stack([np.ones_like(z), -z, -b * BOLTZMANN_EV_PER_K * z**2])
        dof = t.size - 3
        chi2_red = rss / dof
        scale = max(1.0, chi2_red) if weighted else chi2_red
        try:
            cov = np.linalg.inv(jac.T @ (jac * w[:, None])) * scale
        except np.linalg.LinAlgError:
            cov = np.full((3, 3), np.nan)
        sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
        out.update(activation_energy=float(b), activation_energy_stderr=float(sd[1]),
                   prefactor=math.exp(ln_a), prefactor_stderr=math.exp(ln_a) * float(sd[0]),
                   vtf_T0=t0, vtf_T0_stderr=float(sd[2]))
        for key, tr in (("sigma_ref", reference_temperature_K),
                        ("sigma_25C", ROOM_TEMPERATURE_K)):
            if tr > t0:
                zr = 1.0 / (BOLTZMANN_EV_PER_K * (tr - t0))
                g = np.array([1.0, -zr, -b * BOLTZMANN_EV_PER_K * zr**2])
                sig = math.exp(ln_a - b * zr) / math.sqrt(tr)
                out[key] = sig
                out[f"{key}_stderr"] = sig * math.sqrt(max(g @ cov @ g, 0.0))
        if t0 <= 1e-6 * t_cold or t0 >= t_cold * (1 - 1e-5):
            reason = f"T0 at the edge of its range ({t0:.3g} K): the data do not fix it"
    data: dict[str, Any] = {k: ((), v, {"units": units.get(k.removesuffix("_stderr"), "S/cm")})
                            for k, v in out.items()}
    for key, tr in (("sigma_ref", reference_temperature_K), ("sigma_25C", ROOM_TEMPERATURE_K)):
        data[f"{key}_extrapolated"] = ((), bool(t.size) and not t.min() <= tr <= t.max())
    data["sigma_25C_segment"] = ((), 0)     # one law: the campaign summary's segment index
    data["temperature_min"] = ((), float(t.min()) if t.size else math.nan, {"units": "K"})
    data["temperature_max"] = ((), float(t.max()) if t.size else math.nan, {"units": "K"})
    data["n_points"] = ((), int(t.size))
    return _Table(data, {"form": "vtf", "equation": "σ = A T^(-1/2) exp(-B/(k_B (T - T0)))",
                         "reference_temperature_K": float(reference_temperature_K),
                         "boltzmann_constant_eV_per_K": BOLTZMANN_EV_PER_K,
                         "weighting": "(σ/δσ)² on ln σ" if weighted else "unweighted",
                         "reduced_chi_square": chi2_red, "reason": reason})
