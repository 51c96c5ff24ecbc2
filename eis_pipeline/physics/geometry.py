"""Pellet geometry: thickness, area, their uncertainties, cell constant, relative density.

Formulas: PHYSICS.md section 5 (``A = π d² / 4``, ``σ = L / (R A)``, relative density
``m / (A L ρ)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from eis_pipeline.exceptions import GeometryError

__all__ = ["Geometry", "conductivity_from_resistance", "relative_density", "resolve_geometry"]


@dataclass(frozen=True)
class Geometry:
    """Pellet thickness and electrode area (cm, cm²) with standard errors."""

    thickness_cm: float
    area_cm2: float
    thickness_stderr_cm: float = 0.0
    area_stderr_cm2: float = 0.0
    diameter_cm: float = math.nan
    diameter_stderr_cm: float = 0.0

    @property
    def cell_constant_per_cm(self) -> float:
        """``L / A`` in cm⁻¹."""
        return self.thickness_cm / self.area_cm2

    @property
    def relative_variance(self) -> float:
        """``(δL/L)² + (δA/A)²``: the geometry part of ``(δσ/σ)²`` (section 5)."""
        return ((self.thickness_stderr_cm / self.thickness_cm) ** 2
                + (self.area_stderr_cm2 / self.area_cm2) ** 2)


def _number(name: str, value: Any, *, positive: bool) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise GeometryError(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(x) or (x <= 0 if positive else x < 0):
        need = "positive" if positive else "non-negative"
        raise GeometryError(f"{name} must be finite and {need}, got {x!r}; give it in cm "
                            "(e.g. thickness_cm=0.1 for a 1 mm pellet)")
    return x


def resolve_geometry(
    attrs: dict[str, Any],
    *,
    thickness_cm: float | None,
    diameter_cm: float | None,
    area_cm2: float | None,
    thickness_stderr_cm: float = 0.0,
    diameter_stderr_cm: float = 0.0,
    area_stderr_cm2: float = 0.0,
) -> Geometry:
    """Geometry from explicit arguments, else from ``attrs`` (``thickness_cm``, ``diameter_cm``,
    ``area_cm2`` copied from instrument headers).

    Raises
    ------
    GeometryError
        When thickness or area is missing, non-numeric or non-positive, or when both a diameter
        and an area are given.

    Examples
    --------
    >>> g = resolve_geometry({}, thickness_cm=0.1, diameter_cm=1.0, area_cm2=None)
    >>> round(g.area_cm2, 6), round(g.cell_constant_per_cm, 6)
    (0.785398, 0.127324)
    """
    if thickness_cm is None:
        thickness_cm = attrs.get("thickness_cm")
    if diameter_cm is None and area_cm2 is None:
        diameter_cm = attrs.get("diameter_cm")
        if diameter_cm is None:
            area_cm2 = attrs.get("area_cm2")
    if thickness_cm is None:
        raise GeometryError("pellet thickness is missing: pass thickness_cm=... (cm) or carry "
                            "a 'thickness_cm' attribute on the fits dataset")
    if diameter_cm is not None and area_cm2 is not None:
        raise GeometryError(f"give either diameter_cm ({diameter_cm!r}) or area_cm2 "
                            f"({area_cm2!r}), not both")
    if diameter_cm is None and area_cm2 is None:
        raise GeometryError("electrode size is missing: pass diameter_cm=... or area_cm2=... "
                            "or carry a 'diameter_cm' attribute on the fits dataset")
    length = _number("thickness_cm", thickness_cm, positive=True)
    s_length = _number("thickness_stderr_cm", thickness_stderr_cm, positive=False)
    if diameter_cm is not None:
        d = _number("diameter_cm", diameter_cm, positive=True)
        s_d = _number("diameter_stderr_cm", diameter_stderr_cm, positive=False)
        # A = π d²/4, so δA = (π d / 2) δd (section 5).
        return Geometry(length, math.pi * d * d / 4.0, s_length, math.pi * d * s_d / 2.0, d, s_d)
    area = _number("area_cm2", area_cm2, positive=True)
    s_area = _number("area_stderr_cm2", area_stderr_cm2, positive=False)
    return Geometry(length, area, s_length, s_area)


def conductivity_from_resistance(resistance_ohm: ArrayLike, thickness_cm: ArrayLike,
                                 area_cm2: ArrayLike) -> NDArray[np.float64]:
    """``σ = L / (R A)`` in S/cm (PHYSICS.md section 5); non-positive R gives NaN.

    Examples
    --------
    >>> float(conductivity_from_resistance(100.0, 0.1, 0.5))
    0.002
    """
    r = np.asarray(resistance_ohm, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(r > 0, np.asarray(thickness_cm) / (r * np.asarray(area_cm2)),
                                   np.nan))


def relative_density(mass_g: float, geometry: Geometry,
                     theoretical_density_g_cm3: float) -> tuple[float, float]:
    """Relative density ``m / (A L ρ_th)`` and its standard error from the geometry (section 5).

    Reported as is, never used to "correct" σ.

    Examples
    --------
    >>> g = Geometry(thickness_cm=0.125, area_cm2=1.0)
    >>> relative_density(0.2, g, 2.0)
    (0.8, 0.0)
    """
    m = _number("mass_g", mass_g, positive=True)
    rho = _number("theoretical_density_g_cm3", theoretical_density_g_cm3, positive=True)
    value = m / (geometry.area_cm2 * geometry.thickness_cm * rho)
    return value, value * math.sqrt(geometry.relative_variance)
