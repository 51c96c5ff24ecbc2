"""Fit statistics at the optimum: covariance, standard errors, correlation, goodness of fit.

With weighted residuals ``r = (Z_model - Z_data) / w`` stacked as real and imaginary parts
(M = 2 N numbers for N frequencies) and k free parameters:

- ``chi_square = Σ r²`` (= 2 × ``cost``). With modulus or proportional weighting it is a
  *relative* misfit, not a χ² in units of the measurement noise, because the weights are not
  the noise's standard deviations; ``reduced_chi_square = chi_square / (M - k)`` is then the
  estimated variance of the weighted residuals.
- Covariance of the free parameters ``C = s² (JᵀJ)⁻¹`` with ``s² = reduced_chi_square`` (the
  residual variance; the usual choice when the absolute noise level is unknown, as in
  scipy.optimize.curve_fit with ``absolute_sigma=False``). It is computed from the SVD of the
  Jacobian in the solver's internal coordinates (better conditioned than natural ones) and
  mapped to natural units by ``C_nat = D C D`` with ``D = dp/du`` (p for log parameters).
  Directions the data do not determine (singular values below ``1e-12 × the largest``) make
  the covariance of the parameters involved NaN rather than a huge meaningless number.
- ``AIC = M ln(χ²/M) + 2k`` and ``BIC = M ln(χ²/M) + k ln M``: the Gaussian-likelihood forms
  with the variance profiled out, comparable between circuits fitted to the same spectrum
  with the same weighting.

Fixed parameters have standard error 0, covariance 0 and correlation NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["FitStatistics", "fit_statistics"]

Array = NDArray[np.float64]

#: Singular values below this fraction of the largest mark a non-identifiable direction.
RCOND = 1e-12
#: A parameter takes part in a non-identifiable direction when its share exceeds this.
NULL_SHARE = 1e-3


@dataclass
class FitStatistics:
    """Statistics for a batch of fits (leading axis B; P = all parameters, fixed included)."""

    chi_square: Array
    reduced_chi_square: Array
    aic: Array
    bic: Array
    covariance: Array       # (B, P, P), natural units
    stderr: Array           # (B, P)
    correlation: Array      # (B, P, P)
    n_observations: NDArray[np.int_]
    dof: NDArray[np.int_]


def fit_statistics(residuals: Array, jacobian: Array, derivative: Array,
                   free: NDArray[np.intp], n_params: int,
                   n_observations: NDArray[np.int_]) -> FitStatistics:
    """Statistics from weighted residuals and the internal-coordinate Jacobian at the optimum.

    Parameters
    ----------
    residuals : ndarray (B, M)
        Weighted residuals; padded entries must be 0.
    jacobian : ndarray (B, M, Pf)
        d residuals / d internal coordinates (padded rows 0).
    derivative : ndarray (B, Pf)
        d natural parameter / d internal coordinate for each free parameter.
    free : ndarray of int (Pf,)
        Positions of the free parameters among all P.
    n_params : int
        P, all parameters.
    n_observations : ndarray of int (B,)
        Real numbers fitted per row (2 × the number of frequencies, without padding).

    Returns
    -------
    FitStatistics

    Examples
    --------
    Straight line y = a + b t, unit weights: the covariance is the textbook one.

    >>> t = np.arange(5.0)
    >>> r = np.array([[0.1, -0.2, 0.1, 0.05, -0.05]])
    >>> j = np.stack([np.ones(5), t], axis=-1)[None]
    >>> st = fit_statistics(r, j, np.ones((1, 2)), np.arange(2), 2, np.array([5]))
    >>> bool(np.isclose(st.covariance[0, 1, 1], st.reduced_chi_square[0] / 10.0))
    True
    """
    b, _, pf = jacobian.shape
    if b == 1:
        return _one_fit(residuals[0], jacobian[0], derivative[0], free, n_params,
                        int(np.asarray(n_observations).reshape(-1)[0]))
    n_obs = np.asarray(n_observations, dtype=np.int_)
    chi2 = np.sum(residuals * residuals, axis=1)
    dof = n_obs - pf
    with np.errstate(divide="ignore", invalid="ignore"):
        reduced = np.where(dof > 0, chi2 / np.maximum(dof, 1), np.nan)
        log_term = n_obs * np.log(chi2 / n_obs)
    aic = log_term + 2 * pf
    bic = log_term + pf * np.log(n_obs)

    finite = np.isfinite(jacobian).all(axis=(1, 2)) & np.isfinite(reduced)
    every = bool(finite.all())
    cov_free = np.full((b, pf, pf), np.nan)
    if every or finite.any():
        # (indexing with an all-True mask would copy the Jacobian for nothing)
        _, s, vt = np.linalg.svd(jacobian if every else jacobian[finite], full_matrices=False)
        small = s <= RCOND * s[:, :1]
        with np.errstate(divide="ignore"):
            inv_s2 = np.where(small, 0.0, 1.0 / (s * s))
        # V diag(1/s²) Vᵀ, scaled by the residual variance
        c = np.matmul(vt.transpose(0, 2, 1) * inv_s2[:, None, :], vt)
        c *= (reduced if every else reduced[finite])[:, None, None]
        # parameters taking part in an unidentifiable direction
        bad = np.any(small[:, :, None] & (np.abs(vt) > NULL_SHARE), axis=1)
        c = np.where(bad[:, :, None] | bad[:, None, :], np.nan, c)
        d = derivative if every else derivative[finite]
        c *= d[:, :, None] * d[:, None, :]
        if every:
            cov_free = c
        else:
            cov_free[finite] = c
    if pf == n_params:
        cov = cov_free
    else:
        cov = np.zeros((b, n_params, n_params))   # fixed parameters: 0
        cov[:, free[:, None], free[None, :]] = cov_free
    var = np.diagonal(cov, axis1=1, axis2=2)
    with np.errstate(invalid="ignore"):
        stderr = np.sqrt(var)
        denom = stderr[:, :, None] * stderr[:, None, :]
        corr = np.where(denom > 0, cov / np.where(denom > 0, denom, 1.0), np.nan)
    return FitStatistics(chi_square=chi2, reduced_chi_square=reduced, aic=aic, bic=bic,
                         covariance=cov, stderr=stderr, correlation=corr,
                         n_observations=n_obs, dof=dof)


_dgesdd: Any = None   # scipy.linalg.lapack.dgesdd, imported on first use


def _svd(a: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Singular values and Vᵀ of one (M, P) matrix: LAPACK gesdd (what ``np.linalg.svd``
    calls) without numpy's per-call overhead, a quarter of the time at this size."""
    global _dgesdd
    if _dgesdd is None:
        from scipy.linalg import lapack

        _dgesdd = lapack.dgesdd
    _, s, vt, info = _dgesdd(a, compute_uv=1, full_matrices=0)
    if info != 0:   # no convergence (or a bad argument): numpy raises LinAlgError
        _, s, vt = np.linalg.svd(a, full_matrices=False)
    return s, vt


def _one_fit(residuals: Array, jacobian: Array, derivative: Array, free: NDArray[np.intp],
             n_params: int, n_obs: int) -> FitStatistics:
    """:func:`fit_statistics` for one fit (1-D arrays), with scalar bookkeeping: at B = 1 the
    batched version's cost is numpy call overhead."""
    pf = jacobian.shape[1]
    chi2 = float(np.dot(residuals, residuals))
    dof = n_obs - pf
    reduced = chi2 / dof if dof > 0 else math.nan
    log_term = (n_obs * math.log(chi2 / n_obs) if chi2 > 0
                else -math.inf if chi2 == 0 else math.nan)
    aic = log_term + 2 * pf
    bic = log_term + pf * math.log(n_obs)
    with np.errstate(divide="ignore", invalid="ignore"):
        if math.isfinite(reduced) and bool(np.isfinite(jacobian).all()):
            s, vt = _svd(jacobian)
            small = s <= RCOND * s[0]
            inv_s2 = np.where(small, 0.0, 1.0 / (s * s))
            cov_free = np.dot(vt.T * inv_s2, vt)
            cov_free *= reduced * derivative[:, None] * derivative
            if small.any():
                bad = (small[:, None] & (np.abs(vt) > NULL_SHARE)).any(axis=0)
                cov_free = np.where(bad[:, None] | bad, np.nan, cov_free)
        else:
            cov_free = np.full((pf, pf), np.nan)
        if pf == n_params:
            cov = cov_free
        else:
            cov = np.zeros((n_params, n_params))
            cov[free[:, None], free] = cov_free
        stderr = np.sqrt(cov.diagonal())
        denom = stderr[:, None] * stderr
        positive = denom > 0
        corr = np.where(positive, cov / np.where(positive, denom, 1.0), np.nan)

    def one(v: float, dtype: type = np.float64) -> NDArray[Any]:
        return np.array([v], dtype=dtype)

    return FitStatistics(chi_square=one(chi2), reduced_chi_square=one(reduced),
                         aic=one(aic), bic=one(bic), covariance=cov[None], stderr=stderr[None],
                         correlation=corr[None], n_observations=one(n_obs, np.int_),
                         dof=one(dof, np.int_))

