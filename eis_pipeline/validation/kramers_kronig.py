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

Batching
--------
The τ grid of each M depends only on the frequencies, so spectra measured on the same grid
(a campaign's sweeps) share every design matrix up to its row weights 1/|Z|.
:func:`kramers_kronig_batch` groups them and, for each candidate M, solves the whole stack at
once: one stacked Householder QR (numpy's linear-algebra loops run over the stack in C), the
residual as b - Q Qᵀ b and the coefficients by back-substitution; the plateau stop is decided
per spectrum and a spectrum leaves the stack when it stops. The weights differ from spectrum
to spectrum, so each still needs its own factorisation per M; what the stack saves is the
Python-level work per solve, which dominated (one LAPACK call of ~0.2 ms per spectrum and M
before). A system whose triangular factor is nearly singular (condition number above
``RANK_REVEALING_COND``) is solved again by LAPACK's rank-revealing column-pivoted QR
(dgelsy), as :func:`scipy.linalg.lstsq` would. :func:`kramers_kronig` is the batch of one.

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
from collections.abc import Sequence
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

__all__ = ["KramersKronigResult", "kramers_kronig", "kramers_kronig_batch",
           "residual_autocorrelation", "residual_noise"]

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
    result = kramers_kronig_batch(
        [frequency], [impedance], threshold=threshold, method=method, n_elements=n_elements,
        max_elements=max_elements, inductance=inductance, capacitance=capacitance,
        mu_criterion=mu_criterion, plateau_factor=plateau_factor,
        hard_limit_factor=hard_limit_factor, structure_z=structure_z)[0]
    if warn and not result.passed:
        warnings.warn(f"{result.summary()}: the spectrum is not Kramers-Kronig compliant "
                      "(drift, non-linearity or an artefact); check the residuals before "
                      "trusting a fit", DataQualityWarning, stacklevel=2)
    return result


def kramers_kronig_batch(
    frequencies: Sequence[ArrayLike],
    impedances: Sequence[ArrayLike],
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
) -> list[KramersKronigResult]:
    """:func:`kramers_kronig` of many spectra at once: one result per spectrum, in order.

    The options are those of :func:`kramers_kronig` and apply to every spectrum; the results
    are those of calling it on each spectrum alone. Spectra on the same frequencies (in the
    same order) and with the same series terms are solved together ("Batching" in the module
    docstring), so a campaign's sweeps cost a few stacked factorisations per candidate M
    instead of one Python-level solve per spectrum and candidate.

    Raises
    ------
    SpectrumError
        When a spectrum is invalid (:func:`kramers_kronig`); the message says which.
    """
    if len(frequencies) != len(impedances):
        raise ValueError(f"kramers_kronig_batch: {len(frequencies)} frequency arrays but "
                         f"{len(impedances)} impedance arrays; give one of each per spectrum")
    if not threshold > 0:
        raise ValueError(f"kramers_kronig: threshold must be a positive fraction of |Z| "
                         f"(0.01 = 1 %), got {threshold!r}")
    if method not in ("plateau", "mu"):
        raise ValueError(f"kramers_kronig: method must be 'plateau' or 'mu', got {method!r}")
    if not hard_limit_factor >= 1:
        raise ValueError(f"kramers_kronig: hard_limit_factor must be >= 1, got "
                         f"{hard_limit_factor!r}")
    many = len(frequencies) > 1
    checked = [check_spectrum_arrays(f, z, min_points=3, nonzero_impedance=True,
                                     where=f"kramers_kronig (spectrum {i})" if many
                                     else "kramers_kronig")
               for i, (f, z) in enumerate(zip(frequencies, impedances, strict=True))]
    # Spectra sharing the frequencies (in order) and the series terms share every design
    # matrix but its row weights: one group, solved as a stack.
    groups: dict[tuple[bytes, bool], list[int]] = {}
    for i, (f, z) in enumerate(checked):   # hashing the grid, not solving: cheap per spectrum
        cap = has_capacitive_tail(f, z) if capacitance == "auto" else bool(capacitance)
        groups.setdefault((f.tobytes(), cap), []).append(i)
    options = _Options(threshold=float(threshold), method=method, n_elements=n_elements,
                       max_elements=max_elements, inductance=inductance,
                       mu_criterion=mu_criterion, plateau_factor=plateau_factor,
                       hard_limit=float(hard_limit_factor * threshold),
                       structure_z=structure_z)
    results: list[KramersKronigResult | None] = [None] * len(checked)
    for (_, cap), members in groups.items():
        f = checked[members[0]][0]
        z = np.stack([checked[i][1] for i in members])
        for i, result in zip(members, _test_group(f, z, cap, options), strict=True):
            results[i] = result
    return [r for r in results if r is not None]


@dataclass(frozen=True)
class _Options:
    """The settings of one :func:`kramers_kronig_batch` call, checked."""

    threshold: float
    method: str
    n_elements: int | None
    max_elements: int | None
    inductance: bool
    mu_criterion: float
    plateau_factor: float
    hard_limit: float
    structure_z: float


def _test_group(f: FloatArray, z: ComplexArray, capacitance: bool,
                opt: _Options) -> list[KramersKronigResult]:
    """Lin-KK test of the spectra ``z`` (S, N), all on the frequencies ``f`` (N,)."""
    n_spectra, n = z.shape
    n_series = 1 + int(opt.inductance) + int(capacitance)
    # Keep at least one residual degree of freedom for s².
    limit = 2 * n - n_series - 1
    if opt.n_elements is not None:
        if not 1 <= opt.n_elements <= limit:
            raise ValueError(f"kramers_kronig: n_elements must be in 1..{limit} for {n} "
                             f"points, got {opt.n_elements!r}")
        candidates = np.array([opt.n_elements])
    else:
        top = n if opt.max_elements is None else int(opt.max_elements)
        candidates = np.arange(1, max(1, min(top, limit)) + 1)

    omega = 2.0 * np.pi * f
    modulus = np.abs(z)
    # Series columns, each scaled to O(1) so the solve ranks them fairly.
    series = [np.ones_like(omega, dtype=np.complex128)]
    if opt.inductance:
        series.append(1j * omega / omega.max())
    if capacitance:
        series.append(-1j * omega.min() / omega)
    series_cols = np.stack(series, axis=1)
    extend = CAPACITIVE_EXTENSION_DECADES if capacitance else 0.0
    weight = 1.0 / modulus
    row_weight = np.concatenate([weight, weight], axis=1)        # (S, 2N)
    target = stack_real_imag((z * weight).T).T                   # (S, 2N)
    a_series = stack_real_imag(series_cols)                      # (2N, n_series), unweighted

    coefs: list[FloatArray] = []           # per candidate: (S, P) coefficients
    variance = np.full((n_spectra, candidates.size), np.inf)
    mu = np.full((n_spectra, candidates.size), np.nan)
    n_tried = np.full(n_spectra, candidates.size)
    active = np.arange(n_spectra)
    # The RC columns of a chunk of candidates are built in one go (their τ grids side by side);
    # chunks keep the early stop from paying for columns it never uses.
    for start in range(0, candidates.size, CHUNK):
        ms = candidates[start:start + CHUNK]
        tau_chunk, offsets = _candidate_taus(omega, ms, extend)
        a_rc = stack_real_imag(rc_columns(omega, tau_chunk))
        for j in range(ms.size):   # candidates, not spectra: each step solves the whole stack
            i = start + j
            design = np.concatenate([a_series, a_rc[:, offsets[j]:offsets[j + 1]]], axis=1)
            x = np.full((n_spectra, design.shape[1]), np.nan)
            x[active], resid = _stacked_least_squares(
                row_weight[active, :, None] * design[None], target[active])
            variance[active, i] = ((resid[:, None, :] @ resid[..., None])[:, 0, 0]
                                   / (2 * n - design.shape[1]))
            mu[active, i] = _mu(x[active, n_series:])
            coefs.append(x)
            if opt.method == "plateau" and opt.n_elements is None:
                stop = _on_plateau(variance[active, :i + 1], opt.plateau_factor)
                n_tried[active[stop]] = i + 1
                active = active[~stop]
            if not active.size:
                break
        if not active.size:
            break

    rows = np.arange(n_spectra)
    tried = np.arange(candidates.size)[None, :] < n_tried[:, None]
    if opt.n_elements is not None:
        chosen, how = np.zeros(n_spectra, dtype=np.int64), "fixed"
    elif opt.method == "mu":
        below = tried & (mu < opt.mu_criterion)
        chosen = np.where(below.any(axis=1), np.argmax(below, axis=1), n_tried - 1)
        how = "mu"
    else:
        chosen, how = _choose_plateau(variance, opt.plateau_factor), "plateau"

    # The chosen models, grouped by M (a few distinct values) rather than spectrum by spectrum.
    fit = np.empty_like(z)
    p_max = n_series + int(candidates[chosen].max())
    x_chosen = np.full((n_spectra, p_max), np.nan)
    taus: dict[int, FloatArray] = {}   # each chosen M's τ grid, for the results too
    for c in np.unique(chosen):
        members = rows[chosen == c]
        x = coefs[c][members]
        tau = taus[int(c)] = time_constants(omega, int(candidates[c]), extend)
        columns = np.concatenate([series_cols, rc_columns(omega, tau)], axis=1)
        # Stacked (one product per spectrum), so the rounding, which the alternating R_k of
        # a large M amplify, does not depend on how many spectra chose this M.
        fit[members] = (columns[None] @ x[..., None].astype(np.complex128))[..., 0]
        x_chosen[members, :x.shape[1]] = x
    res = (z - fit) / modulus
    max_residual = np.max(np.maximum(np.abs(res.real), np.abs(res.imag)), axis=1)
    noise = _noise_rows(res)
    rho, rho_z = _autocorrelation_rows(f, res)

    results = []
    for s in range(n_spectra):   # packing results: the arithmetic above is done for all
        m = int(candidates[chosen[s]])
        x = x_chosen[s, :n_series + m]
        structured = bool(rho_z[s] > opt.structure_z)
        passed, reason = _verdict(float(max_residual[s]), opt.threshold, opt.hard_limit,
                                  structured, float(rho_z[s]))
        k = 1
        ind = cap = None
        if opt.inductance:
            ind = float(x[k] / omega.max())
            k += 1
        if capacitance:
            inv_c = float(x[k] * omega.min())
            cap = float("inf") if inv_c == 0 else 1.0 / inv_c
        kept = int(n_tried[s])
        results.append(KramersKronigResult(
            passed=bool(passed),
            max_residual=float(max_residual[s]),
            threshold=opt.threshold,
            hard_limit=opt.hard_limit,
            noise_estimate=float(noise[s]),
            autocorrelation=float(rho[s]),
            autocorrelation_z=float(rho_z[s]),
            structured=structured,
            reason=reason,
            frequency=f,
            residual_real=res[s].real.copy(),
            residual_imag=res[s].imag.copy(),
            impedance_fit=fit[s],
            n_elements=m,
            time_constants_s=taus[int(chosen[s])].copy(),
            resistances_ohm=x[n_series:].copy(),
            series_resistance_ohm=float(x[0]),
            inductance_h=ind,
            capacitance_f=cap,
            mu=float(mu[s, chosen[s]]),
            method=how,
            # Candidates never reached (early stop) are left out of the report.
            candidate_elements=candidates[:kept],
            candidate_variance=variance[s, :kept],
            candidate_mu=mu[s, :kept],
        ))
    return results


#: Stacked systems whose triangular factor is this ill-conditioned are solved again by
#: LAPACK's rank-revealing dgelsy, alone: the unpivoted QR would keep directions that only
#: rounding put in the column space (measured on the demo and shared files: cond ≤ 1e10, where
#: both solves agree to 7e-11 in the residuals).
RANK_REVEALING_COND = 1e10


def _stacked_least_squares(design: FloatArray, target: FloatArray
                           ) -> tuple[FloatArray, FloatArray]:
    """Least squares of every system ``design[s] @ x ≈ target[s]``: ``(x, residual)``.

    One stacked Householder QR (numpy's gufunc loops over the stack in C); the residual is
    ``b - Q Qᵀ b``, which stays accurate when x does not (nearly collinear RC columns).
    """
    q, r = np.linalg.qr(design)
    # matmul works matrix by matrix, so a system's numbers do not depend on its stack.
    qtb = (target[:, None, :] @ q)[:, 0, :]
    resid = target - (q @ qtb[..., None])[..., 0]
    suspect = _ill_conditioned(r)
    x = np.empty(qtb.shape)
    ok = ~suspect
    if ok.any():
        # LU of a triangular matrix is the matrix itself: this is the back-substitution.
        x[ok] = np.linalg.solve(r[ok], qtb[ok][..., None])[..., 0]
    for s in np.flatnonzero(suspect):   # rare: nearly rank-deficient designs
        x[s] = _least_squares(design[s], target[s])
        resid[s] = target[s] - design[s] @ x[s]
    return x, resid


def _ill_conditioned(r: FloatArray) -> NDArray[np.bool_]:
    """Per square factor of the stack ``r`` (S, P, P): is σ_max ≤ RANK_REVEALING_COND σ_min
    (or not finite), by the singular values?

    The SVD is only taken where a cheaper bound cannot decide: cond₂ ≤ ‖R‖_F ‖R⁻¹‖_F, and the
    inverse (LU) costs a third of the singular values. Where the bound is below the limit by
    :data:`_BOUND_MARGIN` the SVD's answer is certainly "well conditioned" (its rounding moves
    σ_min by about P ε σ_max, far less than the margin), so the decision is the SVD's.
    """
    undecided = np.ones(r.shape[0], dtype=bool)
    with np.errstate(all="ignore"):
        try:
            bound = (np.linalg.norm(r, axis=(1, 2))
                     * np.linalg.norm(np.linalg.inv(r), axis=(1, 2)))
        except np.linalg.LinAlgError:   # an exactly singular factor: the SVD decides all
            bound = None
    if bound is not None:
        undecided = ~(bound * _BOUND_MARGIN < RANK_REVEALING_COND)   # NaN: undecided
    suspect = np.zeros(r.shape[0], dtype=bool)
    if undecided.any():
        singular = np.linalg.svd(r[undecided], compute_uv=False)
        suspect[undecided] = ~(singular[:, -1] * RANK_REVEALING_COND > singular[:, 0])
    return suspect


#: how far below RANK_REVEALING_COND the bound of :func:`_ill_conditioned` must be to decide
_BOUND_MARGIN = 100.0


def _least_squares(design: FloatArray, target: FloatArray) -> FloatArray:
    """Least-squares x of ``design @ x ≈ target`` by LAPACK's column-pivoted QR (dgelsy).

    The same routine and arguments as ``scipy.linalg.lstsq(..., lapack_driver="gelsy")``
    (so the same bits), called directly: the wrapper's argument checks cost about 130 µs per
    call. Used for the nearly rank-deficient systems, where the column pivoting and the rank
    decision matter.
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
    return float(_noise_rows(np.asarray(residual, dtype=np.complex128)[None, :])[0])


def _noise_rows(residual: ComplexArray) -> FloatArray:
    """:func:`residual_noise` of every row of ``residual`` (S, N)."""
    both = np.concatenate([residual.real, residual.imag], axis=1)
    return np.asarray(MAD_TO_SIGMA * np.median(np.abs(both), axis=1), dtype=np.float64)


def residual_autocorrelation(frequency: FloatArray,
                             residual: ComplexArray) -> tuple[float, float]:
    """Lag-1 autocorrelation ρ₁ of the residuals over frequency, and its score ρ₁ √n.

    The real and imaginary residuals, each ordered by frequency, are two sequences; their
    products of neighbours and their squares are pooled (about zero mean is assumed, as for
    the residuals of a least-squares fit with a constant term). For white noise ρ₁ √n is
    approximately standard normal; smooth residuals (drift, non-linearity) make it large and
    positive.
    """
    rho, z = _autocorrelation_rows(np.asarray(frequency, dtype=np.float64),
                                   np.asarray(residual, dtype=np.complex128)[None, :])
    return float(rho[0]), float(z[0])


def _autocorrelation_rows(frequency: FloatArray,
                          residual: ComplexArray) -> tuple[FloatArray, FloatArray]:
    """:func:`residual_autocorrelation` of every row of ``residual`` (S, N), one grid (N,)."""
    order = np.argsort(frequency)
    r = np.stack([residual.real[:, order], residual.imag[:, order]], axis=1)   # (S, 2, N)
    denominator = np.sum(r * r, axis=(1, 2))
    products = np.sum(r[:, :, 1:] * r[:, :, :-1], axis=(1, 2))
    rho = np.divide(products, denominator, out=np.zeros_like(products),
                    where=denominator != 0.0)
    pairs = 2 * (r.shape[2] - 1)
    return rho, rho * np.sqrt(pairs)


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


def _mu(resistances: FloatArray) -> FloatArray:
    """Schönleber's μ = 1 - Σ|R_k<0| / Σ R_k≥0 of each row (1 when no element is negative)."""
    positive = np.where(resistances >= 0, resistances, 0.0).sum(axis=1)
    negative = -np.where(resistances < 0, resistances, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = 1.0 - negative / positive
    return np.where(positive > 0, mu, np.where(negative > 0, -np.inf, 1.0))


def _on_plateau(variance: FloatArray, factor: float) -> NDArray[np.bool_]:
    """Per row of s² (S, M so far): have the last ``PATIENCE`` elements improved s² by less
    than ``factor``?

    Later elements would then only fit noise (or the non-compliant part, which they cannot
    remove), so trying them changes neither the floor estimate much nor the verdict.
    """
    if variance.shape[1] <= PATIENCE:
        return np.zeros(variance.shape[0], dtype=bool)
    return np.asarray(variance[:, -PATIENCE:].min(axis=1) * factor
                      > variance[:, :-PATIENCE].min(axis=1))


def _choose_plateau(variance: FloatArray, factor: float) -> IntArray:
    """Per row: index of the smallest M whose s² is within ``factor`` of the lowest s²
    (candidates not tried are ``inf``)."""
    floor = variance.min(axis=1, keepdims=True)
    return np.argmax(variance <= factor * floor, axis=1)
