"""Distribution of relaxation times (DRT) by Tikhonov-regularised non-negative least squares.

Model and normalisation
-----------------------
The impedance is written as a continuous Voigt circuit over ln τ::

    Z(ω) = R_inf + jωL + ∫ γ(ln τ) / (1 + jωτ) d ln τ

so γ is in ohm per unit ln τ and the area under a peak, ∫ γ d ln τ, is the resistance of that
relaxation; the total area is the polarisation resistance Z'(0) - R_inf. (Per decade of τ,
multiply γ by ln 10.) Blocking-electrode spectra add an electrode term, below.

Discretisation: γ is sampled on a uniform ln-τ grid (``points_per_decade``) that reaches
``extend_decades`` beyond 1/ω_max and 1/ω_min, and the integral becomes a sum with weight
Δ ln τ. Rows are weighted by 1/|Z| (modulus weighting, PHYSICS.md section 8), real and
imaginary parts stacked, so the problem is::

    minimise ||W (A0 x0 + A1 γ - Z)||² + λ ||D γ||²   subject to γ ≥ 0

with x0 = (R_inf, L, 1/Q of the electrode) unconstrained and unpenalised, D the penalty
operator (identity, first or second difference, made square by boundary rows so it is
invertible: γ is driven to zero at the grid ends, which lie outside the measured window).
Eliminating x0 by orthogonal projection leaves a non-negative least-squares problem in γ
alone, solved by :func:`scipy.optimize.nnls` on the stacked system [W A1; √λ D] γ ≈ [W Z; 0].

Choosing λ
----------
Generalised cross-validation (GCV, Golub, Heath & Wahba 1979) on the unconstrained problem: one
SVD of the problem in standard form (A1 D⁻¹) gives the GCV score for the whole λ grid in closed
form, vectorised. The GCV curve is often flat over decades with shallow minima at small λ that
give rippled γ, so the largest λ whose score is within 5 % of the minimum is used for the
constrained solve (:func:`choose_lambda`). The choice is deterministic (no random splits).
λ is dimensionless: γ is scaled by the largest |Z| of the relaxation window before fitting.

Blocking electrodes
-------------------
A capacitive spike at low frequency is not a relaxation: its CPE has a DRT that diverges at
long τ, and a series capacitance alone leaves its real part, cos(nπ/2)/(Q ω^n), to be
explained by spurious relaxations. With ``electrode="auto"`` (default) a spectrum whose
lowest-frequency point lies below -45° gets a series CPE 1/(Q (jω)^n) whose exponent n is the
log-log slope of -Z'' over the lowest points (:func:`spike_exponent`), which makes it linear
(in 1/Q) like the other series terms. The τ grid then ends ``extend_decades`` beyond the spike
onset (the minimum of -Z''), since no relaxation below that frequency can be told apart from
the electrode. ``electrode="capacitance"`` uses an ideal capacitor instead (n = 1) and
``electrode="drop"`` removes the spike points (from the minimum of -Z'' downward); both leave
part of the electrode in γ and are worse on CPE spikes, and are there for comparison.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from eis_pipeline.conventions import check_spectrum_arrays
from eis_pipeline.exceptions import EisError, SpectrumError
from eis_pipeline.validation._common import (
    ComplexArray,
    FloatArray,
    rc_columns,
    stack_real_imag,
)
from eis_pipeline.validation.drt_solve import (
    DEFAULT_LAMBDAS,
    GCV_TOLERANCE,
    Penalty,
    Solution,
    choose_lambda,
    gcv_scores,
    penalty_matrix,
    regularised_nnls_stack,
)
from eis_pipeline.validation.spike import has_capacitive_tail, spike_exponent, spike_mask

__all__ = ["DEFAULT_LAMBDAS", "GCV_TOLERANCE", "DrtPeak", "DrtResult", "choose_lambda", "drt",
           "drt_batch", "gcv_scores", "penalty_matrix", "suggest_arcs"]

#: Peaks lower than this fraction of the highest peak's prominence are ripples, not arcs.
DEFAULT_PEAK_PROMINENCE = 0.05


@dataclass(frozen=True)
class DrtPeak:
    """One peak of γ(τ).

    Attributes
    ----------
    tau_s : float
        Time constant at the maximum (s), refined by a parabola through the top three points.
    frequency_hz : float
        Characteristic frequency 1 / (2π τ) (Hz).
    resistance_ohm : float
        Area ∫ γ d ln τ between the minima either side of the peak (ohm).
    gamma_ohm : float
        Height of γ at the maximum (ohm per unit ln τ).
    """

    tau_s: float
    frequency_hz: float
    resistance_ohm: float
    gamma_ohm: float


@dataclass(frozen=True, eq=False)
class DrtResult:
    """Outcome of :func:`drt`.

    Attributes
    ----------
    tau_s : ndarray
        The τ grid (s), increasing.
    gamma_ohm : ndarray
        γ(ln τ) on the grid, ohm per unit ln τ (see the module docstring for the normalisation).
    series_resistance_ohm : float
        Fitted R_inf.
    inductance_h : float or None
        Fitted series L (H); ``None`` when not included.
    electrode_q, electrode_n : float or None
        The series electrode element 1/(Q (jω)^n): Q in F s^(n-1) and n (1 for a capacitance,
        then Q is C in F); ``None`` when not included.
    peaks : tuple of DrtPeak
        Sorted by τ.
    regularization : float
        The λ used (dimensionless).
    penalty : str
        ``"identity"``, ``"first"`` or ``"second"`` (difference order of the penalty).
    part : str
        ``"complex"`` or ``"imaginary"`` (which part of Z γ was fitted to).
    method : str
        Human-readable description of the method.
    frequency : ndarray
        All input frequencies (Hz), in the order given.
    used : ndarray of bool
        Which points entered the fit (``False`` for dropped spike points).
    impedance_fit : ndarray
        Model impedance at every input frequency (ohm).
    lambda_grid, gcv_score : ndarray
        The λ values tried and their GCV scores (``None`` when λ was given).
    """

    tau_s: FloatArray
    gamma_ohm: FloatArray
    series_resistance_ohm: float
    inductance_h: float | None
    electrode_q: float | None
    electrode_n: float | None
    peaks: tuple[DrtPeak, ...]
    regularization: float
    penalty: str
    part: str
    method: str
    frequency: FloatArray
    used: NDArray[np.bool_]
    impedance_fit: ComplexArray
    lambda_grid: FloatArray | None
    gcv_score: FloatArray | None

    @property
    def polarization_resistance_ohm(self) -> float:
        """Total area ∫ γ d ln τ (ohm): Z'(ω→0) - R_inf of the relaxations."""
        return float(self.gamma_ohm.sum() * _log_step(self.tau_s))


def drt(
    frequency: ArrayLike,
    impedance: ArrayLike,
    *,
    part: Literal["complex", "imaginary"] = "complex",
    penalty: Penalty = "first",
    regularization: float | None = None,
    lambdas: ArrayLike | None = None,
    points_per_decade: int = 10,
    extend_decades: float = 1.0,
    inductance: bool = True,
    electrode: Literal["auto", "cpe", "capacitance", "drop", "none"] = "auto",
    peak_prominence: float = DEFAULT_PEAK_PROMINENCE,
) -> DrtResult:
    """Distribution of relaxation times by regularised non-negative least squares.

    Parameters
    ----------
    frequency : array_like
        Frequencies in Hz, any order.
    impedance : array_like of complex
        Impedance in ohm with the physical sign (capacitive Z'' < 0).
    part : {"complex", "imaginary"}
        Fit γ to both parts of Z, or to the imaginary part only; R_inf is then estimated
        afterwards from the real part (weighted mean of Z' minus the relaxations).
    penalty : {"first", "second", "identity"}
        Tikhonov operator: first (default) or second difference of γ along ln τ, or γ itself.
        On noisy synthetic spectra the first difference gave the fewest spurious peaks.
    regularization : float, optional
        Fixed λ; by default chosen by generalised cross-validation over ``lambdas``.
    lambdas : array_like, optional
        λ grid for the GCV search (default ``logspace(-8, 2, 51)``).
    points_per_decade : int
        Density of the τ grid.
    extend_decades : float
        How far the τ grid reaches beyond the measured window [1/ω_max, 1/ω_min] each side.
    inductance : bool
        Include a series inductance.
    electrode : {"auto", "cpe", "capacitance", "drop", "none"}
        Treatment of a blocking-electrode spike (see the module docstring): a series CPE whose
        exponent comes from the spike's slope (``"cpe"``), a series capacitance, dropping the
        spike points, or nothing. ``"auto"``: ``"cpe"`` when the lowest-frequency point lies
        below -45°, else ``"none"``.
    peak_prominence : float
        Minimum peak prominence as a fraction of the largest prominence.

    Returns
    -------
    DrtResult

    Examples
    --------
    >>> import numpy as np
    >>> f = np.geomspace(1e6, 1e-1, 60)
    >>> z = 50 + 1000 / (1 + 1j * 2 * np.pi * f * 1e-3)
    >>> result = drt(f, z)
    >>> [(round(p.resistance_ohm, -1), round(float(np.log10(p.tau_s)), 1)) for p in result.peaks]
    [(1000.0, -3.0)]
    """
    result = drt_batch([frequency], [impedance], part=part, penalty=penalty,
                       regularization=regularization, lambdas=lambdas,
                       points_per_decade=points_per_decade, extend_decades=extend_decades,
                       inductance=inductance, electrode=electrode,
                       peak_prominence=peak_prominence)[0]
    assert result is not None   # invalid="raise": a spectrum that fails raised
    return result


def drt_batch(
    frequencies: Sequence[ArrayLike],
    impedances: Sequence[ArrayLike],
    *,
    part: Literal["complex", "imaginary"] = "complex",
    penalty: Penalty = "first",
    regularization: float | None = None,
    lambdas: ArrayLike | None = None,
    points_per_decade: int = 10,
    extend_decades: float = 1.0,
    inductance: bool = True,
    electrode: Literal["auto", "cpe", "capacitance", "drop", "none"] = "auto",
    peak_prominence: float = DEFAULT_PEAK_PROMINENCE,
    invalid: Literal["raise", "none"] = "raise",
) -> list[DrtResult | None]:
    """:func:`drt` of many spectra: one result per spectrum, those of calling it on each alone.

    The options are :func:`drt`'s and apply to every spectrum. Problems of one shape (same
    number of points, τ-grid size and series terms: a campaign's sweeps) are solved as a
    stack (:func:`eis_pipeline.validation.drt_solve.regularised_nnls_stack`), and spectra on
    the same frequencies and τ grid share their RC columns. ``invalid="none"`` gives None for
    a spectrum whose DRT cannot be computed (too few or invalid points, a factorisation that
    fails) instead of raising; an invalid option always raises.
    """
    if len(frequencies) != len(impedances):
        raise ValueError(f"drt_batch: {len(frequencies)} frequency arrays but "
                         f"{len(impedances)} impedance arrays; give one of each per spectrum")
    if part not in ("complex", "imaginary"):
        raise ValueError(f"drt: part must be 'complex' or 'imaginary', got {part!r}")
    if penalty not in ("identity", "first", "second"):
        raise ValueError(f"drt: penalty must be 'identity', 'first' or 'second', got {penalty!r}")
    if points_per_decade < 1 or extend_decades < 0:
        raise ValueError("drt: points_per_decade must be >= 1 and extend_decades >= 0, got "
                         f"{points_per_decade!r} and {extend_decades!r}")
    if regularization is not None and not regularization > 0:
        raise ValueError(f"drt: regularization must be positive, got {regularization!r}")
    if electrode not in ("auto", "cpe", "capacitance", "drop", "none"):
        raise ValueError("drt: electrode must be 'auto', 'cpe', 'capacitance', 'drop' or "
                         f"'none', got {electrode!r}")
    if invalid not in ("raise", "none"):
        raise ValueError(f"drt_batch: invalid must be 'raise' or 'none', got {invalid!r}")
    options = _Options(part, penalty, points_per_decade, extend_decades, inductance, electrode,
                       peak_prominence)
    columns: dict[tuple[bytes, bytes], ComplexArray] = {}
    problems: list[_Problem | None] = []
    for f, z in zip(frequencies, impedances, strict=True):
        try:
            problems.append(_set_up(f, z, options, columns))
        except (EisError, ValueError):
            if invalid == "raise":
                raise
            problems.append(None)
    groups: dict[tuple[tuple[int, ...], tuple[int, ...]], dict[int, _Problem]] = {}
    for i, problem in enumerate(problems):
        if problem is not None:
            groups.setdefault((problem.a0.shape, problem.a1.shape), {})[i] = problem
    results: list[DrtResult | None] = [None] * len(problems)
    how = "λ by GCV" if regularization is None else "λ given"
    for group in groups.values():
        solutions = _solve(list(group.values()), penalty, regularization, lambdas, invalid)
        for (i, problem), solution in zip(group.items(), solutions, strict=True):
            if solution is not None:
                results[i] = _result(problem, solution, options, how)
    return results


@dataclass(frozen=True)
class _Options:
    """The per-spectrum settings of one :func:`drt_batch` call, checked."""

    part: str
    penalty: str
    points_per_decade: int
    extend_decades: float
    inductance: bool
    electrode: str
    peak_prominence: float


@dataclass(frozen=True, eq=False)
class _Problem:
    """One spectrum's DRT problem, set up for the solve (:func:`_set_up`)."""

    f: FloatArray
    z: ComplexArray
    used: NDArray[np.bool_]
    omega: FloatArray          # of the used points
    tau: FloatArray
    scale: float
    names: tuple[str, ...]
    has_cpe: bool
    n_cpe: float
    columns: ComplexArray      # RC columns at the used points
    weight: FloatArray
    a0: FloatArray
    a1: FloatArray
    b: FloatArray


def _set_up(frequency: ArrayLike, impedance: ArrayLike, opt: _Options,
            shared: dict[tuple[bytes, bytes], ComplexArray]) -> _Problem:
    """The weighted least-squares problem of one spectrum (module docstring); ``shared``
    holds the RC columns already built, by (ω, τ) grid."""
    f, z = check_spectrum_arrays(frequency, impedance, min_points=4, where="drt",
                                 nonzero_impedance=True)
    electrode = opt.electrode
    if electrode == "auto":
        electrode = "cpe" if has_capacitive_tail(f, z) else "none"
    used = spike_mask(f, z) if electrode == "drop" else np.ones(f.size, dtype=bool)
    if used.sum() < 4:
        # the minimum of -Z'' at the top of the window (an arc above it): nothing is left
        raise SpectrumError(
            f"drt(electrode='drop'): only {int(used.sum())} point(s) lie above the electrode "
            f"spike's onset (the minimum of -Z'' is at {f[used].min():.3g} Hz), at least 4 "
            "are needed; use electrode='auto' or 'cpe', which fit the spike instead")
    fu, zu = f[used], z[used]
    # The electrode element, 1/(Q (jω)^n), is linear in 1/Q once n is fixed.
    has_cpe = electrode in ("cpe", "capacitance")
    n_cpe = spike_exponent(f, z) if electrode == "cpe" else 1.0
    omega = 2.0 * np.pi * fu
    # With an electrode element the spike owns the frequencies below its onset (the minimum of
    # -Z''): relaxations there are not identifiable under the electrode's |Z|, so the grid
    # stops extend_decades beyond the onset instead of beyond the lowest frequency.
    window = spike_mask(fu, zu) if has_cpe else np.ones(fu.size, dtype=bool)
    tau = tau_grid(fu[window], opt.points_per_decade, opt.extend_decades)
    # γ is fitted in units of the largest |Z| of the relaxation window, so λ means the same
    # for every spectrum (the electrode's |Z| would otherwise set the scale).
    scale = float(np.abs(zu[window]).max())

    # Columns as complex impedances per unit parameter, each series column scaled to O(1).
    names = ["resistance"] if opt.part == "complex" else []
    series = [np.ones_like(omega, dtype=np.complex128)] if opt.part == "complex" else []
    if opt.inductance:
        names.append("inductance")
        series.append(1j * omega / omega.max())
    if has_cpe:
        names.append("electrode")
        series.append((omega.min() / (1j * omega)) ** n_cpe)
    key = (omega.tobytes(), tau.tobytes())
    if key not in shared:
        shared[key] = rc_columns(omega, tau)
    columns = shared[key]
    a1_complex = columns * (_log_step(tau) * scale)
    weight = 1.0 / np.abs(zu)
    pick = stack_real_imag if opt.part == "complex" else _imag
    b = pick(zu * weight)
    a1 = pick(a1_complex * weight[:, None])
    a0 = (pick(np.stack(series, axis=1) * weight[:, None]) if series
          else np.empty((b.size, 0)))
    return _Problem(f, z, used, omega, tau, scale, tuple(names), has_cpe, n_cpe, columns,
                    weight, a0, a1, b)


def _solve(problems: list[_Problem], penalty: Penalty, regularization: float | None,
           lambdas: ArrayLike | None, invalid: str) -> list[Solution | None]:
    """The problems of one shape solved as a stack; when the stack fails (a factorisation
    of one problem), each alone, so that only the one at fault is lost (or raises)."""
    d = penalty_matrix(problems[0].tau.size, penalty)

    def stack(group: list[_Problem]) -> list[Solution]:
        return regularised_nnls_stack(np.stack([p.a0 for p in group]),
                                      np.stack([p.a1 for p in group]),
                                      np.stack([p.b for p in group]), d, regularization,
                                      lambdas)

    try:
        return list(stack(problems))
    except (EisError, ValueError):   # np.linalg.LinAlgError is a ValueError
        if len(problems) == 1 and invalid == "raise":
            raise
    out: list[Solution | None] = []
    for problem in problems:
        try:
            out.extend(stack([problem]))
        except (EisError, ValueError):
            if invalid == "raise":
                raise
            out.append(None)
    return out


def _result(p: _Problem, solution: Solution, opt: _Options, how: str) -> DrtResult:
    """The :class:`DrtResult` of a solved problem: γ, series terms, fit and peaks."""
    x, x0, lam, grid, scores = solution
    gamma = x * p.scale
    values = dict(zip(p.names, x0, strict=True))
    f, omega, tau, used = p.f, p.omega, p.tau, p.used
    omega_all = 2.0 * np.pi * f
    # the fit's columns are those of every point: the same unless spike points were dropped
    relax = (p.columns if used.all() else rc_columns(omega_all, tau)) @ (gamma * _log_step(tau))
    zu = p.z[used]
    if opt.part == "complex":
        r_inf = float(values["resistance"])
    else:
        # Real part: Z' = R_inf + Re(relaxations); weighted (1/|Z|²) mean of the difference.
        w2 = p.weight**2
        r_inf = float(np.sum(w2 * (zu.real - relax[used].real)) / w2.sum())
    ind = float(values["inductance"] / omega.max()) if opt.inductance else None
    q_cpe = None
    fit = r_inf + relax
    if ind is not None:
        fit = fit + 1j * omega_all * ind
    n_cpe = p.n_cpe
    if p.has_cpe:
        inv_q = float(values["electrode"] * omega.min() ** n_cpe)
        q_cpe = float("inf") if inv_q == 0 else 1.0 / inv_q
        fit = fit + inv_q / (1j * omega_all) ** n_cpe
    penalty = opt.penalty
    return DrtResult(
        tau_s=tau,
        gamma_ohm=gamma,
        series_resistance_ohm=r_inf,
        inductance_h=ind,
        electrode_q=q_cpe,
        electrode_n=n_cpe if p.has_cpe else None,
        peaks=find_peaks(tau, gamma, opt.peak_prominence),
        regularization=lam,
        penalty=penalty,
        part=opt.part,
        method=(f"Tikhonov-regularised NNLS ({penalty}-order penalty)"
                if penalty != "identity" else "Tikhonov-regularised NNLS (identity penalty)")
        + f", {how}",
        frequency=f,
        used=used,
        impedance_fit=fit,
        lambda_grid=grid,
        gcv_score=scores,
    )


def _imag(a: ComplexArray) -> FloatArray:
    return np.ascontiguousarray(a.imag)


def _log_step(tau: FloatArray) -> float:
    """Spacing Δ ln τ of the uniform grid."""
    return float(np.log(tau[1] / tau[0]))


def tau_grid(frequency: FloatArray, points_per_decade: int, extend_decades: float) -> FloatArray:
    """Uniform ln-τ grid (s) covering [1/ω_max, 1/ω_min] widened by ``extend_decades`` each side."""
    omega = 2.0 * np.pi * frequency
    lo = np.log10(1.0 / omega.max()) - extend_decades
    hi = np.log10(1.0 / omega.min()) + extend_decades
    n = int(np.ceil((hi - lo) * points_per_decade)) + 1
    return np.logspace(lo, hi, n)


def local_maxima(x: FloatArray) -> tuple[NDArray[np.intp], FloatArray]:
    """Indices and prominences of the local maxima of ``x``: the same as
    ``scipy.signal.find_peaks(x, prominence=0.0)`` (tested against it), in numpy, because
    scipy.signal imports scipy.stats (~1 s of every process that computes a DRT).

    A maximum is a point, or a flat run of equal points (its middle index, rounded down),
    higher than the points either side of it; the ends of ``x`` are never maxima. Its
    prominence is its height above the higher of the lowest points on either side reached
    before a higher point (or a NaN, or the end of ``x``).
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n < 3:
        return np.zeros(0, dtype=np.intp), np.zeros(0)
    # Runs of equal values (NaN never equals, so each NaN is a run of its own).
    starts = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1])))
    ends = np.append(starts[1:] - 1, n - 1)
    value = x[starts]
    # Interior runs higher than both neighbouring runs (comparisons with NaN are False).
    top = (value[1:-1] > value[:-2]) & (value[1:-1] > value[2:])
    peaks = (starts[1:-1][top] + ends[1:-1][top]) // 2
    if peaks.size == 0:
        return peaks.astype(np.intp), np.zeros(0)
    j = np.arange(n)
    height = x[peaks][:, None]
    blocks = ~(x[None, :] <= height)                 # a higher point or a NaN ends a side
    before = j[None, :] < peaks[:, None]
    after = j[None, :] > peaks[:, None]
    left = np.where(blocks & before, j, -1).max(axis=1)[:, None]
    right = np.where(blocks & after, j, n).min(axis=1)[:, None]
    left_min = np.where((j > left) & ~after, x, np.inf).min(axis=1)
    right_min = np.where((j < right) & ~before, x, np.inf).min(axis=1)
    return peaks.astype(np.intp), x[peaks] - np.maximum(left_min, right_min)


def find_peaks(tau: FloatArray, gamma: FloatArray, prominence: float) -> tuple[DrtPeak, ...]:
    """Peaks of γ with their areas, split at the minima between neighbouring peaks.

    Maxima at the grid ends are not peaks (γ must fall on both sides); that keeps the tail of a
    blocking-electrode CPE, which piles up at the long-τ end, out of the list.
    """
    if not np.any(gamma > 0):
        return ()
    idx, prominences = local_maxima(gamma)
    if idx.size == 0:
        return ()
    idx = idx[prominences >= prominence * prominences.max()]
    step = _log_step(tau)
    log_tau = np.log(tau)
    # Boundaries: the lowest point between consecutive peaks, and the lowest point between the
    # outer peaks and the grid ends (a rise toward an end stays outside the peak).
    bounds = [int(np.argmin(gamma[: idx[0] + 1]))]
    for left, right in itertools.pairwise(idx):
        bounds.append(left + int(np.argmin(gamma[left:right + 1])))
    bounds.append(idx[-1] + int(np.argmin(gamma[idx[-1]:])))
    peaks = []
    for i, k in enumerate(idx):
        lo, hi = bounds[i], bounds[i + 1]
        # Valley points are shared: half their area to each side.
        area = gamma[lo:hi + 1].sum() - 0.5 * (gamma[lo] + gamma[hi])
        # Parabola through the top three points for a sub-grid position of the maximum.
        y0, y1, y2 = gamma[k - 1], gamma[k], gamma[k + 1]
        curvature = y0 - 2.0 * y1 + y2
        shift = 0.5 * (y0 - y2) / curvature if curvature < 0 else 0.0
        t = float(np.exp(log_tau[k] + shift * step))
        peaks.append(DrtPeak(tau_s=t, frequency_hz=1.0 / (2.0 * np.pi * t),
                             resistance_ohm=float(area * step), gamma_ohm=float(y1)))
    return tuple(peaks)


def suggest_arcs(result: DrtResult, *, min_fraction: float = 0.05,
                 min_separation_decades: float = 0.5) -> list[tuple[float, float]]:
    """Arcs for seeding a circuit fit: ``[(R_ohm, tau_s), ...]`` sorted by τ.

    This is the interface the circuit fitter consumes: one pair per distinct relaxation, the
    resistance being the DRT peak area and τ the peak position; ``len()`` is the number of
    arcs. Two rules turn peaks into arcs:

    - peaks closer than ``min_separation_decades`` in τ (chained: each to its neighbour) are one
      arc, with the summed area and the area-weighted mean log τ. A DRT does not resolve
      relaxations closer than about half a decade; closer peaks are the ripples regularisation
      leaves on one broad (low-n CPE) arc, or on data that are not Kramers-Kronig compliant;
    - arcs carrying less than ``min_fraction`` of the total area of all arcs are left out.

    Parameters
    ----------
    result : DrtResult
        From :func:`drt`.
    min_fraction : float
        Smallest arc kept, as a fraction of the summed area of all arcs.
    min_separation_decades : float
        Peaks closer than this (log10 τ) merge into one arc.

    Returns
    -------
    list of (float, float)
        ``(R_ohm, tau_s)`` per arc, sorted by increasing τ.

    Examples
    --------
    >>> import numpy as np
    >>> f = np.geomspace(1e6, 1e-1, 60)
    >>> w = 2 * np.pi * f
    >>> z = 1000 / (1 + 1j * w * 1e-5) + 3000 / (1 + 1j * w * 1e-2)
    >>> [(round(r, -2), round(float(np.log10(t)), 1)) for r, t in suggest_arcs(drt(f, z))]
    [(1000.0, -5.0), (3000.0, -2.0)]
    """
    clusters: list[list[DrtPeak]] = []
    for peak in result.peaks:  # sorted by τ
        if clusters and (np.log10(peak.tau_s / clusters[-1][-1].tau_s)
                         < min_separation_decades):
            clusters[-1].append(peak)
        else:
            clusters.append([peak])
    arcs = []
    for group in clusters:
        r = sum(p.resistance_ohm for p in group)
        if r <= 0:
            continue
        log_tau = sum(p.resistance_ohm * np.log(p.tau_s) for p in group) / r
        arcs.append((float(r), float(np.exp(log_tau))))
    total = sum(r for r, _ in arcs)
    return [(r, t) for r, t in arcs if r >= min_fraction * total]
