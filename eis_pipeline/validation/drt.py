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
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from eis_pipeline.conventions import check_spectrum_arrays
from eis_pipeline.validation._common import (
    ComplexArray,
    FloatArray,
    rc_columns,
    stack_real_imag,
)
from eis_pipeline.validation.spike import has_capacitive_tail, spike_exponent, spike_mask

__all__ = ["DrtPeak", "DrtResult", "drt", "suggest_arcs"]

Penalty = Literal["identity", "first", "second"]

#: Default λ grid (dimensionless; γ is scaled by max|Z|).
DEFAULT_LAMBDAS = np.logspace(-8, 2, 51)
#: λ is the largest whose GCV score is within this fraction of the lowest (see choose_lambda).
GCV_TOLERANCE = 0.05
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
    f, z = check_spectrum_arrays(frequency, impedance, min_points=4, where="drt",
                                 nonzero_impedance=True)
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
    if electrode == "auto":
        electrode = "cpe" if has_capacitive_tail(f, z) else "none"
    used = spike_mask(f, z) if electrode == "drop" else np.ones(f.size, dtype=bool)
    fu, zu = f[used], z[used]
    # The electrode element, 1/(Q (jω)^n), is linear in 1/Q once n is fixed.
    has_cpe = electrode in ("cpe", "capacitance")
    n_cpe = spike_exponent(f, z) if electrode == "cpe" else 1.0
    omega = 2.0 * np.pi * fu
    # With an electrode element the spike owns the frequencies below its onset (the minimum of
    # -Z''): relaxations there are not identifiable under the electrode's |Z|, so the grid
    # stops extend_decades beyond the onset instead of beyond the lowest frequency.
    window = spike_mask(fu, zu) if has_cpe else np.ones(fu.size, dtype=bool)
    tau = tau_grid(fu[window], points_per_decade, extend_decades)
    # γ is fitted in units of the largest |Z| of the relaxation window, so λ means the same
    # for every spectrum (the electrode's |Z| would otherwise set the scale).
    scale = float(np.abs(zu[window]).max())

    # Columns as complex impedances per unit parameter, each series column scaled to O(1).
    names = ["resistance"] if part == "complex" else []
    series = [np.ones_like(omega, dtype=np.complex128)] if part == "complex" else []
    if inductance:
        names.append("inductance")
        series.append(1j * omega / omega.max())
    if has_cpe:
        names.append("electrode")
        series.append((omega.min() / (1j * omega)) ** n_cpe)
    columns = rc_columns(omega, tau)
    a1_complex = columns * (_log_step(tau) * scale)
    weight = 1.0 / np.abs(zu)
    pick = stack_real_imag if part == "complex" else _imag
    b = pick(zu * weight)
    a1 = pick(a1_complex * weight[:, None])
    a0 = (pick(np.stack(series, axis=1) * weight[:, None]) if series
          else np.empty((b.size, 0)))

    x, x0, lam, grid, scores = _regularised_nnls(
        a0, a1, b, penalty_matrix(tau.size, penalty), regularization, lambdas)
    gamma = x * scale
    values = dict(zip(names, x0, strict=True))

    omega_all = 2.0 * np.pi * f
    # the fit's columns are those of every point: the same unless spike points were dropped
    relax = (columns if used.all() else rc_columns(omega_all, tau)) @ (gamma * _log_step(tau))
    if part == "complex":
        r_inf = float(values["resistance"])
    else:
        # Real part: Z' = R_inf + Re(relaxations); weighted (1/|Z|²) mean of the difference.
        w2 = weight**2
        r_inf = float(np.sum(w2 * (zu.real - relax[used].real)) / w2.sum())
    ind = float(values["inductance"] / omega.max()) if inductance else None
    q_cpe = None
    fit = r_inf + relax
    if ind is not None:
        fit = fit + 1j * omega_all * ind
    if has_cpe:
        inv_q = float(values["electrode"] * omega.min() ** n_cpe)
        q_cpe = float("inf") if inv_q == 0 else 1.0 / inv_q
        fit = fit + inv_q / (1j * omega_all) ** n_cpe
    return DrtResult(
        tau_s=tau,
        gamma_ohm=gamma,
        series_resistance_ohm=r_inf,
        inductance_h=ind,
        electrode_q=q_cpe,
        electrode_n=n_cpe if has_cpe else None,
        peaks=find_peaks(tau, gamma, peak_prominence),
        regularization=lam,
        penalty=penalty,
        part=part,
        method=(f"Tikhonov-regularised NNLS ({penalty}-order penalty)"
                if penalty != "identity" else "Tikhonov-regularised NNLS (identity penalty)")
        + (", λ by GCV" if grid is not None else ", λ given"),
        frequency=f,
        used=used,
        impedance_fit=fit,
        lambda_grid=grid,
        gcv_score=scores,
    )


def _regularised_nnls(
    a0: FloatArray, a1: FloatArray, b: FloatArray, d: FloatArray,
    regularization: float | None, lambdas: ArrayLike | None,
) -> tuple[FloatArray, FloatArray, float, FloatArray | None, FloatArray | None]:
    """Solve min ||a0 x0 + a1 x - b||² + λ||d x||², x ≥ 0, x0 free; λ given or by GCV.

    Returns ``(x, x0, λ, λ grid or None, GCV scores or None)``.
    """
    # Project out the free series parameters (exact: they enter linearly, unconstrained).
    q0 = np.linalg.qr(a0)[0] if a0.shape[1] else np.empty((b.size, 0))
    a1p = a1 - q0 @ (q0.T @ a1)
    bp = b - q0 @ (q0.T @ b)
    grid: FloatArray | None = None
    scores: FloatArray | None = None
    if regularization is None:
        grid = np.asarray(DEFAULT_LAMBDAS if lambdas is None else lambdas, dtype=np.float64)
        scores = gcv_scores(a1p, bp, d, grid, n_fixed=a0.shape[1])
        lam = float(grid[choose_lambda(scores, GCV_TOLERANCE)])
    else:
        lam = float(regularization)
    stacked = np.concatenate([a1p, np.sqrt(lam) * d])
    target = np.concatenate([bp, np.zeros(d.shape[0])])
    import scipy.optimize  # here, not at the top: `import eis_pipeline.fitting` stays light

    x = scipy.optimize.nnls(stacked, target, maxiter=50 * d.shape[0])[0]
    x0 = np.linalg.lstsq(a0, b - a1 @ x, rcond=None)[0] if a0.shape[1] else np.empty(0)
    return x, x0, lam, grid, scores


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


def penalty_matrix(n: int, penalty: Penalty) -> FloatArray:
    """Square, invertible penalty operator D (n × n).

    Difference rows are completed by rows penalising γ itself at the grid ends (first row, and
    also the last for the second difference); γ should vanish there, beyond the data.
    """
    if penalty == "identity":
        return np.eye(n)
    if penalty == "first":
        return np.eye(n) - np.eye(n, k=-1)
    d = np.eye(n, k=-1) - 2.0 * np.eye(n) + np.eye(n, k=1)
    d[0, :] = 0.0
    d[-1, :] = 0.0
    d[0, 0] = d[-1, -1] = 1.0
    return d


def gcv_scores(a: FloatArray, b: FloatArray, d: FloatArray, lambdas: FloatArray,
               *, n_fixed: int = 0) -> FloatArray:
    """GCV score of min ||a x - b||² + λ||d x||² for every λ, from one SVD.

    ``a`` and ``b`` are already projected orthogonally to ``n_fixed`` free parameters, which
    take that many degrees of freedom from the trace. In standard form a d⁻¹ = U S Vᵀ, the
    influence matrix is U diag(s²/(s²+λ)) Uᵀ, so

        GCV(λ) = m ||(I - H) b||² / (m - n_fixed - Σ s²/(s²+λ))²
    """
    a_std = np.linalg.solve(d.T, a.T).T
    u, s, _ = np.linalg.svd(a_std, full_matrices=False)
    beta = u.T @ b
    outside = max(float(b @ b - beta @ beta), 0.0)
    s2 = s[None, :] ** 2
    filt = s2 / (s2 + lambdas[:, None])
    residual = ((1.0 - filt) ** 2 * beta[None, :] ** 2).sum(axis=1) + outside
    dof = b.size - n_fixed - filt.sum(axis=1)
    return np.asarray(b.size * residual / dof**2, dtype=np.float64)


def choose_lambda(scores: FloatArray, tolerance: float) -> int:
    """Index of the largest λ whose GCV score is within ``tolerance`` of the minimum.

    The GCV curve of a DRT problem is often flat over decades of λ, with shallow local minima
    at small λ that give rippled, spurious-peaked γ. Within the flat region the scores cannot
    tell the candidates apart, so the smoothest one is taken (in the spirit of the
    one-standard-error rule of cross-validation). ``scores`` must follow increasing λ.
    """
    ok = np.flatnonzero(scores <= (1.0 + tolerance) * scores.min())
    return int(ok[-1])


def find_peaks(tau: FloatArray, gamma: FloatArray, prominence: float) -> tuple[DrtPeak, ...]:
    """Peaks of γ with their areas, split at the minima between neighbouring peaks.

    Maxima at the grid ends are not peaks (γ must fall on both sides); that keeps the tail of a
    blocking-electrode CPE, which piles up at the long-τ end, out of the list.
    """
    if not np.any(gamma > 0):
        return ()
    # here, not at the top: scipy.signal imports scipy.stats (~1 s), which `eis-pipeline fit`
    # never needs
    import scipy.signal

    idx, props = scipy.signal.find_peaks(gamma, prominence=0.0)
    if idx.size == 0:
        return ()
    keep = props["prominences"] >= prominence * props["prominences"].max()
    idx = idx[keep]
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
