"""Conductivity from fits and geometry (PHYSICS.md §5), uncertainties checked by Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import eis_pipeline
from eis_pipeline.exceptions import GeometryError
from eis_pipeline.physics.capacitance import effective_capacitance
from eis_pipeline.physics.conductivity import conductivity
from eis_pipeline.physics.geometry import conductivity_from_resistance
from tests.physics.fits_factory import BULK_GB_ELECTRODE, BULK_GB_ELECTRODE_ROLES, make_fits

NAMES = ["R1", "CPE1_0", "CPE1_1", "R2", "CPE2_0", "CPE2_1", "CPE3_0", "CPE3_1"]
# Li6PS5Cl-like pellet at 25 °C: 1 mm x 10 mm, bulk 30 Ω (ε_r ≈ 30), grain boundary 12 Ω.
TRUE = np.array([30.0, 1.1e-10, 0.92, 12.0, 2.0e-8, 0.85, 2e-6, 0.88])
# Fit-sized errors: small enough for the first-order delta method (a CPE exponent error of
# 0.02 on n = 0.85 makes C_eff skewed, ~40 % relative, where MC and delta method part by ~7 %).
STDERR = np.array([0.9, 0.6e-11, 0.005, 0.8, 0.05e-8, 0.005, 1e-7, 0.005])


def covariance() -> np.ndarray:
    corr = np.eye(len(NAMES))
    pairs = {(0, 3): -0.6, (0, 1): -0.4, (1, 2): -0.7, (3, 4): 0.3, (4, 5): -0.5}
    for (i, j), r in pairs.items():
        corr[i, j] = corr[j, i] = r
    return np.asarray(STDERR[:, None] * STDERR[None, :] * corr)


def li6ps5cl_fits(**kwargs: object) -> xr.Dataset:
    return make_fits(BULK_GB_ELECTRODE, dict(zip(NAMES, TRUE, strict=True)),
                     covariance=covariance(), roles=BULK_GB_ELECTRODE_ROLES,
                     preset="bulk-gb-electrode", **kwargs)  # type: ignore[arg-type]


def test_public_names_resolve() -> None:
    assert eis_pipeline.conductivity is conductivity
    from eis_pipeline.physics.arrhenius import arrhenius
    assert eis_pipeline.arrhenius is arrhenius


def test_sigma_equals_l_over_r_a_closed_form() -> None:
    cond = conductivity(li6ps5cl_fits(), thickness_cm=0.1, area_cm2=0.5)
    expected = 0.1 / (np.array([30.0, 12.0, 42.0]) * 0.5)
    np.testing.assert_allclose(cond.conductivity.isel(spectrum=0), expected, rtol=1e-14)
    assert float(conductivity_from_resistance(100.0, 0.2 / 0.4)) == pytest.approx(5e-3)
    cond_d = conductivity(li6ps5cl_fits(), thickness_cm=0.1, diameter_cm=1.0)
    assert cond_d.attrs["area_cm2"] == pytest.approx(np.pi / 4)


def test_published_magnitudes_li6ps5cl_in_ms_per_cm() -> None:
    cond = conductivity(li6ps5cl_fits(), thickness_cm=0.1, diameter_cm=1.0)
    sigma = cond.conductivity.isel(spectrum=0)
    assert 1e-3 <= float(sigma.sel(component="bulk")) <= 4e-3 * 1.5   # PHYSICS.md §7: 1–4 mS/cm
    assert 1e-3 <= float(sigma.sel(component="total")) <= 4e-3
    assert 5 <= float(cond.relative_permittivity[0]) <= 100
    assert 1e-13 < float(cond.specific_capacitance.sel(component="bulk")[0]) < 1e-11


def test_total_stderr_includes_rb_rgb_covariance() -> None:
    cond = conductivity(li6ps5cl_fits(), thickness_cm=0.1, diameter_cm=1.0)
    cov = covariance()
    var_total = cov[0, 0] + cov[3, 3] + 2 * cov[0, 3]
    r_err = cond.resistance_stderr.isel(spectrum=0)
    assert float(r_err.sel(component="total")) == pytest.approx(np.sqrt(var_total), rel=1e-12)
    assert float(r_err.sel(component="bulk")) == pytest.approx(STDERR[0], rel=1e-12)


def test_brick_layer_and_capacitances_closed_form() -> None:
    cond = conductivity(li6ps5cl_fits(), thickness_cm=0.1, diameter_cm=1.0)
    c_b = effective_capacitance(30.0, 1.1e-10, 0.92).value
    c_gb = effective_capacitance(12.0, 2.0e-8, 0.85).value
    kappa = 0.1 / (np.pi / 4)
    assert float(cond.grain_boundary_specific_conductivity[0]) == pytest.approx(
        kappa / 12.0 * c_b / c_gb, rel=1e-12)
    assert float(cond.capacitance.sel(component="grain_boundary")[0]) == pytest.approx(
        c_gb, rel=1e-12)
    assert float(cond.apex_frequency.sel(component="bulk")[0]) == pytest.approx(
        (30.0 * 1.1e-10) ** (-1 / 0.92) / (2 * np.pi), rel=1e-12)


def test_relative_density() -> None:
    cond = conductivity(li6ps5cl_fits(), thickness_cm=0.1, area_cm2=0.8, mass_g=0.1488,
                        theoretical_density_g_cm3=1.86, thickness_stderr_cm=0.001)
    assert float(cond.relative_density) == pytest.approx(0.1488 / (0.8 * 0.1 * 1.86))
    assert float(cond.relative_density_stderr) == pytest.approx(
        float(cond.relative_density) * 0.01)
    with pytest.raises(GeometryError, match="both"):
        conductivity(li6ps5cl_fits(), thickness_cm=0.1, area_cm2=0.8, mass_g=0.1488)


def test_stderr_matches_monte_carlo(rng: np.random.Generator) -> None:
    thickness, s_thickness, diameter, s_diameter = 0.1, 0.002, 1.0, 0.004
    cond = conductivity(li6ps5cl_fits(), thickness_cm=thickness, diameter_cm=diameter,
                        thickness_stderr_cm=s_thickness, diameter_stderr_cm=s_diameter)
    n = 200_000
    # Sample through the Cholesky factor of the *correlation*: rng.multivariate_normal's SVD
    # loses the 1e-11-scale CPE coefficients next to ohm-scale resistances.
    chol = np.linalg.cholesky(covariance() / np.outer(STDERR, STDERR))
    p = TRUE + (rng.standard_normal((n, len(NAMES))) @ chol.T) * STDERR
    length = thickness + s_thickness * rng.standard_normal(n)
    area = np.pi * (diameter + s_diameter * rng.standard_normal(n)) ** 2 / 4
    r_b, r_gb = p[:, 0], p[:, 3]
    c_b = effective_capacitance(r_b, p[:, 1], p[:, 2]).value
    c_gb = effective_capacitance(r_gb, p[:, 4], p[:, 5]).value
    mc = {
        "sigma_bulk": np.std(length / (r_b * area)),
        "sigma_total": np.std(length / ((r_b + r_gb) * area)),
        "c_bulk": np.std(c_b),
        "c_gb": np.std(c_gb),
        "brick": np.std(length / area / r_gb * c_b / c_gb),
    }
    got = {
        "sigma_bulk": cond.conductivity_stderr.sel(component="bulk")[0],
        "sigma_total": cond.conductivity_stderr.sel(component="total")[0],
        "c_bulk": cond.capacitance_stderr.sel(component="bulk")[0],
        "c_gb": cond.capacitance_stderr.sel(component="grain_boundary")[0],
        "brick": cond.grain_boundary_specific_conductivity_stderr[0],
    }
    for key, value in mc.items():
        assert float(got[key]) == pytest.approx(value, rel=0.05), key


def test_geometry_from_fits_attrs_and_errors() -> None:
    fits = li6ps5cl_fits(attrs={"thickness_cm": 0.1, "diameter_cm": 1.0})
    cond = conductivity(fits)
    assert cond.attrs["thickness_cm"] == 0.1 and cond.attrs["diameter_cm"] == 1.0
    with pytest.raises(GeometryError, match="thickness"):
        conductivity(li6ps5cl_fits(), diameter_cm=1.0)
    with pytest.raises(GeometryError, match="diameter_cm"):
        conductivity(li6ps5cl_fits(), thickness_cm=0.1)
    with pytest.raises(GeometryError, match="positive"):
        conductivity(li6ps5cl_fits(), thickness_cm=-0.1, diameter_cm=1.0)
    with pytest.raises(GeometryError, match="not both"):
        conductivity(li6ps5cl_fits(), thickness_cm=0.1, diameter_cm=1.0, area_cm2=0.7)
    with pytest.raises(ValueError):  # GeometryError is also a ValueError
        conductivity(li6ps5cl_fits(), thickness_cm=0.0, area_cm2=0.7)


def test_failed_fits_give_nan_not_errors() -> None:
    values = {k: [v, v, v] for k, v in zip(NAMES, TRUE, strict=True)}
    values["R2"] = [12.0, 12.0, np.nan]
    fits = make_fits(BULK_GB_ELECTRODE, values, stderr=dict(zip(NAMES, STDERR, strict=True)),
                     roles=BULK_GB_ELECTRODE_ROLES, converged=[True, False, True],
                     temperature=[298.15, 310.0, 320.0])
    cond = conductivity(fits, thickness_cm=0.1, diameter_cm=1.0)
    sigma = cond.conductivity.values
    assert np.all(np.isfinite(sigma[0]))
    assert np.all(np.isnan(sigma[1:]))
    assert list(cond.converged.values) == [True, False, False]
    assert "fit failed" in str(cond.role_flags.values[1])
    np.testing.assert_array_equal(cond.temperature.values, [298.15, 310.0, 320.0])
    assert list(cond.source.values) == list(fits.source.values)


def test_inputs_not_mutated_and_units_everywhere() -> None:
    fits = li6ps5cl_fits()
    before = fits.copy(deep=True)
    cond = conductivity(fits, thickness_cm=0.1, diameter_cm=1.0)
    xr.testing.assert_identical(fits, before)
    for name, var in cond.data_vars.items():
        if var.dtype.kind == "f":
            assert "units" in var.attrs, name
    assert list(cond.component.values) == ["bulk", "grain_boundary", "total"]
    assert cond.conductivity.attrs["units"] == "S/cm"


def test_fixed_parameter_has_no_uncertainty() -> None:
    cov = covariance()
    cov[0, :] = cov[:, 0] = np.nan  # a fitter may leave NaN rows for fixed parameters
    fits = make_fits(BULK_GB_ELECTRODE, dict(zip(NAMES, TRUE, strict=True)), covariance=cov,
                     roles=BULK_GB_ELECTRODE_ROLES, fixed=["R1"])
    cond = conductivity(fits, thickness_cm=0.1, diameter_cm=1.0)
    assert float(cond.resistance_stderr.sel(component="bulk")[0]) == 0.0
    assert float(cond.resistance_stderr.sel(component="total")[0]) == pytest.approx(STDERR[3])


def test_vectorised_over_many_spectra() -> None:
    n = 5000
    scale = np.linspace(1.0, 100.0, n)
    values = {k: v * (scale if k in ("R1", "R2") else 1.0)
              for k, v in zip(NAMES, TRUE, strict=True)}
    fits = make_fits(BULK_GB_ELECTRODE, values, covariance=covariance(),
                     roles=BULK_GB_ELECTRODE_ROLES)
    cond = conductivity(fits, thickness_cm=0.1, diameter_cm=1.0)
    np.testing.assert_allclose(cond.conductivity.sel(component="total"),
                               0.1 / (42.0 * scale * np.pi / 4), rtol=1e-13)
