"""A frequency grid with the derived arrays every element needs, each computed once.

Elements never compute ``log(jω)`` or ``sqrt(jω)`` themselves: they ask the grid, which
computes each array on first use and keeps it. A fitter that evaluates the same circuit many
times on one spectrum builds the grid once (:meth:`FrequencyGrid.of`) and passes it instead of
the frequency array.

Since ω > 0, ``jω`` has argument π/2 exactly, so its powers are split into a real magnitude
and a unit phase: ``(jω)^n = ω^n · e^{jπn/2}``. Real exponentials are several times cheaper
than complex ones, and that identity is exact on the principal branch (the one numpy uses).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from eis_pipeline.exceptions import CircuitError

__all__ = ["FrequencyGrid"]

FloatArray = npt.NDArray[np.floating[Any]]
ComplexArray = npt.NDArray[Any]

_HALF_PI = 0.5 * np.pi


class FrequencyGrid:
    """Frequencies in Hz, shape ``(F,)`` or ``(B, F)``, and arrays derived from them.

    Parameters
    ----------
    frequency
        Positive, finite frequencies in Hz. A ``(B, F)`` array gives each spectrum of a batch
        its own grid (pad short spectra with a valid frequency, not NaN).

    Examples
    --------
    >>> g = FrequencyGrid([1.0, 10.0])
    >>> g.omega
    array([ 6.28318531, 62.83185307])
    """

    def __init__(self, frequency: Any) -> None:
        f = np.asarray(frequency, dtype=np.float64)
        if f.ndim not in (1, 2) or f.shape[-1] == 0:
            raise CircuitError(f"frequency must be a non-empty array of shape (F,) or (B, F), "
                               f"got shape {f.shape}")
        if not (np.all(np.isfinite(f)) and np.all(f > 0)):
            raise CircuitError("frequency must be positive and finite (Hz); found "
                               f"{np.count_nonzero(~(np.isfinite(f) & (f > 0)))} bad value(s). "
                               "Pad short spectra of a batch with a valid frequency (e.g. "
                               "repeat the last one) and give those points zero weight")
        self.frequency: FloatArray = f
        self.omega: FloatArray = (2.0 * np.pi) * f

    @classmethod
    def of(cls, frequency: Any) -> FrequencyGrid:
        """``frequency`` itself when it already is a grid, else a new grid."""
        return frequency if isinstance(frequency, FrequencyGrid) else cls(frequency)

    def rows(self, rows: slice) -> FrequencyGrid:
        """The grid of some rows of a (B, F) grid (itself for a 1-D grid); cached."""
        if self.frequency.ndim == 1:
            return self
        key = (rows.start, rows.stop)
        cache: dict[tuple[int, int], FrequencyGrid] = self.__dict__.setdefault("_rows", {})
        sub = cache.get(key)
        if sub is None:
            sub = object.__new__(FrequencyGrid)
            sub.frequency = self.frequency[rows]
            sub.omega = self.omega[rows]
            cache[key] = sub
        return sub

    @property
    def shape(self) -> tuple[int, ...]:
        return self.frequency.shape

    @cached_property
    def log_omega(self) -> FloatArray:
        """ln ω."""
        return np.log(self.omega)

    @cached_property
    def neg_log_omega(self) -> FloatArray:
        """-ln ω."""
        return -self.log_omega

    @cached_property
    def jomega(self) -> ComplexArray:
        """jω."""
        return self.omega * 1j

    @cached_property
    def neg_jomega(self) -> ComplexArray:
        """-jω."""
        return self.omega * -1j

    @cached_property
    def log_jomega(self) -> ComplexArray:
        """ln(jω) = ln ω + jπ/2 (principal branch)."""
        out = np.empty(self.omega.shape, np.complex128)
        out.real = self.log_omega
        out.imag = _HALF_PI
        return out

    @cached_property
    def neg_log_jomega(self) -> ComplexArray:
        """-ln(jω)."""
        return -self.log_jomega

    @cached_property
    def sqrt_omega(self) -> FloatArray:
        """√ω."""
        return np.sqrt(self.omega)

    @cached_property
    def sqrt_jomega(self) -> ComplexArray:
        """√(jω) = √ω · e^{jπ/4}."""
        return self.sqrt_omega * np.exp(0.25j * np.pi)

    @cached_property
    def warburg(self) -> ComplexArray:
        """(1 - j) / √ω, the semi-infinite Warburg shape."""
        return (1.0 - 1.0j) / self.sqrt_omega

    def jpow(self, n: FloatArray) -> ComplexArray:
        """(jω)^n for exponents ``n`` of shape ``(B, 1)``: ω^n · e^{jπn/2}."""
        magnitude = n * self.log_omega
        np.exp(magnitude, out=magnitude)
        return magnitude * np.exp((_HALF_PI * 1j) * n)
