"""One geometry type (pellet or cell constant), σ = κ/R, and the unit-slip warnings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eis_pipeline.exceptions import GeometryError
from eis_pipeline.physics.conductivity import conductivity
from eis_pipeline.physics.geometry import Geometry, header_geometry
from eis_pipeline.physics.plausibility import conductivity_warnings, temperature_warnings
from tests.physics.test_conductivity import li6ps5cl_fits

#: the fitted resistances of li6ps5cl_fits: bulk, grain boundary, total (Ω)
R = np.array([30.0, 12.0, 42.0])


def test_cell_constant_gives_sigma_kappa_over_r_closed_form() -> None:
    cond = conductivity(li6ps5cl_fits(), cell_constant_per_cm=1.7,
                        cell_constant_stderr_per_cm=0.017)
    np.testing.assert_allclose(cond.conductivity.isel(spectrum=0), 1.7 / R, rtol=1e-14)
    # the geometry's 1 % adds in quadrature to the fit's relative error (PHYSICS.md 5)
    fit_rel = cond.conductivity_fit_stderr / cond.conductivity
    np.testing.assert_allclose(cond.conductivity_stderr / cond.conductivity,
                               np.sqrt(fit_rel**2 + 0.01**2), rtol=1e-12)
    assert cond.attrs["cell_constant_per_cm"] == 1.7 and "thickness_cm" not in cond.attrs
    # ε_r = C_b κ / ε0 (PHYSICS.md 4)
    assert float(cond.relative_permittivity[0]) == pytest.approx(
        float(cond.capacitance.sel(component="bulk")[0]) * 1.7 / 8.8541878128e-14, rel=1e-12)


def test_cell_constant_equals_the_pellet_of_that_constant() -> None:
    pellet = conductivity(li6ps5cl_fits(), thickness_cm=0.1, diameter_cm=1.0)
    cell = conductivity(li6ps5cl_fits(), cell_constant_per_cm=0.1 / (math.pi / 4))
    for name in ("conductivity", "relative_permittivity", "specific_capacitance",
                 "grain_boundary_specific_conductivity"):
        np.testing.assert_allclose(cell[name], pellet[name], rtol=1e-12, err_msg=name)
    typed = conductivity(li6ps5cl_fits(), geometry=Geometry.from_mm(1.0, diameter_mm=10.0))
    np.testing.assert_allclose(typed.conductivity, pellet.conductivity, rtol=1e-15)
    with pytest.raises(GeometryError, match="not both"):
        conductivity(li6ps5cl_fits(), geometry=Geometry(cell_constant_per_cm=1.0),
                     thickness_cm=0.1)
    with pytest.raises(GeometryError, match="not both"):
        conductivity(li6ps5cl_fits(), thickness_cm=0.1, cell_constant_per_cm=1.0)
    with pytest.raises(GeometryError, match="pellet"):
        conductivity(li6ps5cl_fits(), cell_constant_per_cm=1.0, mass_g=0.1,
                     theoretical_density_g_cm3=2.0)
    from_attrs = conductivity(li6ps5cl_fits(attrs={"cell_constant_per_cm": 2.0}))
    np.testing.assert_allclose(from_attrs.conductivity.isel(spectrum=0), 2.0 / R)


def test_geometry_derives_area_and_constant_and_round_trips() -> None:
    g = Geometry.from_mm(0.8, diameter_mm=10.0, thickness_stderr_mm=0.01,
                         diameter_stderr_mm=0.02, mass_mg=150.0, theoretical_density_g_cm3=1.9)
    assert g.area_cm2 == pytest.approx(math.pi / 4)
    assert g.area_stderr_cm2 == pytest.approx(math.pi * 1.0 * 0.002 / 2)
    assert g.cell_constant_per_cm == pytest.approx(0.08 / (math.pi / 4))
    assert math.sqrt(g.relative_variance) == pytest.approx(
        math.hypot(0.001 / 0.08, g.area_stderr_cm2 / g.area_cm2))
    assert g.relative_density == pytest.approx(0.15 / (math.pi / 4 * 0.08 * 1.9))
    assert Geometry.from_attrs(g.to_attrs()) == g
    assert Geometry.from_mm(**g.config_keys()) == g
    cell = Geometry(cell_constant_per_cm=1.2, cell_constant_stderr_per_cm=0.01)
    assert Geometry.from_attrs(cell.to_attrs()) == cell
    assert Geometry.from_mm(**cell.config_keys()) == cell
    assert cell.describe() == "cell constant 1.2 cm⁻¹" and cell.relative_density is None
    assert g.describe() == "thickness 0.8 mm, diameter 10 mm"
    assert Geometry.from_attrs({"temperature_K": 298.0}) is None


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"thickness_cm": 0.1}, "electrode size"),
    ({"diameter_cm": 1.0}, "thickness is missing"),
    ({}, "no geometry"),
    ({"thickness_cm": 0.1, "area_cm2": 0.5, "cell_constant_per_cm": 1.0}, "disagrees"),
    ({"thickness_cm": 0.1, "diameter_cm": 1.0, "area_cm2": 0.5}, "not both"),
    ({"cell_constant_per_cm": -1.0}, "positive"),
    ({"thickness_cm": "thin", "area_cm2": 0.5}, "number"),
])
def test_geometry_refuses_incomplete_or_contradicting_values(kwargs: dict, match: str) -> None:
    with pytest.raises(GeometryError, match=match):
        Geometry(**kwargs)


def test_header_geometry_needs_every_header_to_agree() -> None:
    a = {"thickness_cm": 0.075, "diameter_cm": 1.3}
    assert header_geometry([a, dict(a)]) == Geometry(thickness_cm=0.075, diameter_cm=1.3)
    assert header_geometry([a, {"thickness_cm": 0.08, "diameter_cm": 1.3}]) is None
    assert header_geometry([a, {}]) is None and header_geometry([]) is None


# -- plausibility: the unit slip is named ---------------------------------------------------

def warnings_for(**geometry: float) -> list[str]:
    return conductivity_warnings(conductivity(li6ps5cl_fits(), **geometry))


def test_a_right_geometry_gives_no_warning() -> None:
    assert warnings_for(thickness_cm=0.1, diameter_cm=1.0) == []   # ε_r ≈ 30, σ ≈ 3 mS/cm


@pytest.mark.parametrize(("geometry", "named"), [
    # 1 mm typed as 10 mm: σ and ε_r 10x too high
    ({"thickness_cm": 1.0, "diameter_cm": 1.0}, "thickness 10 mm? did you mean 1 mm"),
    # the thickness in cm (0.1) typed where mm was meant: 10x too low
    ({"thickness_cm": 0.01, "diameter_cm": 1.0}, "thickness 0.1 mm? did you mean 1 mm"),
    # a 10 mm diameter typed as 1 (cm): area 100x too small
    ({"thickness_cm": 0.1, "diameter_cm": 0.1}, "diameter 1 mm? did you mean 10 mm"),
    # an area in mm² (78.5) typed as cm²
    ({"thickness_cm": 0.1, "area_cm2": 78.54}, "area 78.54 cm²? did you mean 0.7854 cm²"),
    # a cell constant in m⁻¹ typed as cm⁻¹
    ({"cell_constant_per_cm": 12.73}, "cell constant 12.73 cm⁻¹? did you mean 0.1273 cm⁻¹"),
])
def test_a_unit_slip_is_named(geometry: dict[str, float], named: str) -> None:
    found = warnings_for(**geometry)
    assert len(found) == 1 and "relative permittivity" in found[0]
    assert named in found[0], found[0]


def test_implausible_sigma_without_a_bulk_capacitance_still_warns() -> None:
    cond = conductivity(li6ps5cl_fits(), cell_constant_per_cm=1e3)
    cond["arc_relative_permittivity"][:] = np.nan   # no arc capacitance known
    (warning,) = conductivity_warnings(cond)
    assert "total σ = 23.8 S/cm" in warning and "cell constant 1000 cm⁻¹? did you mean" in warning


def test_temperature_warnings_name_the_file_once() -> None:
    found = temperature_warnings([298.15, 1395 + 273.15, 1395 + 273.15, np.nan],
                                 ["a.mpt", "b.mpt", "b.mpt", "c.mpt"])
    assert found == ["b.mpt: 1395 °C is outside the plausible range -150..1000 °C: check the "
                     "name or the thermocouple reading"]
