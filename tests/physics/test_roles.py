"""Role assignment from capacitances (PHYSICS.md §4) and checks of declared preset roles."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.exceptions import CircuitError
from eis_pipeline.physics.conductivity import conductivity
from eis_pipeline.physics.roles import EPSILON_0_F_PER_CM, parse_layout
from tests.physics.fits_factory import (
    BULK_GB_ELECTRODE,
    BULK_GB_ELECTRODE_ROLES,
    INTERCEPT_GB_ELECTRODE,
    INTERCEPT_ROLES,
    make_fits,
)

# 1 mm thick, 10 mm diameter: L/A = 0.127 cm⁻¹.
GEOMETRY = {"thickness_cm": 0.1, "diameter_cm": 1.0}
KAPPA = 0.1 / (np.pi * 0.25)


def q_for(c_eff: float, r: float, n: float) -> float:
    """CPE coefficient giving effective capacitance ``c_eff`` (inverse of Hsu–Mansfeld)."""
    return float(c_eff**n * r ** (n - 1.0))


def arcs(r1: float, c1: float, r2: float, c2: float, n: float = 0.9) -> dict[str, float]:
    return {"R1": r1, "CPE1_0": q_for(c1, r1, n), "CPE1_1": n,
            "R2": r2, "CPE2_0": q_for(c2, r2, n), "CPE2_1": n,
            "CPE3_0": 2e-6, "CPE3_1": 0.85}


BULK_C = 30 * EPSILON_0_F_PER_CM / KAPPA  # ε_r = 30: ≈ 21 pF
GB_C = 5e-9  # nF


def test_parse_layout_finds_arcs_and_series_elements() -> None:
    lay = parse_layout("L0-R0-p(R1,CPE1)-p(R2,C2)-p(R3,CPE3,C4)-CPE5")
    assert [a.resistance for a in lay.arcs] == ["R1", "R2"]  # 3-branch parallel is not an arc
    assert lay.series_resistances == ("R0",)
    assert lay.series_capacitive == (("CPE5", "cpe"),)
    assert set(lay.resistances) == {"R0", "R1", "R2", "R3"}


@pytest.mark.parametrize("bad", ["p(R1,CPE1", "R1--R2", "R1-p(R2,)", "R1 $ R2"])
def test_parse_layout_rejects_malformed(bad: str) -> None:
    with pytest.raises(CircuitError) as info:
        parse_layout(bad)
    assert info.value.position is not None


def test_custom_circuit_assigned_from_capacitance_either_numbering() -> None:
    normal = arcs(30.0, BULK_C, 12.0, GB_C)
    swapped = arcs(12.0, GB_C, 30.0, BULK_C)
    values = {k: [normal[k], swapped[k]] for k in normal}
    cond = conductivity(make_fits(BULK_GB_ELECTRODE, values), **GEOMETRY)
    el = cond.resistance_element
    assert list(el.sel(component="bulk").values) == ["R1", "R2"]
    assert list(el.sel(component="grain_boundary").values) == ["R2", "R1"]
    np.testing.assert_allclose(cond.resistance.sel(component="bulk"), 30.0)
    np.testing.assert_allclose(cond.resistance.sel(component="grain_boundary"), 12.0)
    np.testing.assert_allclose(cond.capacitance.sel(component="bulk"), BULK_C, rtol=1e-10)
    np.testing.assert_allclose(cond.relative_permittivity, 30.0, rtol=1e-10)
    assert not cond.role_ambiguous.any()
    assert list(cond.role_flags.values) == ["", ""]
    assert cond.attrs["role_source"] == "capacitance"


@pytest.mark.parametrize("c1, c2", [
    (2.0 * EPSILON_0_F_PER_CM * 20 / KAPPA, 2.0 * EPSILON_0_F_PER_CM * 30 / KAPPA),  # twins
    (BULK_C, 1.1e-11 / KAPPA),  # gb capacitance at the bulk/gb edge of the table
    (1e-9, 5e-9),  # no bulk-like arc at all (ε_r ≈ 1400)
])
def test_ambiguous_capacitances_are_flagged(c1: float, c2: float) -> None:
    cond = conductivity(make_fits(BULK_GB_ELECTRODE, arcs(30.0, c1, 12.0, c2)), **GEOMETRY)
    flags = str(cond.role_flags.values[0])
    assert flags, "an ambiguous assignment must say so"
    if c1 < 1e-10:
        assert bool(cond.role_ambiguous[0])
        assert "AMBIGUOUS" in flags
    else:
        assert "no arc with bulk-like capacitance" in flags
        assert np.isnan(cond.conductivity.sel(component="bulk").values[0])


def test_electrode_arc_and_brug_series_electrode() -> None:
    circuit = "p(R1,C1)-p(R2,CPE2)-p(R3,CPE3)"
    r3, c3 = 1e5, 3e-6
    values = {"R1": 30.0, "C1": BULK_C, "R2": 12.0, "CPE2_0": q_for(GB_C, 12.0, 0.9),
              "CPE2_1": 0.9, "R3": r3, "CPE3_0": q_for(c3, r3, 0.8), "CPE3_1": 0.8}
    cond = conductivity(make_fits(circuit, values), **GEOMETRY)
    assert float(cond.electrode_capacitance[0]) == pytest.approx(c3, rel=1e-10)
    assert str(cond.role_flags.values[0]) == ""
    # Series CPE: Brug with R_s = R_b + R_gb.
    cond = conductivity(make_fits(BULK_GB_ELECTRODE, arcs(30.0, BULK_C, 12.0, GB_C)),
                        **GEOMETRY)
    brug = 2e-6 ** (1 / 0.85) * 42.0 ** ((1 - 0.85) / 0.85)
    assert float(cond.electrode_capacitance[0]) == pytest.approx(brug, rel=1e-12)


def test_custom_circuit_without_bulk_arc_uses_series_intercept() -> None:
    values = {"R0": 25.0, "R1": 12.0, "CPE1_0": q_for(GB_C, 12.0, 0.9), "CPE1_1": 0.9,
              "CPE2_0": 2e-6, "CPE2_1": 0.85}
    cond = conductivity(make_fits("R0-p(R1,CPE1)-CPE2", values), **GEOMETRY)
    assert str(cond.bulk_source.values[0]) == "high_frequency_intercept"
    assert float(cond.resistance.sel(component="bulk")[0]) == 25.0
    assert float(cond.resistance.sel(component="total")[0]) == 37.0
    assert str(cond.resistance_element.sel(component="bulk").values[0]) == "R0"


def test_intercept_preset_is_marked() -> None:
    values = {"L0": 1e-7, "R1": 25.0, "R2": 12.0, "CPE2_0": q_for(GB_C, 12.0, 0.9),
              "CPE2_1": 0.9, "CPE3_0": 2e-6, "CPE3_1": 0.85}
    fits = make_fits(INTERCEPT_GB_ELECTRODE, values, roles=INTERCEPT_ROLES,
                     preset="hf-intercept-gb-electrode", bulk_from_intercept=True)
    cond = conductivity(fits, **GEOMETRY)
    assert cond.attrs["bulk_from_intercept"] == 1
    assert "intercept" in cond.conductivity.attrs["bulk_source"]
    assert str(cond.bulk_source.values[0]) == "high_frequency_intercept"
    assert np.isnan(cond.capacitance.sel(component="bulk").values[0])
    assert np.isnan(cond.grain_boundary_specific_conductivity.values[0])
    assert float(cond.resistance.sel(component="total")[0]) == 37.0


def test_declared_roles_are_kept_but_implausible_ones_flagged() -> None:
    # Preset says arc 1 is bulk, but it carries a grain-boundary-like capacitance (and arc 2 a
    # bulk-like one): the roles stay as declared, and the output says they look wrong.
    fits = make_fits(BULK_GB_ELECTRODE, arcs(12.0, GB_C, 30.0, BULK_C),
                     roles=BULK_GB_ELECTRODE_ROLES, preset="bulk-gb-electrode")
    cond = conductivity(fits, **GEOMETRY)
    assert str(cond.resistance_element.sel(component="bulk").values[0]) == "R1"
    assert bool(cond.role_ambiguous[0])
    flags = str(cond.role_flags.values[0])
    assert "IMPLAUSIBLE" in flags and "bulk" in flags and "grain-boundary" in flags
    assert cond.attrs["role_source"] == "declared"
    good = make_fits(BULK_GB_ELECTRODE, arcs(30.0, BULK_C, 12.0, GB_C),
                     roles=BULK_GB_ELECTRODE_ROLES, preset="bulk-gb-electrode")
    assert str(conductivity(good, **GEOMETRY).role_flags.values[0]) == ""


def test_circuit_without_arcs_uses_series_resistance_as_intercept() -> None:
    values = {"R0": 40.0, "CPE1_0": 2e-6, "CPE1_1": 0.9}
    cond = conductivity(make_fits("R0-CPE1", values, stderr={"R0": 0.4}), **GEOMETRY)
    assert float(cond.resistance.sel(component="total")[0]) == 40.0
    assert float(cond.resistance_stderr.sel(component="bulk")[0]) == pytest.approx(0.4)
    assert str(cond.bulk_source.values[0]) == "high_frequency_intercept"
    assert "no grain-boundary arc" in str(cond.role_flags.values[0])


def test_every_arc_reported_as_evidence() -> None:
    cond = conductivity(make_fits(BULK_GB_ELECTRODE, arcs(30.0, BULK_C, 12.0, GB_C)), **GEOMETRY)
    assert list(cond.arc.values) == ["p(R1,CPE1)", "p(R2,CPE2)"]
    np.testing.assert_allclose(cond.arc_capacitance[0], [BULK_C, GB_C], rtol=1e-10)
    np.testing.assert_allclose(cond.arc_relative_permittivity[0, 0], 30.0, rtol=1e-10)
    assert cond.arc_specific_capacitance.attrs["units"] == "F/cm"


def test_surface_layer_like_second_arc_is_flagged_not_ambiguous() -> None:
    cond = conductivity(make_fits(BULK_GB_ELECTRODE, arcs(30.0, BULK_C, 12.0, 3e-8 / KAPPA)),
                        **GEOMETRY)
    assert "surface-layer" in str(cond.role_flags.values[0])
    assert not bool(cond.role_ambiguous[0])
    assert str(cond.resistance_element.sel(component="grain_boundary").values[0]) == "R2"


@pytest.mark.parametrize(("circuit", "source"), [
    ("bulk-gb-electrode", "declared"),
    ("p(R1,CPE1)-p(R2,CPE2)-CPE3", "declared"),       # the preset's own circuit is the preset
    ("p(R0,CPE0)-p(R1,CPE1)-CPE2", "structure"),      # renamed: roles read from the structure
    ("(RQ)(RQ)Q", "structure"),
    ("p(R1,C1)-p(R2,CPE2)-CPE3", "capacitance"),      # R‖C beside R‖CPE: not named for certain
])
def test_role_source_says_where_the_roles_came_from(circuit, source) -> None:
    """From fit_spectra to the conductivity dataset: a preset's roles are "declared", roles
    the fitter read from a custom circuit's structure are "structure", and a circuit whose
    arcs the structure does not name is assigned by capacitance."""
    from eis_pipeline.fitting import fit_spectra
    from eis_pipeline.vocabulary import ROLE_SOURCES
    from tests.physics.test_series_fit import _series

    spectra = _series(0, n=2)[1:]   # 100 °C: both arcs inside the window
    fits = fit_spectra(spectra, circuit=circuit, errors="ignore")
    cond = conductivity(fits, **GEOMETRY)
    assert cond.attrs["role_source"] == source
    assert source in ROLE_SOURCES
