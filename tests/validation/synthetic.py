"""Synthetic spectra with known parameters for the validation tests and benchmark.

Every function returns impedance in ohm with the physical sign (capacitive Z'' < 0), built from
the element formulas of PHYSICS.md section 2 (R‖CPE: Z = R / (1 + R Q (jω)^n)).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]

#: The two-arc + electrode test spectrum: (R ohm, Q F s^(n-1), n) per arc, and the electrode CPE.
BULK = (1000.0, 2e-10, 0.92)
GRAIN_BOUNDARY = (3000.0, 3e-8, 0.85)
ELECTRODE = (2e-6, 0.9)


def omega(frequency: FloatArray) -> FloatArray:
    return 2 * np.pi * np.asarray(frequency, dtype=np.float64)


def r_cpe(frequency: FloatArray, r: float, q: float, n: float) -> ComplexArray:
    """R in parallel with a CPE (n = 1: an ideal R‖C)."""
    return np.asarray(r / (1 + r * q * (1j * omega(frequency)) ** n), dtype=np.complex128)


def cpe(frequency: FloatArray, q: float, n: float) -> ComplexArray:
    return np.asarray(1 / (q * (1j * omega(frequency)) ** n), dtype=np.complex128)


def tau_of(r: float, q: float, n: float) -> float:
    """Characteristic time of an R‖CPE arc, τ = (R Q)^(1/n) (PHYSICS.md section 3)."""
    return float((r * q) ** (1 / n))


def sweep(f_max: float = 1e7, f_min: float = 0.1, per_decade: int = 9) -> FloatArray:
    """Log-spaced frequencies from high to low, as a potentiostat sweeps them."""
    decades = np.log10(f_max / f_min)
    return np.geomspace(f_max, f_min, round(decades * per_decade) + 1)


def two_arcs_and_spike(frequency: FloatArray, *, electrode: bool = True) -> ComplexArray:
    """Bulk and grain-boundary R‖CPE arcs in series with a blocking-electrode CPE."""
    z = r_cpe(frequency, *BULK) + r_cpe(frequency, *GRAIN_BOUNDARY)
    return z + cpe(frequency, *ELECTRODE) if electrode else z


def add_noise(z: ComplexArray, rng: np.random.Generator, relative: float) -> ComplexArray:
    """Gaussian noise of standard deviation ``relative``·|Z| on each of Z' and Z''."""
    scale = relative * np.abs(z)
    return z + scale * (rng.standard_normal(z.size) + 1j * rng.standard_normal(z.size))


def acquisition_time(frequency: FloatArray, cycles: float = 3.0,
                     minimum_s: float = 0.2) -> FloatArray:
    """Time (s) at which each point of a sweep is taken: ``cycles`` periods or ``minimum_s``."""
    per_point = np.maximum(cycles / np.asarray(frequency), minimum_s)
    return np.cumsum(per_point)


def drifting(frequency: FloatArray, drift: float = 0.05, *,
             electrode: bool = True) -> ComplexArray:
    """Two arcs (and electrode) whose resistances grow linearly in time by ``drift``.

    Each point is the impedance of the system as it is at that point's acquisition time, so
    the spectrum as a whole belongs to no single linear time-invariant system.
    """
    t = acquisition_time(frequency)
    growth = 1 + drift * (t - t[0]) / (t[-1] - t[0])
    rb, qb, nb = BULK
    rg, qg, ng = GRAIN_BOUNDARY
    z = (rb * growth / (1 + rb * growth * qb * (1j * omega(frequency)) ** nb)
         + rg * growth / (1 + rg * growth * qg * (1j * omega(frequency)) ** ng))
    return z + cpe(frequency, *ELECTRODE) if electrode else z


def distorted(frequency: FloatArray, strength: float = 0.1) -> ComplexArray:
    """Two arcs whose imaginary part is compressed around the grain-boundary arc.

    Mimics a large-amplitude (non-linear) measurement, whose fundamental-harmonic response
    loses part of its out-of-phase component where the current is largest: the imaginary part
    no longer matches the real part through the Kramers-Kronig relations.
    """
    z = two_arcs_and_spike(frequency, electrode=False)
    f_gb = 1 / (2 * np.pi * tau_of(*GRAIN_BOUNDARY))
    bump = np.exp(-0.5 * (np.log10(np.asarray(frequency) / f_gb) / 0.5) ** 2)
    return z.real + 1j * z.imag * (1 - strength * bump)


def rc_ladder(frequency: FloatArray, r_series: float, resistances: FloatArray,
              taus: FloatArray) -> ComplexArray:
    """R_s plus a chain of RC elements R_k / (1 + jωτ_k)."""
    w = omega(frequency)[:, None]
    return r_series + (np.asarray(resistances) / (1 + 1j * w * np.asarray(taus))).sum(axis=1)
