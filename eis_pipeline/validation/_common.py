"""The RC-basis columns shared by the Kramers-Kronig test and the DRT (their input check is
:func:`eis_pipeline.conventions.check_spectrum_arrays`, the one every stage uses)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]


def rc_columns(omega: FloatArray, tau: FloatArray) -> ComplexArray:
    """Impedance of unit-resistance RC elements, ``1 / (1 + jωτ)``, shape (frequency, tau)."""
    return np.asarray(1.0 / (1.0 + 1j * omega[:, None] * tau[None, :]), dtype=np.complex128)


def stack_real_imag(a: ComplexArray) -> FloatArray:
    """Stack real and imaginary parts along the first axis: complex (n, ...) -> real (2n, ...)."""
    return np.concatenate([a.real, a.imag], axis=0)
