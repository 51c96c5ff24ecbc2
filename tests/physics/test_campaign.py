"""Campaign summary and trends (PHYSICS.md §7: milling time is a parameter, not a monotone gain)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from eis_pipeline.physics.arrhenius import BOLTZMANN_EV_PER_K as KB
from eis_pipeline.physics.arrhenius import arrhenius
from eis_pipeline.physics.campaign import CampaignSample, campaign_trends, summarise_campaign

# NaCB11H12-like milling series: peak after 45 min, collapse after 6 h.
MILLING = [(15, 1.5e-3), (45, 4e-3), (120, 1.2e-3), (360, 1e-8)]


def series(sigma25: float, ea: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(273.15, 353.15, 9)
    sigma0 = sigma25 * 298.15 * np.exp(ea / (KB * 298.15))
    return t, sigma0 / t * np.exp(-ea / (KB * t))


def milling_campaign() -> list[CampaignSample]:
    out = []
    for i, (minutes, s25) in enumerate(MILLING):
        t, s = series(s25, 0.3 + 0.05 * i)
        out.append(CampaignSample(
            name=f"NaCB11H12_{minutes}min",
            synthesis={"milling_time_min": minutes, "speed_rpm": 500,
                       "ball_to_powder_ratio": 30 + 10 * (i % 2), "jar_material": "ZrO2"},
            arrhenius={"total": arrhenius(t, s, 0.02 * s), "bulk": arrhenius(t, 1.2 * s)}))
    return out


def test_summary_rows_values_and_best_sample() -> None:
    summary = summarise_campaign(milling_campaign())
    assert summary.sizes["sample"] == 4
    total = summary.sigma_25C.sel(component="total").values
    np.testing.assert_allclose(total, [s for _, s in MILLING], rtol=1e-9)
    np.testing.assert_allclose(summary.activation_energy.sel(component="total"),
                               [0.3, 0.35, 0.4, 0.45], atol=1e-9)
    assert np.all(np.isnan(summary.sigma_25C.sel(component="grain_boundary")))
    assert summary.attrs["best_sample"] == "NaCB11H12_45min"
    assert summary.milling_time_min.dtype == float
    assert list(summary.jar_material.values) == ["ZrO2"] * 4
    assert summary.sigma_25C.attrs["units"] == "S/cm"
    assert np.all(summary.sigma_25C_stderr.sel(component="total") > 0)


def test_summary_accepts_mappings_and_plain_sigma() -> None:
    summary = summarise_campaign([
        {"name": "a", "synthesis": {"milling_time_min": 30}, "sigma_25C": {"total": (2e-3, 1e-4)}},
        {"name": "b", "synthesis": {"annealed": "yes"}, "sigma_25C": {"total": 1e-3}},
    ])
    assert float(summary.sigma_25C_stderr.sel(component="total")[0]) == 1e-4
    assert np.isnan(summary.milling_time_min[1])
    assert list(summary.annealed.values) == ["", "yes"]
    with pytest.raises(ValueError, match="unique"):
        summarise_campaign([{"name": "a"}, {"name": "a"}])
    with pytest.raises(TypeError, match="name"):
        summarise_campaign([{"synthesis": {}}])
    assert summarise_campaign([{"name": "x"}]).attrs["best_sample"] == ""


def test_trends_report_peak_rank_correlation_and_n() -> None:
    trends = campaign_trends(summarise_campaign(milling_campaign()))
    # speed_rpm is constant and jar_material not numeric: no trend for them.
    assert set(trends.parameter.values) == {"milling_time_min", "ball_to_powder_ratio"}
    mt = trends.sel(parameter="milling_time_min")
    assert int(mt.n) == 4
    assert float(mt.argmax_value) == 45.0
    assert float(mt.argmax_sigma_25C) == pytest.approx(4e-3)
    rho = spearmanr([m for m, _ in MILLING], [s for _, s in MILLING]).statistic
    assert float(mt.spearman_rho) == pytest.approx(rho)
    assert float(mt.slope_log10_sigma) < 0  # long milling amorphises: overall decline
    assert np.isfinite(mt.slope_log10_sigma_stderr)


def test_trends_honest_with_few_points() -> None:
    summary = summarise_campaign([
        {"name": "a", "synthesis": {"speed_rpm": 300}, "sigma_25C": {"total": 1e-3}},
        {"name": "b", "synthesis": {"speed_rpm": 500}, "sigma_25C": {"total": 2e-3}},
    ])
    tr = campaign_trends(summary).sel(parameter="speed_rpm")
    assert int(tr.n) == 2
    assert np.isnan(tr.spearman_rho) and np.isnan(tr.slope_log10_sigma_stderr)
    assert float(tr.slope_log10_sigma) == pytest.approx(np.log10(2) / 200)


def test_spearman_ties_match_scipy() -> None:
    x = [10, 20, 20, 40, 50]
    s = [1e-3, 3e-3, 2e-3, 2e-3, 5e-4]
    summary = summarise_campaign([{"name": str(i), "synthesis": {"bpr": xi},
                                   "sigma_25C": {"total": si}}
                                  for i, (xi, si) in enumerate(zip(x, s, strict=True))])
    tr = campaign_trends(summary)
    assert float(tr.spearman_rho[0]) == pytest.approx(spearmanr(x, s).statistic)


def test_summary_accepts_arrhenius_by_component_dataset() -> None:
    import xarray as xr

    t, s = series(2e-3, 0.32)
    by_comp = xr.concat([arrhenius(t, s).expand_dims(component=["total"]),
                         arrhenius(t, 2 * s).expand_dims(component=["bulk"])], dim="component")
    summary = summarise_campaign([CampaignSample("x", {}, by_comp)])
    assert float(summary.sigma_25C.sel(component="total")[0]) == pytest.approx(2e-3)
    assert float(summary.sigma_25C.sel(component="bulk")[0]) == pytest.approx(4e-3)
    assert np.isnan(summary.sigma_25C.sel(component="grain_boundary")[0])


def test_repeated_temperatures_do_not_break_the_split_search() -> None:
    t = np.repeat(np.linspace(250.0, 400.0, 8), 2)
    s = 1e5 / t * np.exp(-0.35 / (KB * t))
    res = arrhenius(t, s * np.where(np.arange(t.size) % 2, 1.01, 0.99))
    assert res.attrs["model"] == "line" and int(res.n_points) == 16
