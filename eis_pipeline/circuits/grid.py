"""A validated frequency grid: frequencies in Hz and the angular frequencies ω = 2πf.

A fitter that evaluates the same circuit many times on one spectrum builds the grid once
(:meth:`FrequencyGrid.of`) and passes it instead of the frequency array, so the frequencies
are checked once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from eis_pipeline.exceptions import CircuitError

__all__ = ["FrequencyGrid"]

FloatArray = npt.NDArray[np.floating[Any]]


class FrequencyGrid:
    """Frequencies in Hz, shape ``(F,)`` or ``(B, F)``, and ω = 2πf.

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
        self.omega: FloatArray = np.ascontiguousarray((2.0 * np.pi) * f)

    @classmethod
    def of(cls, frequency: Any) -> FrequencyGrid:
        """``frequency`` itself when it already is a grid, else a new grid."""
        return frequency if isinstance(frequency, FrequencyGrid) else cls(frequency)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.frequency.shape
