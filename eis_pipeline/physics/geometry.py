"""Cell geometry: a pellet's thickness and electrode area, or a conductivity cell's constant.

One type for the physics API, the config, the command line, samples.csv and instrument
headers. Formulas: PHYSICS.md section 5 (``A = π d² / 4``, ``σ = L / (R A) = κ / R`` with the
cell constant ``κ = L / A``, relative density ``m / (A L ρ)``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from eis_pipeline.exceptions import GeometryError

__all__ = ["Geometry", "conductivity_from_resistance", "header_geometry", "resolve_geometry"]

#: the attribute names a geometry is stored and read under (cm, cm², cm⁻¹, g), in the fits,
#: conductivity and sample attributes and in instrument headers (importers convert to them)
ATTR_KEYS = ("thickness_cm", "thickness_stderr_cm", "diameter_cm", "diameter_stderr_cm",
             "area_cm2", "area_stderr_cm2", "cell_constant_per_cm",
             "cell_constant_stderr_per_cm", "mass_g", "theoretical_density_g_cm3")
#: relative tolerance for two redundant values (a diameter and its area, L/A and κ) to agree
_AGREE = 1e-9


def _number(name: str, value: Any, *, positive: bool = True) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise GeometryError(f"{name} must be a number, got {value!r}") from exc
    if not math.isfinite(x) or (x <= 0 if positive else x < 0):
        need = "positive" if positive else "non-negative"
        raise GeometryError(f"{name} must be finite and {need}, got {x!r} (units in the name: "
                            "thickness_cm=0.1 is a 1 mm pellet)")
    return x


def _agree(a: float, b: float) -> bool:
    return abs(a - b) <= _AGREE * max(abs(a), abs(b))


@dataclass(frozen=True, kw_only=True)
class Geometry:
    """The geometry that turns a resistance into a conductivity, in cm, cm², cm⁻¹ and g.

    Either a pellet, ``thickness_cm`` with ``area_cm2`` or ``diameter_cm`` (``A = π d²/4``),
    or a conductivity cell, ``cell_constant_per_cm`` (κ = L/A) alone. Derived values are
    filled in: a diameter gives the area (stderr ``(π d / 2) δd``), a pellet gives κ = L/A
    (relative stderr ``√((δL/L)² + (δA/A)²)``). Redundant values given together must agree.
    ``mass_g`` and ``theoretical_density_g_cm3`` give the relative density of a pellet.

    Raises
    ------
    GeometryError
        A value missing, non-numeric or not positive, or redundant values that disagree.

    Examples
    --------
    >>> g = Geometry(thickness_cm=0.1, diameter_cm=1.0)
    >>> round(g.area_cm2, 6), round(g.cell_constant_per_cm, 6)
    (0.785398, 0.127324)
    >>> Geometry(cell_constant_per_cm=1.2).thickness_cm is None
    True
    """

    thickness_cm: float | None = None
    area_cm2: float | None = None
    diameter_cm: float | None = None
    #: NaN (the default): computed as thickness / area
    cell_constant_per_cm: float = math.nan
    thickness_stderr_cm: float = 0.0
    area_stderr_cm2: float = 0.0
    diameter_stderr_cm: float = 0.0
    #: NaN (the default): propagated from the thickness and area errors
    cell_constant_stderr_per_cm: float = math.nan
    mass_g: float | None = None
    theoretical_density_g_cm3: float | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__   # frozen: derived values are filled in once, here
        for name in ("thickness_stderr_cm", "area_stderr_cm2", "diameter_stderr_cm"):
            set_(self, name, _number(name, getattr(self, name), positive=False))
        for name in ("thickness_cm", "area_cm2", "diameter_cm", "mass_g",
                     "theoretical_density_g_cm3"):
            if getattr(self, name) is not None:
                set_(self, name, _number(name, getattr(self, name)))
        if self.diameter_cm is not None:
            d, s_d = self.diameter_cm, self.diameter_stderr_cm
            area = math.pi * d * d / 4.0
            if self.area_cm2 is not None and not _agree(self.area_cm2, area):
                raise GeometryError(f"give either diameter_cm ({d!r}) or area_cm2 "
                                    f"({self.area_cm2!r}), not both")
            set_(self, "area_cm2", area)
            set_(self, "area_stderr_cm2", math.pi * d * s_d / 2.0)
        pellet = self.thickness_cm is not None or self.area_cm2 is not None
        kappa_given = not math.isnan(self.cell_constant_per_cm)
        if pellet:
            if self.thickness_cm is None:
                raise GeometryError("pellet thickness is missing: give thickness_cm (or only "
                                    "the cell constant, cell_constant_per_cm)")
            if self.area_cm2 is None:
                raise GeometryError("electrode size is missing: give diameter_cm or area_cm2 "
                                    "with the thickness (or only cell_constant_per_cm)")
            kappa = self.thickness_cm / self.area_cm2
            if kappa_given and not _agree(kappa, self.cell_constant_per_cm):
                raise GeometryError(f"cell_constant_per_cm = {self.cell_constant_per_cm!r} "
                                    f"disagrees with thickness / area = {kappa!r}: give the "
                                    "pellet's dimensions or its cell constant, not both")
            rel = math.hypot(self.thickness_stderr_cm / self.thickness_cm,
                             self.area_stderr_cm2 / self.area_cm2)
            set_(self, "cell_constant_per_cm", kappa)
            if math.isnan(self.cell_constant_stderr_per_cm):
                set_(self, "cell_constant_stderr_per_cm", kappa * rel)
        elif not kappa_given:
            raise GeometryError("no geometry: give thickness_cm with diameter_cm or area_cm2 "
                                "(a pellet), or cell_constant_per_cm (a conductivity cell)")
        else:
            set_(self, "cell_constant_per_cm",
                 _number("cell_constant_per_cm", self.cell_constant_per_cm))
            if math.isnan(self.cell_constant_stderr_per_cm):
                set_(self, "cell_constant_stderr_per_cm", 0.0)
        set_(self, "cell_constant_stderr_per_cm",
             _number("cell_constant_stderr_per_cm", self.cell_constant_stderr_per_cm,
                     positive=False))

    # -- constructors -------------------------------------------------------------------
    @classmethod
    def from_mm(cls, thickness_mm: float | None = None, *, diameter_mm: float | None = None,
                area_cm2: float | None = None, cell_constant_per_cm: float | None = None,
                thickness_stderr_mm: float = 0.0, diameter_stderr_mm: float = 0.0,
                area_stderr_cm2: float = 0.0, cell_constant_stderr_per_cm: float = 0.0,
                mass_mg: float | None = None,
                theoretical_density_g_cm3: float | None = None) -> Geometry:
        """The geometry in the units a config, samples.csv and the command line use:
        lengths in mm, area in cm², cell constant in cm⁻¹, mass in mg.

        Examples
        --------
        >>> Geometry.from_mm(1.0, diameter_mm=10.0).thickness_cm
        0.1
        """
        def cm(mm: float | None) -> float | None:
            return None if mm is None else mm / 10.0

        return cls(thickness_cm=cm(thickness_mm), diameter_cm=cm(diameter_mm),
                   area_cm2=area_cm2,
                   cell_constant_per_cm=(math.nan if cell_constant_per_cm is None
                                         else cell_constant_per_cm),
                   thickness_stderr_cm=thickness_stderr_mm / 10.0,
                   diameter_stderr_cm=diameter_stderr_mm / 10.0 if diameter_mm else 0.0,
                   area_stderr_cm2=0.0 if diameter_mm else area_stderr_cm2,
                   cell_constant_stderr_per_cm=(cell_constant_stderr_per_cm
                                                if thickness_mm is None else math.nan),
                   mass_g=None if mass_mg is None else mass_mg / 1e3,
                   theoretical_density_g_cm3=theoretical_density_g_cm3)

    @classmethod
    def from_attrs(cls, attrs: Mapping[Any, Any]) -> Geometry | None:
        """The geometry stored in ``attrs`` under :data:`ATTR_KEYS` (a header's, a fits or
        conductivity dataset's, a results group's), or None when they hold none.

        A pellet is read from its measured values (thickness and diameter, else area), a
        cell from its constant; derived values are recomputed, not trusted.
        """
        def get(key: str) -> float | None:
            value = attrs.get(key)
            return None if value is None else float(value)

        thickness, diameter, area = get("thickness_cm"), get("diameter_cm"), get("area_cm2")
        kappa = get("cell_constant_per_cm")
        mass, rho = get("mass_g"), get("theoretical_density_g_cm3")
        if thickness is not None and (diameter is not None or area is not None):
            return cls(thickness_cm=thickness, thickness_stderr_cm=get("thickness_stderr_cm")
                       or 0.0, diameter_cm=diameter,
                       diameter_stderr_cm=get("diameter_stderr_cm") or 0.0,
                       area_cm2=None if diameter is not None else area,
                       area_stderr_cm2=0.0 if diameter is not None
                       else get("area_stderr_cm2") or 0.0,
                       mass_g=mass, theoretical_density_g_cm3=rho)
        if kappa is not None:
            return cls(cell_constant_per_cm=kappa,
                       cell_constant_stderr_per_cm=get("cell_constant_stderr_per_cm") or 0.0)
        return None

    # -- derived values -----------------------------------------------------------------
    @property
    def is_pellet(self) -> bool:
        """True for a pellet (thickness and area), False for a cell constant alone."""
        return self.thickness_cm is not None

    @property
    def relative_variance(self) -> float:
        """``(δκ/κ)²``: the geometry part of ``(δσ/σ)²`` (PHYSICS.md section 5)."""
        return float((self.cell_constant_stderr_per_cm / self.cell_constant_per_cm) ** 2)

    @property
    def relative_density(self) -> float | None:
        """``m / (A L ρ_theoretical)`` (PHYSICS.md section 5), or None when unknown.
        Reported as is, never used to "correct" σ."""
        if (self.mass_g is None or self.theoretical_density_g_cm3 is None
                or self.thickness_cm is None or self.area_cm2 is None):
            return None
        return self.mass_g / (self.area_cm2 * self.thickness_cm
                              * self.theoretical_density_g_cm3)

    @property
    def relative_density_stderr(self) -> float | None:
        """The relative density's standard error from the thickness and area errors."""
        rho = self.relative_density
        if rho is None or self.thickness_cm is None or self.area_cm2 is None:
            return None
        return rho * math.hypot(self.thickness_stderr_cm / self.thickness_cm,
                                self.area_stderr_cm2 / self.area_cm2)

    def to_attrs(self) -> dict[str, float]:
        """The known values under :data:`ATTR_KEYS` (flat, for dataset and group attributes;
        :meth:`from_attrs` reads them back), plus ``relative_density`` when known."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.diameter_cm is None:
            out.pop("diameter_stderr_cm")
        attrs = {k: float(v) for k, v in out.items() if v is not None}
        if self.relative_density is not None:
            attrs["relative_density"] = self.relative_density
        return attrs

    def config_keys(self) -> dict[str, float]:
        """The measured values in a config's keys and units (mm, cm², cm⁻¹, mg), zero
        standard errors left out: :meth:`from_mm` of them gives this geometry back.

        Examples
        --------
        >>> Geometry(thickness_cm=0.075, diameter_cm=1.3).config_keys()
        {'thickness_mm': 0.75, 'diameter_mm': 13.0}
        """
        def mm(cm: float) -> float:
            return float(f"{10.0 * cm:.12g}")   # no float noise from the cm -> mm step

        keys: dict[str, float] = {}
        if self.thickness_cm is None:
            keys["cell_constant_per_cm"] = self.cell_constant_per_cm
            keys["cell_constant_stderr_per_cm"] = self.cell_constant_stderr_per_cm
        else:
            keys["thickness_mm"] = mm(self.thickness_cm)
            keys["thickness_stderr_mm"] = mm(self.thickness_stderr_cm)
            if self.diameter_cm is not None:
                keys["diameter_mm"] = mm(self.diameter_cm)
                keys["diameter_stderr_mm"] = mm(self.diameter_stderr_cm)
            elif self.area_cm2 is not None:
                keys["area_cm2"] = self.area_cm2
                keys["area_stderr_cm2"] = self.area_stderr_cm2
        if self.mass_g is not None:
            keys["mass_mg"] = float(f"{self.mass_g * 1e3:.12g}")
        if self.theoretical_density_g_cm3 is not None:
            keys["theoretical_density_g_cm3"] = self.theoretical_density_g_cm3
        return {k: v for k, v in keys.items() if not ("stderr" in k and v == 0)}

    def describe(self) -> str:
        """``thickness 1 mm, diameter 10 mm`` (the area when no diameter was given), or
        ``cell constant 1.2 cm⁻¹``: what a person typed, in the config's units."""
        if self.thickness_cm is None:
            return f"cell constant {self.cell_constant_per_cm:g} cm⁻¹"
        size = (f"diameter {10 * self.diameter_cm:g} mm" if self.diameter_cm is not None
                else f"area {self.area_cm2:g} cm²")
        return f"thickness {10 * self.thickness_cm:g} mm, {size}"

    def scaled(self, factor: float, what: str) -> Geometry:
        """This geometry with one measured value (``thickness``, ``diameter``, ``area`` or
        ``cell_constant``) multiplied by ``factor`` (used to name a likely unit slip)."""
        if what == "cell_constant":
            return replace(self, cell_constant_per_cm=self.cell_constant_per_cm * factor,
                           cell_constant_stderr_per_cm=self.cell_constant_stderr_per_cm
                           * factor)
        changed = {f"{what}_cm" if what != "area" else "area_cm2":
                   getattr(self, f"{what}_cm" if what != "area" else "area_cm2") * factor}
        return replace(self, cell_constant_per_cm=math.nan,
                       cell_constant_stderr_per_cm=math.nan,
                       area_cm2=None if self.diameter_cm is not None else self.area_cm2,
                       **changed)


def header_geometry(headers: Sequence[Mapping[Any, Any]]) -> Geometry | None:
    """The geometry the files' headers give (e.g. Novocontrol's ``Diameter[mm]`` and
    ``Thickness[mm]``, converted by the importer to ``diameter_cm``/``thickness_cm``) when
    every header gives the same one; None when any lacks it or they disagree."""
    found = [Geometry.from_attrs(h) for h in headers]
    if not found or found[0] is None or any(g != found[0] for g in found[1:]):
        return None
    return found[0]


def resolve_geometry(
    attrs: Mapping[Any, Any],
    *,
    thickness_cm: float | None = None,
    diameter_cm: float | None = None,
    area_cm2: float | None = None,
    cell_constant_per_cm: float | None = None,
    thickness_stderr_cm: float = 0.0,
    diameter_stderr_cm: float = 0.0,
    area_stderr_cm2: float = 0.0,
    cell_constant_stderr_per_cm: float = 0.0,
) -> Geometry:
    """The geometry from explicit arguments, else from ``attrs`` (:meth:`Geometry.from_attrs`,
    e.g. a fits dataset carrying a header's geometry).

    Raises
    ------
    GeometryError
        When neither gives one, or the values given are invalid (see :class:`Geometry`).

    Examples
    --------
    >>> g = resolve_geometry({}, thickness_cm=0.1, diameter_cm=1.0)
    >>> round(g.area_cm2, 6), round(g.cell_constant_per_cm, 6)
    (0.785398, 0.127324)
    >>> resolve_geometry({}, cell_constant_per_cm=2.0).cell_constant_per_cm
    2.0
    """
    if (thickness_cm, diameter_cm, area_cm2, cell_constant_per_cm) == (None,) * 4:
        found = Geometry.from_attrs(attrs)
        if found is None:
            raise GeometryError("no geometry: pass thickness_cm=... (cm) with diameter_cm=... "
                                "or area_cm2=..., or cell_constant_per_cm=... (cm⁻¹), or carry "
                                "them as attributes of the fits dataset")
        return found
    if thickness_cm is None and cell_constant_per_cm is None:
        raise GeometryError("pellet thickness is missing: pass thickness_cm=... (cm), or "
                            "cell_constant_per_cm=... alone for a conductivity cell")
    if diameter_cm is not None and area_cm2 is not None:
        raise GeometryError(f"give either diameter_cm ({diameter_cm!r}) or area_cm2 "
                            f"({area_cm2!r}), not both")
    if cell_constant_per_cm is not None and thickness_cm is not None:
        raise GeometryError("give the pellet's thickness_cm with diameter_cm or area_cm2, or "
                            "its cell_constant_per_cm, not both")
    return Geometry(thickness_cm=thickness_cm, diameter_cm=diameter_cm, area_cm2=area_cm2,
                    cell_constant_per_cm=(math.nan if cell_constant_per_cm is None
                                          else cell_constant_per_cm),
                    thickness_stderr_cm=thickness_stderr_cm,
                    diameter_stderr_cm=diameter_stderr_cm, area_stderr_cm2=area_stderr_cm2,
                    cell_constant_stderr_per_cm=(cell_constant_stderr_per_cm
                                                 if cell_constant_per_cm is not None
                                                 else math.nan))


def conductivity_from_resistance(resistance_ohm: ArrayLike,
                                 cell_constant_per_cm: ArrayLike) -> NDArray[np.float64]:
    """``σ = κ / R = L / (R A)`` in S/cm (PHYSICS.md section 5); non-positive R gives NaN.

    Examples
    --------
    >>> float(conductivity_from_resistance(100.0, 0.1 / 0.5))
    0.002
    """
    r = np.asarray(resistance_ohm, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(r > 0, np.asarray(cell_constant_per_cm) / r, np.nan))
