"""Kramers-Kronig compliance by the linear Lin-KK test (PHYSICS.md section 8).

A spectrum from a linear, causal, stable and time-invariant system can be described by a chain
of RC elements (Voigt circuit) with fixed, log-spaced time constants plus a series resistance,
inductance and capacitance (Schönleber et al., Electrochim. Acta 131 (2014) 20)::

    Ẑ(ω) = R_s + jωL + 1/(jωC) + Σ_k R_k / (1 + jωτ_k),   τ_1 = 1/ω_max ... τ_M = 1/ω_min

For fixed τ_k the model is linear in (R_s, L, 1/C, R_k), so each candidate number of elements
M costs one weighted linear least-squares solve (weights 1/|Z|, real and imaginary parts
together). The test statistic is the residual relative to |Z| at every point::

    Δ_re,i = (Z'_i - Ẑ'_i) / |Z_i|,    Δ_im,i = (Z''_i - Ẑ''_i) / |Z_i|

Drift during the sweep or a non-linear response leave structured residuals that no Voigt
circuit can absorb; measurement noise leaves white residuals of about its own size.

The verdict: noise versus systematic deviation
----------------------------------------------
A fixed limit on the largest residual (PHYSICS.md section 8: "residuals above ~1 % flag drift or
non-linearity") confuses the two. With Gaussian noise of σ = 0.5 % of |Z| on each part, the
largest of 2N ≈ 120 residuals is about 3σ = 1.5 %, so every clean spectrum of a typical
potentiostat fails a 1 % limit. The test therefore asks two more questions when the largest
residual exceeds the threshold:

- how large is the noise? ``noise_estimate`` = 1.4826 × median |Δ| over the real and imaginary
  residuals together (the normal-consistent median absolute deviation about zero, robust to
  the few points a systematic deviation affects);
- are the residuals structured? The lag-1 autocorrelation ρ₁ of the residual sequence ordered
  by frequency (real and imaginary parts as two sequences, pooled) is about 0 ± 1/√n for white
  noise and approaches 1 for the smooth residual a drift or a distortion leaves over several
  neighbouring points. The residuals are ``structured`` when z = ρ₁ √n exceeds
  ``structure_z`` = 3.5 (one-sided p ≈ 2e-4 for white noise; the plateau's first model is
  slightly under-fitted, which shifts clean spectra to a median z of up to 1).

A spectrum passes when its largest residual is within the threshold, or when it is above the
threshold but below the hard limit (``hard_limit_factor`` × threshold, 5 % by default) and
unstructured. It fails above the hard limit whatever the structure, so a large isolated
artefact or very noisy data are never waved through. ``reason`` says which rule decided.

Measured on the synthetic spectra of tests/validation (10 MHz-0.1 Hz, 73 points, 200 noise
seeds each): clean one- and two-arc spectra at 0.2/0.5/1 % noise have z ≤ 3.1 (all pass;
largest residual up to 2.2 % at 0.5 % and 4.2 % at 1 % noise); resistances drifting by 5 % at
0.2 % noise give z = 5.6-7.5 (all fail) and a 5-10 % distortion of the imaginary part z = 8-10
(fail). Drift becomes hard to tell from noise when the noise is comparable to the deviation
it causes (5 % drift at 0.5 % noise: z = 2.4-5.4, a third fail), as for any test. The
Lin-KK model itself leaves a larger residual at the lowest frequency when a relaxation is
still incomplete there (no spike, no series C): that single point raises the maximum (up to
3 % on the demo data) but not the autocorrelation, which is why an isolated point is judged
by the hard limit alone.

Choosing M
----------
Too few elements under-fit a valid spectrum (false alarm); too many fit the noise and, with
alternating-sign R_k, can begin to mimic non-compliant features. Schönleber's criterion
(``method="mu"``) stops at the first M where μ = 1 - Σ_{R_k<0}|R_k| / Σ_{R_k≥0} R_k falls
below c = 0.85. On spectra spanning many decades it stops far too early: a few coarse
elements already need negative resistances to bridge decades where the spectrum changes
quickly, long before the fit reaches the noise (reported for impedance.py: 4 elements and 73 %
residuals on a clean two-arc 8-decade spectrum; here, on a clean ideal R‖C arc over 10 MHz to
0.1 Hz, 6 elements and 40 %, see bench/bench_validation.py).

The default (``method="plateau"``) asks instead when adding elements stops paying off. For
every M from 1 to ``max_elements`` it computes the noise-variance estimate
s²(M) = χ²(M) / (2N - P(M)), with χ² the sum of squared relative residuals and P(M) the number
of fitted parameters. s² falls while elements still describe real structure and levels off at
the noise floor (or, for a non-compliant spectrum, at the level of the inconsistency, which no
number of elements removes). The chosen M is the smallest one whose s² is within a factor
``plateau_factor`` (1.5) of the lowest s² reached: the first point of the plateau, so the test
never relies on an over-fitted model. Candidates are tried in increasing M and the search stops
once ``PATIENCE`` (10) more elements have not lowered s² by that factor, so a noisy 70-point
spectrum costs about 30 solves rather than 70. μ of the chosen model is reported for
information and the classic criterion stays available.

Series capacitance and inductance
---------------------------------
The inductance is included by default (it absorbs lead inductance at the top of the range and
only affects the imaginary part at high frequency). The capacitance is included when the
lowest-frequency point lies below -45° (a blocking-electrode spike, ``capacitance="auto"``);
the τ grid then reaches half a decade beyond 1/ω_min, because a CPE spike is a capacitance plus
a tail of long-τ relaxations that a grid ending at 1/ω_min misses by about 1 %. Without a spike
the capacitance is left out: with a negative 1/C it cancels the imaginary part of a long-τ
element, and together they absorb drift of the real part at low frequency.

Sensitivity (synthetic two-arc spectra, 10 MHz-0.1 Hz, 0.2 % noise, tests/validation): clean
spectra stay below 1 %; resistances drifting linearly by 5 % over the sweep give 2-2.5 %
(structured: fail), 2 % drift gives about 1 % (mostly pass); a 10 % distortion of the
imaginary part gives about 3.5 % (structured: fail).
Under a blocking-electrode spike, drift of the electrolyte resistance is invisible: it is a
tiny fraction of |Z| where the sweep spends its time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg.lapack import dgelsy, dgelsy_lwork

from eis_pipeline.conventions import check_spectrum_arrays
from eis_pipeline.exceptions import DataQualityWarning
from eis_pipeline.validation._common import (
    ComplexArray,
    FloatArray,
    rc_columns,
    stack_real_imag,
)
from eis_pipeline.validation.spike import has_capacitive_tail

__all__ = ["KramersKronigResult", "kramers_kronig", "residual_autocorrelation",
           "residual_noise"]

IntArray = NDArray[np.int_]

#: Default pass/fail limit on |residual| / |Z| (PHYSICS.md section 8).
DEFAULT_THRESHOLD = 0.01
#: Above ``HARD_LIMIT_FACTOR`` × threshold a spectrum fails whatever its residuals look like.
DEFAULT_HARD_LIMIT_FACTOR = 5.0
#: Residuals are structured when the lag-1 autocorrelation z-score ρ₁√n exceeds this.
DEFAULT_STRUCTURE_Z = 3.5
#: Median |Δ| × this is the standard deviation for Gaussian residuals (1 / Φ⁻¹(3/4)).
MAD_TO_SIGMA = 1.482602218505602
#: Schönleber's μ criterion constant.
DEFAULT_MU_CRITERION = 0.85
#: A model is on the residual plateau when its s² is within this factor of the lowest s².
DEFAULT_PLATEAU_FACTOR = 1.5
#: With a series capacitance the τ grid reaches this far beyond 1/ω_min: a CPE spike is a
#: capacitance plus a tail of long-τ relaxations, which coarse grids otherwise miss by ~1 %.
CAPACITIVE_EXTENSION_DECADES = 0.5
#: Stop adding elements once this many more have not improved s² by ``plateau_factor``.
PATIENCE = 10
#: Candidates whose RC columns are built together.
CHUNK = 16


@dataclass(frozen=True, eq=False)
class KramersKronigResult:
    """Outcome of :func:`kramers_kronig`.

    Attributes
    ----------
    passed : bool
        ``max_residual <= threshold``, or ``max_residual <= hard_limit`` with unstructured
        residuals (module docstring, "The verdict").
    max_residual : float
        Largest |Δ_re| or |Δ_im| over all points, as a fraction of |Z|.
    threshold : float
        The limit used, as a fraction of |Z|.
    hard_limit : float
        Above this fraction of |Z| the spectrum fails regardless of structure.
    noise_estimate : float
        Robust standard deviation of the residuals (1.4826 × median |Δ|), fraction of |Z|.
    autocorrelation : float
        Lag-1 autocorrelation ρ₁ of the residuals ordered by frequency (real and imaginary
        sequences pooled); about 0 for white noise.
    autocorrelation_z : float
        ρ₁ √n, n the number of neighbouring pairs: a standard normal score for white noise.
    structured : bool
        ``autocorrelation_z > structure_z``: the residuals are smooth over frequency, as
        drift or non-linearity leaves them, rather than noise.
    reason : str
        Which rule decided the verdict, in words.
    frequency : ndarray
        Frequencies (Hz), in the order given.
    residual_real, residual_imag : ndarray
        Δ_re and Δ_im per point, (Z - Ẑ) / |Z| (dimensionless, fractions of |Z|).
    impedance_fit : ndarray
        The Voigt-circuit impedance Ẑ (ohm) at each frequency.
    n_elements : int
        Number M of RC elements used.
    time_constants_s, resistances_ohm : ndarray
        τ_k (s) and fitted R_k (ohm, may be negative) of the RC elements.
    series_resistance_ohm : float
        Fitted R_s.
    inductance_h, capacitance_f : float or None
        Fitted series L (H) and C (F), ``None`` when not included. C is ``inf`` when the
        fitted 1/C is zero; a negative value means the data asked for none.
    mu : float
        Schönleber's μ for the chosen M.
    method : str
        How M was chosen: ``"plateau"``, ``"mu"`` or ``"fixed"``.
    candidate_elements : ndarray of int
        Every M tried.
    candidate_variance, candidate_mu : ndarray
        s²(M) (dimensionless, fractions of |Z| squared) and μ(M) for every M tried.
    """

    passed: bool
    max_residual: float
    threshold: float
    hard_limit: float
    noise_estimate: float
    autocorrelation: float
    autocorrelation_z: float
    structured: bool
    reason: str
    frequency: FloatArray
    residual_real: FloatArray
    residual_imag: FloatArray
    impedance_fit: ComplexArray
    n_elements: int
    time_constants_s: FloatArray
    resistances_ohm: FloatArray
    series_resistance_ohm: float
    inductance_h: float | None
    capacitance_f: float | None
    mu: float
    method: str
    candidate_elements: IntArray
    candidate_variance: FloatArray
    candidate_mu: FloatArray

    def summary(self) -> str:
        """One line: verdict, worst residual, threshold, noise, M and the reason."""
        verdict = "passed" if self.passed else "FAILED"
        return (f"Kramers-Kronig {verdict}: max residual {100 * self.max_residual:.2f} % of |Z| "
                f"(threshold {100 * self.threshold:.2f} %, noise "
                f"{100 * self.noise_estimate:.2f} %), {self.n_elements} RC elements; "
                f"{self.reason}")



def time_constants(omega: FloatArray, n_elements: int,
                   extend_decades: float = 0.0) -> FloatArray:
    """Schönleber's τ grid: M log-spaced values from 1/ω_max to 1/ω_min (s).

    ``extend_decades`` moves the long-τ end beyond 1/ω_min; a single element sits at the
    geometric centre of the range.
    """
    return _candidate_taus(omega, np.array([n_elements]), extend_decades)[0]


def _candidate_taus(omega: FloatArray, ms: IntArray,
                    extend_decades: float) -> tuple[FloatArray, IntArray]:
    """The τ grids of several candidate M side by side, and where each starts and ends."""
    lo = np.log(1.0 / omega.max())
    hi = np.log(10.0**extend_decades / omega.min())
    offsets = np.concatenate([[0], np.cumsum(ms)])
    k = np.arange(offsets[-1]) - np.repeat(offsets[:-1], ms)
    denominator = np.repeat(ms - 1, ms).astype(np.float64)
    fraction = np.divide(k, denominator, out=np.full(k.size, 0.5), where=denominator > 0)
    return np.exp(lo + fraction * (hi - lo)), offsets


def kramers_kronig(
    frequency: ArrayLike,
    impedance: ArrayLike,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    method: Literal["plateau", "mu"] = "plateau",
    n_elements: int | None = None,
    max_elements: int | None = None,
    inductance: bool = True,
    capacitance: bool | Literal["auto"] = "auto",
    mu_criterion: float = DEFAULT_MU_CRITERION,
    plateau_factor: float = DEFAULT_PLATEAU_FACTOR,
    hard_limit_factor: float = DEFAULT_HARD_LIMIT_FACTOR,
    structure_z: float = DEFAULT_STRUCTURE_Z,
    warn: bool = False,
) -> KramersKronigResult:
    """Lin-KK test of Kramers-Kronig compliance (PHYSICS.md section 8).

    Parameters
    ----------
    frequency : array_like
        Frequencies in Hz, any order.
    impedance : array_like of complex
        Impedance in ohm with the physical sign (capacitive Z'' < 0).
    threshold : float
        Limit on the relative residuals, as a fraction of |Z| (0.01 = 1 %). Residuals above it
        fail the test only when they are structured or above the hard limit (module
        docstring, "The verdict").
    method : {"plateau", "mu"}
        How to choose the number of RC elements (see the module docstring): the first M on the
        residual plateau (default, robust over many decades) or Schönleber's μ criterion.
    n_elements : int, optional
        Use exactly this many RC elements instead of choosing.
    max_elements : int, optional
        Largest M tried (default: the number of points N, as Schönleber).
    inductance : bool
        Include a series inductance (absorbs cable inductance at the top of the range).
    capacitance : bool or "auto"
        Include a series capacitance (absorbs the capacitive spike of blocking electrodes; a
        CPE spike is then described by the capacitance plus long-τ elements). ``"auto"``
        includes it when the lowest-frequency point is capacitive, phase below -45°
        (:func:`has_capacitive_tail`). It is not included otherwise because, with a negative
        1/C, it cancels the imaginary part of long-τ elements and so hides drift of the real
        part at low frequency.
    mu_criterion : float
        The constant c of the μ criterion.
    plateau_factor : float
        A model is on the residual plateau when its s² is within this factor of the lowest.
    hard_limit_factor : float
        The spectrum fails above ``hard_limit_factor × threshold`` whatever the residuals look
        like (``inf`` turns the rule off; 1 gives the classic fixed-threshold test).
    structure_z : float
        Residuals are structured when the lag-1 autocorrelation score ρ₁√n exceeds this.
    warn : bool
        Emit a :class:`~eis_pipeline.exceptions.DataQualityWarning` when the test fails.

    Returns
    -------
    KramersKronigResult

    Examples
    --------
    >>> import numpy as np
    >>> f = np.geomspace(1e6, 1e-1, 50)
    >>> z = 100 + 1000 / (1 + 1j * 2 * np.pi * f * 1e-3)
    >>> result = kramers_kronig(f, z)
    >>> result.passed, result.max_residual < 1e-3
    (True, True)
    """
    f, z = check_spectrum_arrays(frequency, impedance, min_points=3, where="kramers_kronig",
                                 nonzero_impedance=True)
    if not threshold > 0:
        raise ValueError(f"kramers_kronig: threshold must be a positive fraction of |Z| "
                         f"(0.01 = 1 %), got {threshold!r}")
    if method not in ("plateau", "mu"):
        raise ValueError(f"kramers_kronig: method must be 'plateau' or 'mu', got {method!r}")
    if not hard_limit_factor >= 1:
        raise ValueError(f"kramers_kronig: hard_limit_factor must be >= 1, got "
                         f"{hard_limit_factor!r}")
    n = f.size
    if capacitance == "auto":
        capacitance = has_capacitive_tail(f, z)
    n_series = 1 + int(inductance) + int(capacitance)
    # Keep at least one residual degree of freedom for s².
    limit = 2 * n - n_series - 1
    if n_elements is not None:
        if not 1 <= n_elements <= limit:
            raise ValueError(f"kramers_kronig: n_elements must be in 1..{limit} for {n} "
                             f"points, got {n_elements!r}")
        candidates = np.array([n_elements])
    else:
        top = n if max_elements is None else int(max_elements)
        candidates = np.arange(1, max(1, min(top, limit)) + 1)

    omega = 2.0 * np.pi * f
    modulus = np.abs(z)
    # Series columns, each scaled to O(1) so the column-pivoted QR ranks them fairly.
    series = [np.ones_like(omega, dtype=np.complex128)]
    if inductance:
        series.append(1j * omega / omega.max())
    if capacitance:
        series.append(-1j * omega.min() / omega)
    series_cols = np.stack(series, axis=1)
    extend = CAPACITIVE_EXTENSION_DECADES if capacitance else 0.0
    weight = 1.0 / modulus
    target = stack_real_imag(z * weight)
    a_series = stack_real_imag(series_cols * weight[:, None])

    taus: list[FloatArray] = []
    coefs: list[FloatArray] = []
    variance = np.full(candidates.size, np.inf)
    mu = np.full(candidates.size, np.nan)
    done = False
    # The RC columns of a chunk of candidates are built in one go (their τ grids side by side);
    # chunks keep the early stop from paying for columns it never uses.
    for start in range(0, candidates.size, CHUNK):
        ms = candidates[start:start + CHUNK]
        tau_chunk, offsets = _candidate_taus(omega, ms, extend)
        a_rc = stack_real_imag(rc_columns(omega, tau_chunk) * weight[:, None])
        for j in range(ms.size):
            i = start + j
            design = np.concatenate([a_series, a_rc[:, offsets[j]:offsets[j + 1]]], axis=1)
            x = _least_squares(design, target)
            resid = target - design @ x
            variance[i] = resid @ resid / (2 * n - design.shape[1])
            mu[i] = _mu(x[n_series:])
            coefs.append(x)
            taus.append(tau_chunk[offsets[j]:offsets[j + 1]])
            if method == "plateau" and _on_plateau(variance[:i + 1], plateau_factor):
                done = True
                break
        if done:
            break
    # Candidates never reached (early stop) are dropped from the report.
    candidates, variance, mu = (a[:len(coefs)] for a in (candidates, variance, mu))

    if n_elements is not None:
        chosen, how = 0, "fixed"
    elif method == "mu":
        chosen, how = _choose_mu(mu, mu_criterion), "mu"
    else:
        chosen, how = _choose_plateau(variance, plateau_factor), "plateau"

    x = coefs[chosen]
    tau = taus[chosen]
    fit = series_cols @ x[:n_series] + rc_columns(omega, tau) @ x[n_series:]
    res = (z - fit) / modulus
    max_residual = float(np.max(np.maximum(np.abs(res.real), np.abs(res.imag))))
    noise = residual_noise(res)
    rho, rho_z = residual_autocorrelation(f, res)
    structured = bool(rho_z > structure_z)
    hard_limit = float(hard_limit_factor * threshold)
    passed, reason = _verdict(max_residual, threshold, hard_limit, structured, rho_z)
    k = 1
    ind = cap = None
    if inductance:
        ind = float(x[k] / omega.max())
        k += 1
    if capacitance:
        inv_c = float(x[k] * omega.min())
        cap = float("inf") if inv_c == 0 else 1.0 / inv_c
    result = KramersKronigResult(
        passed=bool(passed),
        max_residual=max_residual,
        threshold=float(threshold),
        hard_limit=hard_limit,
        noise_estimate=noise,
        autocorrelation=rho,
        autocorrelation_z=rho_z,
        structured=structured,
        reason=reason,
        frequency=f,
        residual_real=res.real.copy(),
        residual_imag=res.imag.copy(),
        impedance_fit=fit,
        n_elements=int(candidates[chosen]),
        time_constants_s=tau,
        resistances_ohm=x[n_series:].copy(),
        series_resistance_ohm=float(x[0]),
        inductance_h=ind,
        capacitance_f=cap,
        mu=float(mu[chosen]),
        method=how,
        candidate_elements=candidates,
        candidate_variance=variance,
        candidate_mu=mu,
    )
    if warn and not passed:
        warnings.warn(f"{result.summary()}: the spectrum is not Kramers-Kronig compliant "
                      "(drift, non-linearity or an artefact); check the residuals before "
                      "trusting a fit", DataQualityWarning, stacklevel=2)
    return result


def _least_squares(design: FloatArray, target: FloatArray) -> FloatArray:
    """Least-squares x of ``design @ x ≈ target`` by LAPACK's column-pivoted QR (dgelsy).

    The same routine and arguments as ``scipy.linalg.lstsq(..., lapack_driver="gelsy")``
    (so the same bits), called directly: the wrapper's argument checks and batching cost
    about 130 µs per call, more than the solve itself for the ~20 small systems of a
    spectrum's M search.
    """
    n_rows, n_cols = design.shape
    cond = np.finfo(np.float64).eps
    work, info = dgelsy_lwork(n_rows, n_cols, 1, cond)
    if info != 0:
        raise np.linalg.LinAlgError(f"dgelsy workspace query failed (info {info})")
    lwork = int(work)
    pivots = np.zeros((n_cols, 1), dtype=np.int32)
    _, x, _, _, info = dgelsy(design, target, pivots, cond, lwork, False, False)
    if info < 0:
        raise ValueError(f"illegal value in argument {-info} of dgelsy")
    return np.asarray(x[:n_cols], dtype=np.float64)


def residual_noise(residual: ComplexArray) -> float:
    """Robust σ of the relative residuals: 1.4826 × median |Δ| over both parts.

    The residuals of a compliant spectrum scatter about zero, so the median absolute value is
    the median absolute deviation; a systematic deviation confined to a few points barely
    moves it.
    """
    both = np.concatenate([residual.real, residual.imag])
    return float(MAD_TO_SIGMA * np.median(np.abs(both)))


def residual_autocorrelation(frequency: FloatArray,
                             residual: ComplexArray) -> tuple[float, float]:
    """Lag-1 autocorrelation ρ₁ of the residuals over frequency, and its score ρ₁ √n.

    The real and imaginary residuals, each ordered by frequency, are two sequences; their
    products of neighbours and their squares are pooled (about zero mean is assumed, as for
    the residuals of a least-squares fit with a constant term). For white noise ρ₁ √n is
    approximately standard normal; smooth residuals (drift, non-linearity) make it large and
    positive.
    """
    order = np.argsort(frequency)
    r = np.stack([residual.real[order], residual.imag[order]])
    denominator = float(np.sum(r * r))
    if denominator == 0.0:
        return 0.0, 0.0
    rho = float(np.sum(r[:, 1:] * r[:, :-1]) / denominator)
    pairs = r.shape[0] * (r.shape[1] - 1)
    return rho, float(rho * np.sqrt(pairs))


def _verdict(max_residual: float, threshold: float, hard_limit: float, structured: bool,
             z: float) -> tuple[bool, str]:
    """Pass/fail and why (module docstring, "The verdict")."""
    if max_residual <= threshold:
        return True, "residuals within the threshold"
    if max_residual > hard_limit:
        return False, f"residuals above the hard limit of {100 * hard_limit:.3g} % of |Z|"
    if structured:
        return False, (f"structured residuals above the threshold (lag-1 autocorrelation "
                       f"z = {z:.1f}): drift, non-linearity or an artefact")
    return True, (f"residuals above the threshold but unstructured (lag-1 autocorrelation "
                  f"z = {z:.1f}): consistent with noise")


def _mu(resistances: FloatArray) -> float:
    """Schönleber's μ = 1 - Σ|R_k<0| / Σ R_k≥0 (1 when no element is negative)."""
    positive = resistances[resistances >= 0].sum()
    negative = -resistances[resistances < 0].sum()
    if positive <= 0:
        return -np.inf if negative > 0 else 1.0
    return float(1.0 - negative / positive)


def _choose_mu(mu: FloatArray, c: float) -> int:
    """Index of the first M whose μ is below c, else the last M (Schönleber's rule)."""
    below = np.flatnonzero(mu < c)
    return int(below[0]) if below.size else mu.size - 1


def _on_plateau(variance: FloatArray, factor: float) -> bool:
    """True once the last ``PATIENCE`` elements improved s² by less than ``factor``.

    Later elements would then only fit noise (or the non-compliant part, which they cannot
    remove), so trying them changes neither the floor estimate much nor the verdict.
    """
    if variance.size <= PATIENCE:
        return False
    return bool(variance[-PATIENCE:].min() * factor > variance[:-PATIENCE].min())


def _choose_plateau(variance: FloatArray, factor: float) -> int:
    """Index of the smallest M whose s² is within ``factor`` of the lowest s²."""
    floor = variance.min()
    return int(np.flatnonzero(variance <= factor * floor)[0])
