"""Effective capacitances and apex frequencies of R‖CPE arcs, with analytic gradients.

Everything here is plain numpy on arrays broadcast over spectra, so the same code serves one
fit or ten thousand. Each function returns the value *and* its partial derivatives, because the
uncertainties downstream come from the delta method (``var f = g^T Σ g``) on the fit covariance;
:func:`delta_method_stderr` is that quadratic form.

Formulas: PHYSICS.md section 3 (Hsu–Mansfeld / Brug).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ArcCapacitance",
    "apex_frequency",
    "delta_method_stderr",
    "effective_capacitance",
]

FloatArray = NDArray[np.float64]


class ArcCapacitance(NamedTuple):
    """Effective capacitance ``C`` (F) and its partial derivatives."""

    value: FloatArray
    d_resistance: FloatArray
    d_q: FloatArray
    d_n: FloatArray


def effective_capacitance(resistance: ArrayLike, q: ArrayLike, n: ArrayLike) -> ArcCapacitance:
    """Effective capacitance of a CPE seen through a resistance, with its gradient.

    ``C_eff = Q^(1/n) · R^((1-n)/n)`` (PHYSICS.md section 3). For an R‖CPE arc ``R`` is the arc
    resistance (Hsu–Mansfeld); for a blocking-electrode CPE in series with the sample, ``R`` is
    the series (sample) resistance ``R_s`` (Brug, ``R_ct → ∞``). For ``n = 1`` it is ``Q``.

    Parameters
    ----------
    resistance : array_like
        Ohm, positive.
    q : array_like
        CPE coefficient ``Q`` in F·s^(n-1), positive.
    n : array_like
        CPE exponent, ``0 < n ≤ 1``.

    Returns
    -------
    ArcCapacitance
        ``value`` in F and the partial derivatives ``∂C/∂R``, ``∂C/∂Q``, ``∂C/∂n``. Non-positive
        inputs give NaN (a failed fit, never an exception).

    Examples
    --------
    >>> float(effective_capacitance(1e3, 2e-9, 1.0).value)
    2e-09
    """
    r = np.asarray(resistance, dtype=np.float64)
    qq = np.asarray(q, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    ok = (r > 0) & (qq > 0) & (nn > 0)
    # Overflow too: an exponent at its lower bound (n -> 0) makes Q^(1/n) infinite, which the
    # role checks then flag; a raw numpy warning would tell the user nothing.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_r = np.log(np.where(ok, r, np.nan))
        log_q = np.log(np.where(ok, qq, np.nan))
        inv_n = 1.0 / np.where(ok, nn, np.nan)
        # Powers rather than exp(log): exact for n = 1 (C = Q). The gradient follows from
        # ln C = (1/n) ln Q + (1/n - 1) ln R, differentiated term by term.
        c = np.where(ok, qq, np.nan) ** inv_n * np.where(ok, r, np.nan) ** (inv_n - 1.0)
        d_r = c * (inv_n - 1.0) / r
        d_q = c * inv_n / qq
        d_n = -c * (log_q + log_r) * inv_n**2
    return ArcCapacitance(c, d_r, d_q, d_n)


def apex_frequency(resistance: ArrayLike, q: ArrayLike, n: ArrayLike) -> FloatArray:
    """Frequency (Hz) of the apex of an R‖CPE arc: ``f = (R Q)^(-1/n) / 2π`` (section 3).

    Examples
    --------
    >>> round(float(apex_frequency(1e3, 1e-9, 1.0)), 3)   # 1 / (2π R C)
    159154.943
    """
    r = np.asarray(resistance, dtype=np.float64)
    qq = np.asarray(q, dtype=np.float64)
    nn = np.asarray(n, dtype=np.float64)
    ok = (r > 0) & (qq > 0) & (nn > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rq = np.where(ok, r * qq, np.nan)
        return np.asarray(rq ** (-1.0 / np.where(ok, nn, np.nan)) / (2.0 * np.pi))


def delta_method_stderr(gradient: ArrayLike, covariance: ArrayLike) -> FloatArray:
    """Standard error ``sqrt(g^T Σ g)`` of a derived quantity, batched over leading axes.

    Covariance entries that meet a zero gradient are ignored, so a parameter the quantity does
    not depend on cannot poison it with a NaN (e.g. an unestimable CPE exponent elsewhere in the
    circuit), while a NaN the quantity *does* depend on propagates as NaN.

    Parameters
    ----------
    gradient : array_like, shape (..., P)
    covariance : array_like, shape (..., P, P)

    Examples
    --------
    >>> cov = np.array([[4.0, 1.5], [1.5, 9.0]])
    >>> float(delta_method_stderr([1.0, 1.0], cov))   # var(a + b) = 4 + 9 + 2·1.5
    4.0
    """
    g = np.asarray(gradient, dtype=np.float64)
    cov = np.asarray(covariance, dtype=np.float64)
    outer = g[..., :, None] * g[..., None, :]
    with np.errstate(invalid="ignore"):
        terms = np.where(outer != 0.0, outer * cov, 0.0)
    var = terms.sum(axis=(-2, -1))
    # Rounding can leave a tiny negative variance for a near-singular covariance: clip it; a
    # clearly negative one means the covariance is not positive semi-definite -> NaN.
    tolerance = 1e-10 * np.abs(terms).sum(axis=(-2, -1))
    var = np.where((var < 0) & (var >= -tolerance), 0.0, var)
    with np.errstate(invalid="ignore"):
        return np.asarray(np.sqrt(np.where(var < 0, np.nan, var)))
