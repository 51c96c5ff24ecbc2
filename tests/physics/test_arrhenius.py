"""Arrhenius fits (PHYSICS.md §6): exact recovery, weights, uncertainties, breakpoints."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xarray as xr

from eis_pipeline.physics.arrhenius import BOLTZMANN_EV_PER_K as KB
from eis_pipeline.physics.arrhenius import ROOM_TEMPERATURE_K, arrhenius


def sigma_t_law(t: np.ndarray, ea: float, sigma0: float) -> np.ndarray:
    """σ from σT = σ0 exp(-Ea / kB T)."""
    return sigma0 / t * np.exp(-ea / (KB * t))


def test_noise_free_recovers_ea_both_forms() -> None:
    t = np.linspace(233.15, 373.15, 15)
    res = arrhenius(t, sigma_t_law(t, 0.32, 4e5), form="sigma_T")
    assert abs(float(res.activation_energy[0]) - 0.32) < 1e-9
    assert float(res.prefactor[0]) == pytest.approx(4e5, rel=1e-9)
    assert res.prefactor.attrs["units"] == "S K/cm"
    s = 300.0 * np.exp(-0.45 / (KB * t))
    res = arrhenius(t, s, form="sigma")
    assert abs(float(res.activation_energy[0]) - 0.45) < 1e-9
    assert res.prefactor.attrs["units"] == "S/cm"
    assert res.attrs["form"] == "sigma" and res.attrs["model"] == "line"


def test_sigma_form_ea_is_about_kbt_smaller() -> None:
    # Consistency, not identity: fitting ln σ to σT-law data gives Ea' ≈ Ea - kB T (T in range).
    t = np.linspace(250.0, 350.0, 21)
    s = sigma_t_law(t, 0.35, 1e5)
    ea_t = float(arrhenius(t, s, form="sigma_T").activation_energy[0])
    # One line on purpose: noise-free σT-law data are slightly curved in the σ form.
    ea_s = float(arrhenius(t, s, form="sigma", breakpoints=0).activation_energy[0])
    # The slope of ln T against 1/(kB T) is -kB T at the centroid of 1/T.
    assert ea_s == pytest.approx(ea_t - KB / np.mean(1 / t), abs=1e-3)
    assert ea_t - ea_s == pytest.approx(0.026, abs=0.005)  # "≈ 0.026 eV near room temperature"


def test_sigma_25c_interpolated_and_extrapolation_flag() -> None:
    t = np.linspace(263.15, 343.15, 9)
    s = sigma_t_law(t, 0.3, 2e5)
    res = arrhenius(t, s)
    assert float(res.sigma_25C) == pytest.approx(float(sigma_t_law(np.array(298.15), 0.3, 2e5)),
                                                 rel=1e-10)
    assert not bool(res.sigma_25C_extrapolated)
    hot = arrhenius(t + 60.0, sigma_t_law(t + 60.0, 0.3, 2e5))
    assert bool(hot.sigma_25C_extrapolated)
    assert float(hot.sigma_25C) == pytest.approx(float(res.sigma_25C), rel=1e-9)


def test_li6ps5cl_like_series_in_ms_per_cm() -> None:
    t = np.linspace(253.15, 353.15, 11)
    res = arrhenius(t, sigma_t_law(t, 0.35, 6e5))  # argyrodite-like, PHYSICS.md §7
    assert 1e-3 < float(res.sigma_25C) < 4e-3


def test_stderr_matches_monte_carlo(rng: np.random.Generator) -> None:
    t = np.linspace(240.0, 360.0, 13)
    s_true = sigma_t_law(t, 0.4, 1e6)
    rel = np.linspace(0.02, 0.08, t.size)  # heteroscedastic: weights matter
    first = arrhenius(t, s_true, s_true * rel, breakpoints=0)
    eas, s25 = [], []
    for _ in range(600):
        s = s_true * np.exp(rel * rng.standard_normal(t.size))
        r = arrhenius(t, s, s * rel, breakpoints=0)
        eas.append(float(r.activation_energy[0]))
        s25.append(float(r.sigma_25C))
    # Noise-free input: χ²_red = 0, so the stated errors alone set the covariance.
    assert float(first.activation_energy_stderr[0]) == pytest.approx(np.std(eas), rel=0.08)
    assert float(first.sigma_25C_stderr) == pytest.approx(np.std(s25), rel=0.08)
    assert abs(np.mean(eas) - 0.4) < 3 * np.std(eas) / np.sqrt(len(eas))


def test_unweighted_stderr_from_scatter(rng: np.random.Generator) -> None:
    t = np.linspace(250.0, 350.0, 11)
    s = sigma_t_law(t, 0.3, 1e5)
    assert float(arrhenius(t, s).activation_energy_stderr[0]) < 1e-12
    noisy = s * np.exp(0.05 * rng.standard_normal(t.size))
    res = arrhenius(t, noisy)
    assert 0 < float(res.activation_energy_stderr[0]) < 0.05
    assert 0.9 < float(res.r_squared) <= 1.0


def test_nan_points_dropped_with_count() -> None:
    t = np.linspace(250.0, 350.0, 8)
    s = sigma_t_law(t, 0.3, 1e5)
    s[[1, 4]] = np.nan
    res = arrhenius(t, s)
    assert int(res.n_dropped) == 2 and int(res.n_points) == 6
    assert float(res.activation_energy[0]) == pytest.approx(0.3, abs=1e-9)


@pytest.mark.parametrize("t, s", [([300.0], [1e-3]), ([300.0, 310.0], [1e-3, np.nan]), ([], [])])
def test_too_few_points_give_nan_with_reason(t: list[float], s: list[float]) -> None:
    res = arrhenius(t, s)
    assert np.isnan(res.activation_energy[0]) and np.isnan(res.sigma_25C)
    assert "fewer than 2" in res.attrs["reason"]


def test_two_points_exact_line() -> None:
    t = np.array([280.0, 320.0])
    res = arrhenius(t, sigma_t_law(t, 0.5, 1e6))
    assert float(res.activation_energy[0]) == pytest.approx(0.5, abs=1e-9)
    assert np.isnan(res.activation_energy_stderr[0])  # no residual degrees of freedom


def test_phase_transition_with_jump_is_split_at_the_right_temperature() -> None:
    # Na2B12H12-like: order–disorder near 529 K, conductivity jumps and Ea drops.
    t = np.arange(403.0, 620.0, 10.0)
    s = np.where(t < 529.0, sigma_t_law(t, 0.9, 3e6), sigma_t_law(t, 0.3, 3e3))
    res = arrhenius(t, s)
    assert res.attrs["model"] == "jump"
    assert res.sizes["segment"] == 2
    assert float(res.breakpoint_temperature_low) == 523.0
    assert float(res.breakpoint_temperature_high) == 533.0
    assert 523.0 < float(res.breakpoint_temperature) < 533.0
    np.testing.assert_allclose(res.activation_energy, [0.9, 0.3], atol=1e-9)
    assert float(res.temperature_max[0]) == 523.0 and float(res.temperature_min[1]) == 533.0


def test_change_of_slope_is_split_continuously(rng: np.random.Generator) -> None:
    t = np.linspace(250.0, 450.0, 21)
    tb = 355.0
    ea = np.where(t < tb, 0.55, 0.25)
    ln_s = -ea / (KB * t) + ea / (KB * tb)  # continuous at tb
    s = np.exp(ln_s) / t * np.exp(0.01 * rng.standard_normal(t.size))
    res = arrhenius(t, s, s * 0.01)
    assert res.attrs["model"] == "continuous"
    assert float(res.breakpoint_temperature) == pytest.approx(tb, abs=8.0)
    np.testing.assert_allclose(res.activation_energy, [0.55, 0.25], atol=0.03)
    # σ(25 °C) comes from the low-temperature segment.
    assert int(res.sigma_25C_segment) == 0


def test_clean_single_line_is_not_split(rng: np.random.Generator) -> None:
    t = np.linspace(233.0, 393.0, 17)
    s_true = sigma_t_law(t, 0.35, 1e5)
    assert arrhenius(t, s_true).attrs["model"] == "line"
    for _ in range(20):
        s = s_true * np.exp(0.03 * rng.standard_normal(t.size))
        res = arrhenius(t, s, 0.03 * s)
        assert res.attrs["model"] == "line"
        assert res.sizes["segment"] == 1 and np.isnan(res.breakpoint_temperature)


def test_breakpoint_options() -> None:
    t = np.arange(403.0, 620.0, 10.0)
    s = np.where(t < 529.0, sigma_t_law(t, 0.9, 3e6), sigma_t_law(t, 0.3, 3e3))
    assert arrhenius(t, s, breakpoints=0).attrs["model"] == "line"
    line_t = np.linspace(250.0, 350.0, 12)
    forced = arrhenius(line_t, sigma_t_law(line_t, 0.3, 1e5), breakpoints=1)
    assert forced.sizes["segment"] == 2
    few = arrhenius(line_t[:5], sigma_t_law(line_t[:5], 0.3, 1e5), breakpoints=1)
    assert few.sizes["segment"] == 1 and "needs" in few.attrs["reason"]
    with pytest.raises(ValueError, match="breakpoints"):
        arrhenius(t, s, breakpoints=2)
    with pytest.raises(ValueError, match="form"):
        arrhenius(t, s, form="ln_sigma")  # type: ignore[arg-type]


def test_room_temperature_constant() -> None:
    assert ROOM_TEMPERATURE_K == 298.15


def test_missing_stderr_falls_back_to_unweighted() -> None:
    t = np.linspace(250.0, 350.0, 8)
    s = sigma_t_law(t, 0.3, 1e5)
    err = 0.02 * s
    err[3] = 0.0  # e.g. a fit with a fixed resistance
    res = arrhenius(t, s, err)
    assert int(res.n_points) == 8 and res.attrs["weighting"] == "unweighted"
    assert "unweighted" in res.attrs["reason"]
    assert float(res.activation_energy[0]) == pytest.approx(0.3, abs=1e-9)


def test_arrhenius_by_component_from_conductivity() -> None:
    from eis_pipeline.physics.arrhenius import arrhenius_by_component
    from eis_pipeline.physics.conductivity import conductivity
    from tests.physics.fits_factory import BULK_GB_ELECTRODE, BULK_GB_ELECTRODE_ROLES, make_fits

    t = np.linspace(253.15, 353.15, 6)
    kappa = 0.1 / (np.pi / 4)
    r_b = kappa / sigma_t_law(t, 0.35, 6e5)
    r_gb = kappa / sigma_t_law(t, 0.45, 4e6)
    values = {"R1": r_b, "CPE1_0": 2e-11, "CPE1_1": 1.0, "R2": r_gb, "CPE2_0": 5e-9,
              "CPE2_1": 1.0, "CPE3_0": 2e-6, "CPE3_1": 0.9}
    fits = make_fits(BULK_GB_ELECTRODE, values, stderr={"R1": 0.01 * r_b, "R2": 0.01 * r_gb},
                     roles=BULK_GB_ELECTRODE_ROLES, temperature=t)
    cond = conductivity(fits, thickness_cm=0.1, diameter_cm=1.0, thickness_stderr_cm=0.002)
    arr = arrhenius_by_component(cond)
    assert list(arr.component.values) == ["bulk", "grain_boundary", "total"]
    ea = arr.activation_energy.isel(segment=0)
    assert float(ea.sel(component="bulk")) == pytest.approx(0.35, abs=1e-9)
    assert float(ea.sel(component="grain_boundary")) == pytest.approx(0.45, abs=1e-9)
    # Geometry (2 % on L) enters σ(25 °C), not E_a.
    bulk = cond.sel(component="bulk")
    fit_only = arrhenius(t, bulk.conductivity.values, bulk.conductivity_fit_stderr.values)
    fit_rel = float(fit_only.sigma_25C_stderr / fit_only.sigma_25C)
    rel = float(arr.sigma_25C_stderr.sel(component="bulk") / arr.sigma_25C.sel(component="bulk"))
    assert rel == pytest.approx(np.hypot(fit_rel, 0.02), rel=1e-9)
    assert float(arr.activation_energy_stderr.isel(segment=0).sel(component="bulk")) == \
        pytest.approx(float(fit_only.activation_energy_stderr[0]), rel=1e-12)
    assert str(arr.model.sel(component="total").values) == "line"


def test_known_breakpoint_splits_where_told() -> None:
    # Na2B12H12-like jump at 529 K; the transition temperature is known from calorimetry.
    t = np.arange(403.0, 620.0, 10.0)
    s = np.where(t < 529.0, sigma_t_law(t, 0.9, 3e6), sigma_t_law(t, 0.3, 3e3))
    res = arrhenius(t, s, breakpoint_K=529.0)
    assert res.attrs["model"] == "jump"
    assert float(res.breakpoint_temperature) == pytest.approx(529.0, rel=1e-12)
    assert (float(res.breakpoint_temperature_low), float(res.breakpoint_temperature_high)) == (
        523.0, 533.0)
    np.testing.assert_allclose(res.activation_energy, [0.9, 0.3], atol=1e-9)
    assert res.attrs["reason"] == ""


def test_known_breakpoint_continuous_slope_change(rng: np.random.Generator) -> None:
    # Only 8 points: a searched split needs >= 9 with AICc; a known one is not charged.
    t = np.linspace(260.0, 400.0, 8)
    tb = 330.0
    ea = np.where(t < tb, 0.55, 0.25)
    s = np.exp(-ea / (KB * t) + ea / (KB * tb)) / t * np.exp(0.005 * rng.standard_normal(8))
    assert arrhenius(t, s, 0.005 * s).attrs["model"] == "line"
    res = arrhenius(t, s, 0.005 * s, breakpoint_K=tb)
    assert res.attrs["model"] == "continuous"
    assert float(res.breakpoint_temperature) == pytest.approx(tb)
    np.testing.assert_allclose(res.activation_energy, [0.55, 0.25], atol=0.03)


def test_known_breakpoint_on_a_straight_line_keeps_one_line(rng: np.random.Generator) -> None:
    t = np.linspace(233.0, 393.0, 12)
    s = sigma_t_law(t, 0.35, 1e5) * np.exp(0.01 * rng.standard_normal(t.size))
    assert arrhenius(t, s, 0.01 * s, breakpoint_K=310.0).attrs["model"] == "line"
    forced = arrhenius(t, s, 0.01 * s, breakpoints=1, breakpoint_K=310.0)
    assert forced.sizes["segment"] == 2
    np.testing.assert_allclose(forced.activation_energy, 0.35, atol=0.05)


def test_known_breakpoint_needs_points_on_both_sides() -> None:
    t = np.linspace(250.0, 350.0, 10)
    s = sigma_t_law(t, 0.3, 1e5)
    res = arrhenius(t, s, breakpoints=1, breakpoint_K=340.0)
    assert res.sizes["segment"] == 1 and "each side needs" in res.attrs["reason"]
    with pytest.raises(ValueError, match="contradicts"):
        arrhenius(t, s, breakpoints=0, breakpoint_K=300.0)
    with pytest.raises(ValueError, match="breakpoint_K"):
        arrhenius(t, s, breakpoint_K=-5.0)


def test_reference_temperature_closed_form() -> None:
    """σ at T_ref from the fitted law equals σ₀/T exp(-E_a/k_B T) of the generating law."""
    t = np.linspace(250.0, 350.0, 6)
    sigma = sigma_t_law(t, 0.4, 2e5)
    res = arrhenius(t, sigma, breakpoints=0, reference_temperature_K=330.0)
    assert float(res.sigma_ref) == pytest.approx(float(sigma_t_law(330.0, 0.4, 2e5)), rel=1e-9)
    assert not bool(res.sigma_ref_extrapolated)
    assert res.attrs["reference_temperature_K"] == 330.0
    low = arrhenius(t, sigma, breakpoints=0, reference_temperature_K=200.0)
    assert bool(low.sigma_ref_extrapolated)
    default = arrhenius(t, sigma, breakpoints=0)
    assert float(default.sigma_ref) == pytest.approx(float(default.sigma_25C), rel=1e-12)
    with pytest.raises(ValueError, match="reference_temperature_K"):
        arrhenius(t, sigma, reference_temperature_K=-5.0)


def test_unweighted_option_ignores_fit_errors() -> None:
    """weighting="none" is the plain least-squares line (np.polyfit on ln σT vs 1/k_B T),
    however small one point's fit error; "fit_stderr" lets that point pull the line."""
    from eis_pipeline.physics.arrhenius import arrhenius_by_component
    from eis_pipeline.physics.conductivity import conductivity
    from tests.physics.fits_factory import BULK_GB_ELECTRODE, BULK_GB_ELECTRODE_ROLES, make_fits

    t = np.linspace(253.15, 353.15, 6)
    kappa = 0.1 / (np.pi / 4)
    scatter = np.array([1.0, 1.05, 0.97, 1.02, 0.96, 1.0])
    r_b = kappa / sigma_t_law(t, 0.35, 6e5) * scatter
    rel_err = np.array([0.01, 1e-4, 0.01, 0.01, 0.01, 0.01])   # point 1: tiny fit error
    values = {"R1": r_b, "CPE1_0": 2e-11, "CPE1_1": 1.0, "R2": r_b, "CPE2_0": 5e-9,
              "CPE2_1": 1.0, "CPE3_0": 2e-6, "CPE3_1": 0.9}
    fits = make_fits(BULK_GB_ELECTRODE, values, stderr={"R1": rel_err * r_b, "R2": rel_err * r_b},
                     roles=BULK_GB_ELECTRODE_ROLES, temperature=t)
    cond = conductivity(fits, thickness_cm=0.1, diameter_cm=1.0)
    plain = arrhenius_by_component(cond, breakpoints=0, weighting="none")
    weighted = arrhenius_by_component(cond, breakpoints=0)
    s = cond.conductivity.sel(component="bulk").values
    slope = np.polyfit(1 / (KB * t), np.log(s * t), 1)[0]
    ea_plain = float(plain.activation_energy.sel(component="bulk").isel(segment=0))
    ea_weighted = float(weighted.activation_energy.sel(component="bulk").isel(segment=0))
    assert ea_plain == pytest.approx(-slope, rel=1e-9)
    assert abs(ea_weighted - ea_plain) > 1e-3
    assert plain.attrs["weighting"] == "none"
    with pytest.raises(ValueError, match="weighting"):
        arrhenius_by_component(cond, weighting="inverse")


def test_vtf_recovers_closed_form_and_arrhenius_limit() -> None:
    from eis_pipeline.physics.arrhenius import vtf

    t = np.linspace(250.0, 400.0, 10)
    a, b, t0 = 30.0, 0.07, 180.0
    sigma = a / np.sqrt(t) * np.exp(-b / (KB * (t - t0)))
    res = vtf(t, sigma, reference_temperature_K=300.0)
    assert float(res.activation_energy) == pytest.approx(b, rel=1e-6)
    assert float(res.vtf_T0) == pytest.approx(t0, rel=1e-6)
    assert float(res.prefactor) == pytest.approx(a, rel=1e-5)
    assert float(res.sigma_ref) == pytest.approx(a / np.sqrt(300) * np.exp(-b / (KB * 120)),
                                                 rel=1e-6)
    # noisy: errors cover the truth; T0 -> 0 data (Arrhenius in σ√T) put T0 at its edge
    rng = np.random.default_rng(4)
    noisy = sigma * np.exp(0.01 * rng.standard_normal(t.size))
    res = vtf(t, noisy, 0.01 * noisy)
    assert abs(float(res.vtf_T0) - t0) < 3 * float(res.vtf_T0_stderr)
    arr = a / np.sqrt(t) * np.exp(-0.3 / (KB * t))
    assert "edge" in vtf(t, arr).attrs["reason"]
    assert "4 distinct" in vtf(t[:3], sigma[:3]).attrs["reason"]


def test_vtf_form_by_component_and_in_the_campaign_summary() -> None:
    """form="vtf" fits every component with the VTF law; on resistances made from the closed
    form σ = A T^(-1/2) exp(-B/(k_B (T - T₀))) it returns B, T₀, A and σ(25 °C) of that
    form; the campaign summary takes B as E_a (no segments)."""
    from eis_pipeline.physics.arrhenius import arrhenius_by_component
    from eis_pipeline.physics.campaign import CampaignSample, summarise_campaign
    from eis_pipeline.physics.conductivity import conductivity
    from tests.physics.fits_factory import BULK_GB_ELECTRODE, BULK_GB_ELECTRODE_ROLES, make_fits

    t = np.linspace(250.0, 380.0, 8)
    kappa = 0.1 / (np.pi / 4)
    laws = {"bulk": (30.0, 0.07, 180.0), "grain_boundary": (12.0, 0.09, 160.0)}

    def law(a: float, b: float, t0: float, tk: np.ndarray | float) -> np.ndarray:
        return np.asarray(a / np.sqrt(tk) * np.exp(-b / (KB * (np.asarray(tk) - t0))))

    values = {"R1": kappa / law(*laws["bulk"], t), "CPE1_0": 2e-11, "CPE1_1": 1.0,
              "R2": kappa / law(*laws["grain_boundary"], t), "CPE2_0": 5e-9, "CPE2_1": 1.0,
              "CPE3_0": 2e-6, "CPE3_1": 0.9}
    fits = make_fits(BULK_GB_ELECTRODE, values, roles=BULK_GB_ELECTRODE_ROLES, temperature=t)
    cond = conductivity(fits, thickness_cm=0.1, diameter_cm=1.0)
    res = arrhenius_by_component(cond, form="vtf", weighting="none",
                                 reference_temperature_K=320.0)
    assert res.attrs["form"] == "vtf"
    for comp, (a, b, t0) in laws.items():
        sel = res.sel(component=comp)
        assert float(sel.activation_energy) == pytest.approx(b, rel=1e-5)
        assert float(sel.vtf_T0) == pytest.approx(t0, rel=1e-5)
        assert float(sel.prefactor) == pytest.approx(a, rel=1e-4)
        assert float(sel.sigma_25C) == pytest.approx(float(law(a, b, t0, 298.15)), rel=1e-6)
        assert float(sel.sigma_ref) == pytest.approx(float(law(a, b, t0, 320.0)), rel=1e-6)
        assert not bool(sel.sigma_ref_extrapolated)
    summary = summarise_campaign([CampaignSample("s", {}, res)])
    assert float(summary.activation_energy.sel(component="bulk", sample="s")) == pytest.approx(
        0.07, rel=1e-5)
    with pytest.raises(ValueError, match="no breakpoint"):
        arrhenius_by_component(cond, form="vtf", breakpoint_K=300.0)


def _by_component_reference(cond: xr.Dataset, **kw: Any) -> xr.Dataset:
    """arrhenius_by_component by its definition: one arrhenius()/vtf() Dataset per component,
    the geometry error added, concatenated by xarray (the route it replaced)."""
    import math

    from eis_pipeline.physics.arrhenius import vtf
    from eis_pipeline.physics.geometry import Geometry

    geometry = Geometry.from_attrs(cond.attrs)
    geo_rel = 0.0 if geometry is None else math.sqrt(geometry.relative_variance)
    form, parts = kw.pop("form", "sigma_T"), []
    for comp in cond["component"].values:
        c = cond.sel(component=comp)
        args = (c.temperature.values, c.conductivity.values, c.conductivity_fit_stderr.values)
        res = vtf(*args) if form == "vtf" else arrhenius(*args, form, **kw)
        res.attrs.setdefault("model", "vtf")
        for name in ("sigma_25C", "sigma_ref", "prefactor"):
            err = res[f"{name}_stderr"]
            res[f"{name}_stderr"] = (err**2 + (res[name] * geo_rel) ** 2) ** 0.5
            res[f"{name}_stderr"].attrs = err.attrs
        res = res.assign(model=((), res.attrs.pop("model")), reason=((), res.attrs.pop("reason")))
        for key in [k for k in res.attrs if k.startswith("aicc_")]:
            del res.attrs[key]
        res.attrs.pop("reduced_chi_square", None)   # not on an unfittable component's
        res.attrs.pop("weighting", None)
        parts.append(res.expand_dims(component=[str(comp)]))
    out = xr.concat(parts, dim="component", combine_attrs="drop_conflicts", data_vars="all",
                    coords="minimal", join="outer")
    out.attrs.update(geometry_relative_stderr=geo_rel, weighting="fit_stderr", form=form,
                     reference_temperature_K=ROOM_TEMPERATURE_K)
    return out


@pytest.mark.parametrize("form", ["sigma_T", "vtf"])
def test_by_component_is_the_concat_of_per_component_fits(form: str,
                                                          rng: np.random.Generator) -> None:
    """Components with different segment counts (a kinked bulk, an unfittable grain
    boundary, a total with a jump): the one-Dataset build equals xarray's concatenation of
    the per-component fits, values, dtypes (NaN-padded integers become float), attributes
    and the order of variables, coordinates and attributes."""
    from eis_pipeline.physics.arrhenius import arrhenius_by_component
    from eis_pipeline.physics.geometry import Geometry

    t = np.linspace(250.0, 420.0, 14)
    bulk = np.where(t < 330.0, sigma_t_law(t, 0.5, 1e5),
                    sigma_t_law(t, 0.3, 1e5 * np.exp(-0.2 / (KB * 330.0))))
    total = sigma_t_law(t, 0.4, 3e4) * np.where(t > 340.0, 3.0, 1.0)
    sigma = np.stack([bulk, np.full(t.size, np.nan), total], axis=1)
    sigma *= np.exp(0.01 * rng.standard_normal(sigma.shape))
    cond = xr.Dataset(
        {"conductivity": (("spectrum", "component"), sigma),
         "conductivity_fit_stderr": (("spectrum", "component"), 0.02 * sigma)},
        coords={"spectrum": np.arange(t.size), "temperature": ("spectrum", t),
                "component": ["bulk", "grain_boundary", "total"]},
        attrs=Geometry.from_mm(0.8, diameter_mm=10.0, thickness_stderr_mm=0.01).to_attrs())
    expected = _by_component_reference(cond, form=form)
    got = arrhenius_by_component(cond, form=form)
    if form == "sigma_T":
        assert list(got.model.values) == ["continuous", "none", "jump"]
        assert got.segment_n_points.dtype == np.float64
    xr.testing.assert_identical(got, expected)
    assert list(got.variables) == list(expected.variables)
    assert list(got.attrs) == list(expected.attrs)
    for name, var in got.variables.items():
        assert var.dtype == expected[name].dtype, name
        assert list(var.attrs) == list(expected[name].attrs), name


def test_hinge_search_is_bit_for_bit_the_search_on_hinge_at(rng: np.random.Generator) -> None:
    """The breakpoint search's in-place RSS gives exactly _hinge_at's RSS, so the same
    optimiser path and the same breakpoint as minimising _hinge_at itself."""
    from scipy.optimize import minimize_scalar

    from eis_pipeline.physics.arrhenius import _hinge, _hinge_at

    def search_rss(xb: float, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
        res = _hinge_at(x, y, w, xb)
        assert res is not None
        return res[2]

    for _ in range(5):
        x = np.sort(rng.uniform(30.0, 50.0, 9))[::-1]
        y = 5.0 - 0.4 * x + 0.3 * np.maximum(x - 40.0, 0.0) + rng.normal(0, 0.05, x.size)
        w = rng.uniform(0.5, 2.0, x.size)
        allowed = np.ones(x.size + 1, dtype=bool)
        fit = _hinge(x, y, w, 3, allowed)
        assert fit is not None
        best = (np.inf, np.nan)
        for i in range(3, x.size - 2):
            lo, hi = float(x[i]), float(x[i - 1])
            opt = minimize_scalar(search_rss, bounds=(lo, hi), args=(x, y, w),
                                  method="bounded", options={"xatol": 1e-9 * max(hi, 1.0)})
            for xb in (float(opt.x), lo, hi):
                rss = search_rss(xb, x, y, w)
                if rss < best[0]:
                    best = (rss, xb)
        assert fit.breakpoint_x == best[1] and fit.rss == best[0]
