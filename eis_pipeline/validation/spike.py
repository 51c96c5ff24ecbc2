"""The low-frequency capacitive spike of blocking electrodes: detection, exponent, extent.

A pellet between ion-blocking electrodes (gold, steel, carbon) ends its spectrum in a steep,
nearly vertical line: the double-layer CPE of the electrodes in series with the sample.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from eis_pipeline.validation._common import ComplexArray, FloatArray

__all__ = ["has_capacitive_tail", "spike_exponent", "spike_mask"]


def has_capacitive_tail(frequency: FloatArray, impedance: ComplexArray) -> bool:
    """True when the lowest-frequency point has a phase below -45° (a blocking-electrode spike).

    An arc closing on the real axis, or one cut off near its apex, stays above -45° there once
    the series resistance is included; a capacitive spike (CPE with n > 0.5) lies below.
    """
    z_low = impedance[np.argmin(frequency)]
    return bool(-z_low.imag > z_low.real)


def spike_exponent(frequency: FloatArray, impedance: ComplexArray, n_points: int = 4) -> float:
    """CPE exponent n of a low-frequency spike: minus the log-log slope of -Z'' against ω.

    Fitted by least squares over the ``n_points`` lowest frequencies, where the electrode
    dominates -Z''; clipped to [0.5, 1].
    """
    order = np.argsort(frequency)[:n_points]
    y = -impedance.imag[order]
    if np.any(y <= 0):
        return 1.0
    slope = np.polyfit(np.log(frequency[order]), np.log(y), 1)[0]
    return float(np.clip(-slope, 0.5, 1.0))


def spike_mask(frequency: FloatArray, impedance: ComplexArray) -> NDArray[np.bool_]:
    """Points to keep when dropping a low-frequency capacitive spike.

    Walking down in frequency from the top, the spike starts at the last local minimum of -Z''
    below which -Z'' only rises; points below that frequency are dropped. A spectrum without a
    capacitive tail (:func:`has_capacitive_tail`) keeps every point.
    """
    keep = np.ones(frequency.size, dtype=bool)
    if not has_capacitive_tail(frequency, impedance):
        return keep
    order = np.argsort(frequency)  # increasing frequency
    neg_imag = -impedance.imag[order]
    # From the lowest frequency upward, -Z'' falls while still on the spike.
    falling = np.diff(neg_imag) < 0
    stop = int(np.argmin(falling)) if not falling.all() else falling.size
    keep[order[:stop]] = False
    return keep
