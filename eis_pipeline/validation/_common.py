"""Input checking and the RC-basis columns shared by the Kramers-Kronig test and the DRT."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from eis_pipeline.exceptions import SpectrumError

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]


def as_spectrum_arrays(frequency: ArrayLike, impedance: ArrayLike, *, min_points: int,
                       caller: str) -> tuple[FloatArray, ComplexArray]:
    """Return ``(frequency Hz, impedance ohm)`` as 1-D float64/complex128 arrays, checked.

    Raises
    ------
    SpectrumError
        When shapes differ, a value is not finite, a frequency is not positive, |Z| is zero or
        there are fewer than ``min_points`` points; the message names ``caller`` and the point.
    """
    f = np.asarray(frequency, dtype=np.float64).ravel()
    z = np.asarray(impedance, dtype=np.complex128).ravel()
    if f.shape != z.shape:
        raise SpectrumError(f"{caller}: frequency and impedance must have the same length, "
                            f"got {f.size} and {z.size} points")
    if f.size < min_points:
        raise SpectrumError(f"{caller}: needs at least {min_points} points, got {f.size}; "
                            "pass a whole sweep")
    bad = ~(np.isfinite(f) & (f > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SpectrumError(f"{caller}: frequency must be positive and finite (Hz); "
                            f"point {i} is {f[i]!r}")
    bad = ~np.isfinite(z) | (z == 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SpectrumError(f"{caller}: impedance must be finite and non-zero (ohm); "
                            f"point {i} is {z[i]!r}")
    if np.unique(f).size != f.size:
        raise SpectrumError(f"{caller}: frequencies must be distinct; average repeated "
                            "points first")
    return f, z


def rc_columns(omega: FloatArray, tau: FloatArray) -> ComplexArray:
    """Impedance of unit-resistance RC elements, ``1 / (1 + jωτ)``, shape (frequency, tau)."""
    return np.asarray(1.0 / (1.0 + 1j * omega[:, None] * tau[None, :]), dtype=np.complex128)


def stack_real_imag(a: ComplexArray) -> FloatArray:
    """Stack real and imaginary parts along the first axis: complex (n, ...) -> real (2n, ...)."""
    return np.concatenate([a.real, a.imag], axis=0)
