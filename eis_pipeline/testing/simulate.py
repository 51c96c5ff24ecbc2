"""Synthetic impedance of a solid-electrolyte pellet between blocking electrodes.

The physical model (PHYSICS.md sections 2-6) is the usual brick-layer picture in series with
the cell's stray inductance and the blocking-electrode interface::

    L_stray  -  R_b || CPE_b  -  R_gb || CPE_gb  -  CPE_el

(in impedance.py notation ``L0-p(R1,CPE1)-p(R2,CPE2)-CPE3``). The material is described by
what a physicist would measure, not by circuit elements:

- bulk and (macroscopic) grain-boundary conductivities, each following Arrhenius in the
  ``σT = σ₀ exp(-E_a / k_B T)`` form (PHYSICS.md section 6);
- the bulk relative permittivity ε_r, which gives the bulk capacitance C_b = ε_r ε₀ A / L
  (PHYSICS.md section 4), and the grain-boundary capacitance as a multiple of it
  (brick layer: C_gb / C_b ≈ d_grain / δ_gb, PHYSICS.md section 5);
- CPE exponents, and the electrode CPE.

Each CPE is chosen so that its arc's *effective* capacitance (Hsu-Mansfeld, PHYSICS.md
section 3) equals the physical one: ``Q = C_eff**n * R**(n - 1)``. The arc's apex then sits
at ``ω = 1 / (R C_eff)``, so the bulk apex frequency is the material's dielectric relaxation
frequency ``σ_b / (2π ε_r ε₀)``, independent of the pellet geometry.

This module only computes; it writes no files (see :mod:`eis_pipeline.testing.writers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from eis_pipeline.conventions import (
    BOLTZMANN_EV_PER_K,
    ROOM_TEMPERATURE_K,
    VACUUM_PERMITTIVITY_F_PER_CM,
    make_spectrum,
)

__all__ = [
    "BOLTZMANN_EV_K",
    "ROOM_TEMPERATURE_K",
    "VACUUM_PERMITTIVITY_F_CM",
    "ArrheniusLaw",
    "PelletModel",
    "add_proportional_noise",
    "cpe_impedance",
    "log_frequencies",
    "measurement_times",
    "pellet_impedance",
    "rq_impedance",
    "simulate_spectrum",
]

#: Boltzmann constant in eV/K (:data:`eis_pipeline.conventions.BOLTZMANN_EV_PER_K`).
BOLTZMANN_EV_K = BOLTZMANN_EV_PER_K
#: Vacuum permittivity in F/cm
#: (:data:`eis_pipeline.conventions.VACUUM_PERMITTIVITY_F_PER_CM`).
VACUUM_PERMITTIVITY_F_CM = VACUUM_PERMITTIVITY_F_PER_CM


@dataclass(frozen=True)
class ArrheniusLaw:
    """Conductivity ``σ(T) = (σ₀ / T) exp(-E_a / (k_B T))`` (the σT form, PHYSICS.md 6).

    Parameters
    ----------
    prefactor_S_K_cm : float
        σ₀ in S·K/cm.
    activation_energy_eV : float
        E_a in eV.

    Examples
    --------
    >>> law = ArrheniusLaw.from_sigma_at(4e-3, 0.25)
    >>> float(round(law.conductivity(298.15) * 1e3, 6))
    4.0
    """

    prefactor_S_K_cm: float
    activation_energy_eV: float

    @classmethod
    def from_sigma_at(cls, sigma_S_cm: float, activation_energy_eV: float,
                      temperature_K: float = ROOM_TEMPERATURE_K) -> ArrheniusLaw:
        """The law with conductivity ``sigma_S_cm`` at ``temperature_K`` (default 25 °C)."""
        prefactor = sigma_S_cm * temperature_K * np.exp(
            activation_energy_eV / (BOLTZMANN_EV_K * temperature_K))
        return cls(float(prefactor), float(activation_energy_eV))

    def conductivity(self, temperature_K: ArrayLike) -> NDArray[np.float64]:
        """σ in S/cm at ``temperature_K``."""
        t = np.asarray(temperature_K, dtype=np.float64)
        return np.asarray(self.prefactor_S_K_cm / t
                          * np.exp(-self.activation_energy_eV / (BOLTZMANN_EV_K * t)))


@dataclass(frozen=True)
class PelletModel:
    """A pellet of ionic conductor between two blocking electrodes, in a measurement cell.

    Parameters
    ----------
    thickness_cm, diameter_cm : float
        Pellet geometry (PHYSICS.md section 5); area ``π d² / 4``.
    bulk, grain_boundary : ArrheniusLaw
        Bulk and macroscopic grain-boundary conductivity (``σ_gb = L / (R_gb A)``).
    bulk_permittivity : float
        Relative permittivity ε_r of the bulk (5-100 for a real bulk arc, PHYSICS.md 4).
    gb_capacitance_ratio : float
        C_gb / C_b (brick layer: grain size over grain-boundary thickness).
    bulk_cpe_exponent, gb_cpe_exponent : float
        CPE exponents n in (0, 1].
    electrode_q, electrode_cpe_exponent : float
        Blocking-electrode CPE: Q in F·s^(n-1) and n.
    inductance_H : float
        Stray inductance of leads and cell (PHYSICS.md section 1: 0.1-2 µH).
    """

    thickness_cm: float
    diameter_cm: float
    bulk: ArrheniusLaw
    grain_boundary: ArrheniusLaw
    bulk_permittivity: float = 30.0
    gb_capacitance_ratio: float = 300.0
    bulk_cpe_exponent: float = 0.95
    gb_cpe_exponent: float = 0.85
    electrode_q: float = 2e-6
    electrode_cpe_exponent: float = 0.85
    inductance_H: float = 5e-7

    @property
    def area_cm2(self) -> float:
        """Electrode area ``π d² / 4`` in cm²."""
        return float(np.pi * self.diameter_cm**2 / 4.0)

    @property
    def cell_constant_per_cm(self) -> float:
        """L / A in 1/cm."""
        return self.thickness_cm / self.area_cm2

    def parameters(self, temperature_K: float) -> dict[str, float]:
        """Circuit parameters at ``temperature_K``.

        Returns
        -------
        dict
            impedance.py names of ``L0-p(R1,CPE1)-p(R2,CPE2)-CPE3`` (``L0``, ``R1``,
            ``CPE1_0``, ``CPE1_1``, ``R2``, ``CPE2_0``, ``CPE2_1``, ``CPE3_0``, ``CPE3_1``)
            plus the physical quantities: ``bulk_capacitance_F``, ``gb_capacitance_F``
            (effective capacitances), ``bulk_apex_frequency_Hz``, ``gb_apex_frequency_Hz``,
            ``bulk_conductivity_S_cm``, ``gb_conductivity_S_cm``,
            ``total_conductivity_S_cm`` and ``temperature_K``.
        """
        t = float(temperature_K)
        k = self.cell_constant_per_cm
        sigma_b = float(self.bulk.conductivity(t))
        sigma_gb = float(self.grain_boundary.conductivity(t))
        r_b, r_gb = k / sigma_b, k / sigma_gb          # PHYSICS.md 5: σ = L / (R A)
        c_b = self.bulk_permittivity * VACUUM_PERMITTIVITY_F_CM / k   # ε_r ε₀ A / L
        c_gb = self.gb_capacitance_ratio * c_b
        n_b, n_gb = self.bulk_cpe_exponent, self.gb_cpe_exponent
        # Inverse of Hsu-Mansfeld (PHYSICS.md 3): C = Q^(1/n) R^((1-n)/n)  <=>  Q = C^n R^(n-1)
        q_b = c_b**n_b * r_b ** (n_b - 1.0)
        q_gb = c_gb**n_gb * r_gb ** (n_gb - 1.0)
        return {
            "L0": self.inductance_H,
            "R1": r_b, "CPE1_0": q_b, "CPE1_1": n_b,
            "R2": r_gb, "CPE2_0": q_gb, "CPE2_1": n_gb,
            "CPE3_0": self.electrode_q, "CPE3_1": self.electrode_cpe_exponent,
            "bulk_capacitance_F": c_b,
            "gb_capacitance_F": c_gb,
            "bulk_apex_frequency_Hz": 1.0 / (2.0 * np.pi * r_b * c_b),
            "gb_apex_frequency_Hz": 1.0 / (2.0 * np.pi * r_gb * c_gb),
            "bulk_conductivity_S_cm": sigma_b,
            "gb_conductivity_S_cm": sigma_gb,
            "total_conductivity_S_cm": k / (r_b + r_gb),
            "temperature_K": t,
        }

    def impedance(self, frequency: ArrayLike, temperature_K: float) -> NDArray[np.complex128]:
        """Noise-free impedance in ohm at ``frequency`` (Hz) and ``temperature_K``."""
        return pellet_impedance(frequency, self.parameters(temperature_K))


def cpe_impedance(frequency: ArrayLike, q: float, n: float) -> NDArray[np.complex128]:
    """``Z = 1 / (Q (jω)^n)`` (PHYSICS.md section 2)."""
    jw = 2j * np.pi * np.asarray(frequency, dtype=np.float64)
    return np.asarray(1.0 / (q * jw**n))


def rq_impedance(frequency: ArrayLike, r: float, q: float, n: float) -> NDArray[np.complex128]:
    """R in parallel with a CPE: ``Z = R / (1 + R Q (jω)^n)`` (PHYSICS.md section 3)."""
    jw = 2j * np.pi * np.asarray(frequency, dtype=np.float64)
    return np.asarray(r / (1.0 + r * q * jw**n))


def pellet_impedance(frequency: ArrayLike, params: Mapping[str, float]) -> NDArray[np.complex128]:
    """Impedance of ``L0-p(R1,CPE1)-p(R2,CPE2)-CPE3`` from impedance.py-named parameters.

    Written in closed form so the simulator does not depend on the circuit compiler it is
    used to test.
    """
    f = np.asarray(frequency, dtype=np.float64)
    return np.asarray(
        2j * np.pi * f * params["L0"]
        + rq_impedance(f, params["R1"], params["CPE1_0"], params["CPE1_1"])
        + rq_impedance(f, params["R2"], params["CPE2_0"], params["CPE2_1"])
        + cpe_impedance(f, params["CPE3_0"], params["CPE3_1"])
    )


def log_frequencies(f_max_hz: float, f_min_hz: float,
                    points_per_decade: int = 10) -> NDArray[np.float64]:
    """Log-spaced frequencies from ``f_max_hz`` down to ``f_min_hz``, both included.

    The sweep direction (high to low) is the one impedance analysers use.

    Examples
    --------
    >>> log_frequencies(1e3, 1.0, 1)
    array([1000.,  100.,   10.,    1.])
    """
    decades = np.log10(f_max_hz / f_min_hz)
    n = int(np.rint(decades * points_per_decade)) + 1
    return np.asarray(np.logspace(np.log10(f_max_hz), np.log10(f_min_hz), n))


def add_proportional_noise(impedance: ArrayLike, relative: float,
                           rng: np.random.Generator) -> NDArray[np.complex128]:
    """Add complex Gaussian noise of standard deviation ``relative · |Z|`` to Z' and Z''.

    This is the error structure of a frequency-response analyser (an error proportional to
    the modulus), so modulus weighting is the matching weighting (PHYSICS.md section 8).
    """
    z = np.asarray(impedance, dtype=np.complex128)
    scale = relative * np.abs(z)
    noise = rng.standard_normal(z.shape) + 1j * rng.standard_normal(z.shape)
    return np.asarray(z + scale * noise)


def measurement_times(frequency: ArrayLike, *, cycles: float = 4.0,
                      min_point_s: float = 0.2, start_s: float = 0.0) -> NDArray[np.float64]:
    """Plausible acquisition times: each point integrates ``cycles`` periods (at least
    ``min_point_s``), as an analyser does; returns the time at the end of each point."""
    f = np.asarray(frequency, dtype=np.float64)
    durations = np.maximum(cycles / f, min_point_s)
    # rounded to 0.1 ms like instrument clocks, which also keeps the files free of float noise
    return np.asarray(np.round(start_s + np.cumsum(durations), 4))


def simulate_spectrum(model: PelletModel, temperature_K: float, frequency: ArrayLike, *,
                      noise: float = 0.005, rng: np.random.Generator | None = None,
                      temperature_jitter_K: float = 0.0) -> xr.Dataset:
    """A canonical spectrum (DESIGN.md section 4) of ``model`` at ``temperature_K``.

    Parameters
    ----------
    model : PelletModel
    temperature_K : float
        Sample temperature.
    frequency : array_like
        Frequencies in Hz, in acquisition order.
    noise : float
        Relative noise (0.005 = 0.5 % of |Z| on each of Z' and Z'').
    rng : numpy.random.Generator, optional
        Source of the noise; required when ``noise`` or ``temperature_jitter_K`` is not 0.
    temperature_jitter_K : float
        Standard deviation of the per-point temperature reading around ``temperature_K``.

    Returns
    -------
    xarray.Dataset
        With ``impedance``, ``time`` and ``temperature`` variables; attributes hold the true
        circuit parameters as ``true_<name>``.

    Examples
    --------
    >>> law = ArrheniusLaw.from_sigma_at(1e-3, 0.3)
    >>> m = PelletModel(0.08, 1.0, bulk=law, grain_boundary=law)
    >>> ds = simulate_spectrum(m, 298.15, log_frequencies(1e6, 1, 10), noise=0.0)
    >>> ds.sizes["frequency"]
    61
    """
    f = np.asarray(frequency, dtype=np.float64)
    params = model.parameters(temperature_K)
    z = pellet_impedance(f, params)
    temperature = np.full(f.shape, float(temperature_K))
    if rng is not None:
        if noise:
            z = add_proportional_noise(z, noise, rng)
        if temperature_jitter_K:
            temperature = temperature + temperature_jitter_K * rng.standard_normal(f.shape)
    elif noise or temperature_jitter_K:
        raise ValueError("simulate_spectrum: pass rng= (a seeded numpy Generator) "
                         "when noise or temperature_jitter_K is not zero")
    return make_spectrum(
        f, z, time=measurement_times(f), temperature=temperature,
        instrument="eis_pipeline.testing.simulate",
        attrs={f"true_{k}": float(v) for k, v in params.items()},
    )

