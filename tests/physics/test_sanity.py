"""Sanity against published magnitudes (PHYSICS.md section 7) and implausible declared roles.

Pellets of known materials are described physically (σ, E_a, ε_r, geometry in the units a lab
writes down), turned into the circuit parameters a perfect fit would return, and taken through
the physics functions (conductivity -> Arrhenius). The results must land inside the
literature ranges of PHYSICS.md section 7: a unit slip (mm for cm, diameter for radius, k_B in
J/K, ln for log10) moves σ or E_a by orders of magnitude and out of range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import xarray as xr

from eis_pipeline.conventions import ZERO_CELSIUS_K
from eis_pipeline.physics import arrhenius_by_component, conductivity
from eis_pipeline.testing.simulate import ArrheniusLaw, PelletModel
from tests.physics.fits_factory import BULK_GB_ELECTRODE, BULK_GB_ELECTRODE_ROLES, make_fits

PARAMS = ("R1", "CPE1_0", "CPE1_1", "R2", "CPE2_0", "CPE2_1", "CPE3_0", "CPE3_1")
TEMPERATURES_C = np.array([-20.0, -10.0, 0.0, 10.0, 25.0, 40.0, 60.0])


@dataclass(frozen=True)
class Material:
    """A pellet of a known electrolyte and the PHYSICS.md section 7 ranges it must meet."""

    name: str
    sigma_bulk_25C: float         # S/cm
    ea_bulk: float                # eV
    sigma_gb_25C: float           # S/cm, macroscopic L / (R_gb A)
    ea_gb: float                  # eV
    permittivity: float
    thickness_mm: float
    diameter_mm: float
    sigma_range_mS_cm: tuple[float, float]   # PHYSICS.md section 7, total σ(25 °C)
    ea_range_eV: tuple[float, float]


MATERIALS = (
    # Argyrodite, cold-pressed: total 2 mS/cm, E_a 0.35 eV (bulk and grain boundary alike).
    Material("Li6PS5Cl", 2.5e-3, 0.35, 10e-3, 0.35, 30.0, 0.8, 10.0, (1.0, 4.0), (0.3, 0.4)),
    # Garnet, sintered: bulk 0.6 mS/cm, a more resistive grain boundary.
    Material("Li7La3Zr2O12", 6e-4, 0.32, 1.5e-3, 0.40, 55.0, 1.5, 12.0, (0.1, 1.0), (0.3, 0.45)),
    # Li3PS4 glass-ceramic.
    Material("Li3PS4", 2.5e-4, 0.37, 2.5e-3, 0.38, 25.0, 0.6, 10.0, (0.1, 0.4), (0.35, 0.40)),
)


def _fits_for(m: Material) -> tuple[PelletModel, xr.Dataset]:
    model = PelletModel(m.thickness_mm / 10, m.diameter_mm / 10,
                        bulk=ArrheniusLaw.from_sigma_at(m.sigma_bulk_25C, m.ea_bulk),
                        grain_boundary=ArrheniusLaw.from_sigma_at(m.sigma_gb_25C, m.ea_gb),
                        bulk_permittivity=m.permittivity)
    per_t = [model.parameters(c + ZERO_CELSIUS_K) for c in TEMPERATURES_C]
    values = {name: [p[name] for p in per_t] for name in PARAMS}
    # 1 % fit errors on the resistances: a good fit of a real pellet.
    stderr = {name: 0.01 * np.asarray(values[name]) for name in ("R1", "R2")}
    fits = make_fits(BULK_GB_ELECTRODE, values, stderr=stderr, roles=BULK_GB_ELECTRODE_ROLES,
                     preset="bulk-gb-electrode", temperature=TEMPERATURES_C + ZERO_CELSIUS_K)
    return model, fits


@pytest.mark.parametrize("material", MATERIALS, ids=lambda m: m.name)
def test_published_magnitudes(material: Material) -> None:
    model, fits = _fits_for(material)
    cond = conductivity(fits, thickness_cm=material.thickness_mm / 10,
                        diameter_cm=material.diameter_mm / 10)
    # A physically sensible pellet raises no role doubt.
    assert not cond["role_ambiguous"].values.any(), cond["role_flags"].values
    np.testing.assert_allclose(cond["relative_permittivity"].values, material.permittivity,
                               rtol=1e-9)
    arr = arrhenius_by_component(cond, breakpoints=0)
    total = arr.sel(component="total")
    lo, hi = material.sigma_range_mS_cm
    assert lo <= float(total["sigma_25C"]) * 1e3 <= hi
    for component in ("bulk", "grain_boundary", "total"):
        ea = float(arr["activation_energy"].sel(component=component)[0])
        assert material.ea_range_eV[0] <= ea <= material.ea_range_eV[1], component
    # And exactly the pellet that was described (closed forms, PHYSICS.md 5 and 6).
    truth = model.parameters(298.15)
    bulk = arr.sel(component="bulk")
    np.testing.assert_allclose(float(bulk["sigma_25C"]), truth["bulk_conductivity_S_cm"],
                               rtol=1e-9)
    np.testing.assert_allclose(float(bulk["activation_energy"][0]), material.ea_bulk, rtol=1e-9)
    # R_b + R_gb with two different E_a is not a straight Arrhenius line: ~1 % curvature.
    np.testing.assert_allclose(float(total["sigma_25C"]), truth["total_conductivity_S_cm"],
                               rtol=0.02)


def test_implausible_declared_bulk_role_is_flagged_and_kept() -> None:
    # A "bulk" arc of 2 nF at L/A = 0.1 cm⁻¹ is 2e-10 F/cm specific, ε_r ≈ 2300: that is a
    # grain boundary (PHYSICS.md section 4), whatever the preset declares.
    diameter = 1.0
    thickness = 0.1 * np.pi * diameter**2 / 4  # L/A = 0.1 /cm
    r1, c1, n1 = 500.0, 2e-9, 0.9
    r2, c2, n2 = 800.0, 5e-8, 0.85
    values = {"R1": r1, "CPE1_0": c1**n1 * r1 ** (n1 - 1), "CPE1_1": n1,
              "R2": r2, "CPE2_0": c2**n2 * r2 ** (n2 - 1), "CPE2_1": n2,
              "CPE3_0": 2e-6, "CPE3_1": 0.85}
    fits = make_fits(BULK_GB_ELECTRODE, values, stderr={"R1": 5.0, "R2": 8.0},
                     roles=BULK_GB_ELECTRODE_ROLES, preset="bulk-gb-electrode")
    cond = conductivity(fits, thickness_cm=thickness, diameter_cm=diameter)
    assert cond.attrs["role_source"] == "declared"
    np.testing.assert_allclose(cond["specific_capacitance"].sel(component="bulk"), 2e-10,
                               rtol=1e-9)
    np.testing.assert_allclose(cond["relative_permittivity"], 2e-10 / 8.8541878128e-14,
                               rtol=1e-9)
    flags = str(cond["role_flags"].values[0])
    assert "declared bulk arc has permittivity outside" in flags
    assert "IMPLAUSIBLE" in flags
    assert bool(cond["role_ambiguous"].values[0])
    # kept as declared: R1 is still the bulk resistance
    assert str(cond["resistance_element"].sel(component="bulk").values[0]) == "R1"
    np.testing.assert_allclose(cond["resistance"].sel(component="bulk"), r1)


def test_plausible_declared_roles_are_not_flagged() -> None:
    # The same circuit with a pF bulk arc (ε_r ≈ 30): the control for the test above.
    diameter = 1.0
    thickness = 0.1 * np.pi * diameter**2 / 4
    c1 = 30 * 8.8541878128e-14 / 0.1
    r1, n1, r2, c2, n2 = 500.0, 0.9, 800.0, 5e-9, 0.85
    values = {"R1": r1, "CPE1_0": c1**n1 * r1 ** (n1 - 1), "CPE1_1": n1,
              "R2": r2, "CPE2_0": c2**n2 * r2 ** (n2 - 1), "CPE2_1": n2,
              "CPE3_0": 2e-6, "CPE3_1": 0.85}
    fits = make_fits(BULK_GB_ELECTRODE, values, roles=BULK_GB_ELECTRODE_ROLES,
                     preset="bulk-gb-electrode")
    cond = conductivity(fits, thickness_cm=thickness, diameter_cm=diameter)
    assert str(cond["role_flags"].values[0]) == ""
    assert not bool(cond["role_ambiguous"].values[0])
