"""Figures render to files, with labelled axes carrying units; matplotlib stays in plotting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.report.figures import (
    BOLTZMANN_EV_K,
    arc_view_limit,
    arrhenius_plot,
    axis_label,
    bode,
    drt_plot,
    kk_residual_plot,
    nyquist,
    save_figure,
    trend_plot,
)
from eis_pipeline.testing.simulate import ArrheniusLaw, PelletModel, log_frequencies, rq_impedance

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def pellet() -> PelletModel:
    return PelletModel(0.08, 1.0, bulk=ArrheniusLaw.from_sigma_at(2e-5, 0.4),
                       grain_boundary=ArrheniusLaw.from_sigma_at(3e-5, 0.45))


def labels(fig: Figure) -> list[str]:
    return [t for ax in fig.axes for t in (ax.get_xlabel(), ax.get_ylabel()) if t]


def test_nyquist_with_fit_and_arcs(tmp_path: Path, pellet: PelletModel,
                                   rng: np.random.Generator) -> None:
    f = log_frequencies(7e6, 1, 10)
    p = pellet.parameters(298.15)
    z_true = pellet.impedance(f, 298.15)
    spectrum = make_spectrum(f, z_true * (1 + 0.005 * rng.standard_normal(f.size)))
    arcs = {"bulk": rq_impedance(f, p["R1"], p["CPE1_0"], p["CPE1_1"]),
            "grain boundary": rq_impedance(f, p["R2"], p["CPE2_0"], p["CPE2_1"])}
    fig = nyquist(spectrum, fit=z_true, arcs=arcs, title="mill360, 25 °C")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Z′ (kΩ)" and ax.get_ylabel() == "−Z″ (kΩ)"
    assert ax.get_aspect() == 1.0
    # the electrode spike's top is cut at its foot: those points sit on the frame, counted
    assert {t.get_text() for t in ax.get_legend().get_texts()
            if not t.get_text().endswith("off scale")} == {"data", "fit", "bulk",
                                                             "grain boundary"}
    # -Z'' is plotted upward: the capacitive arc is above the axis
    data_line = next(line for line in ax.get_lines() if line.get_label() == "data")
    assert np.nanmax(data_line.get_ydata()) > 0
    # a spectrum group of the results file carries its own fit
    with_fit = spectrum.assign(impedance_fit=("frequency", z_true))
    fig2 = nyquist(with_fit, fit=with_fit)
    assert {t.get_text() for t in fig2.axes[0].get_legend().get_texts()
            if not t.get_text().endswith("off scale")} == {"data", "fit"}
    out = save_figure(fig, tmp_path / "plots" / "nyquist.png", dpi=100)
    assert out.read_bytes().startswith(PNG)
    assert sorted(p.name for p in out.parent.iterdir()) == ["nyquist.png"]


@pytest.mark.parametrize("dpi", [100, 300])
def test_decade_labels_sit_beside_their_points_without_overlapping(pellet: PelletModel,
                                                                   dpi: int) -> None:
    """Each decade label is near its data point, inside the axes, apart from the others,
    at the dpi the figure is drawn with (offsets in points, not pixels)."""
    f = log_frequencies(7e6, 1, 10)
    z = pellet.impedance(f, 298.15)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = nyquist((f, z))
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    ax = fig.axes[0]
    texts = [t for t in ax.texts if t.get_text().endswith("Hz")]
    assert len(texts) >= 4
    renderer = canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    axes_box = ax.get_window_extent(renderer)
    for i, (text, box) in enumerate(zip(texts, boxes, strict=True)):
        decade = int(text.get_text().split("{")[1].split("}")[0])
        point = ax.transData.transform(text.xy)
        assert abs(np.log10(f[np.argmin(np.abs(np.log10(f) - decade))]) - decade) < 0.05
        # within ~3 label heights of its point, inside the axes
        assert np.hypot(*(np.array([box.x0 + box.x1, box.y0 + box.y1]) / 2 - point)) \
            < 3 * box.height + box.width
        assert axes_box.x0 - 1 <= box.x0 and box.x1 <= axes_box.x1 + 1
        assert not any(box.overlaps(other) for other in boxes[i + 1:])


def test_arcs_start_at_the_series_resistance(pellet: PelletModel) -> None:
    """With the bulk read at the intercept, the grain-boundary arc starts at R_bulk."""
    f = log_frequencies(1e6, 1, 10)
    p = pellet.parameters(298.15)
    gb = rq_impedance(f, p["R2"], p["CPE2_0"], p["CPE2_1"])
    fig = nyquist((f, p["R1"] + gb), arcs={"grain boundary": gb}, series_resistance=p["R1"])
    ax = fig.axes[0]
    line = next(li for li in ax.get_lines() if li.get_label() == "grain boundary")
    scale = 1e3 if ax.get_xlabel().endswith("(kΩ)") else 1.0
    assert np.min(line.get_xdata()) * scale == pytest.approx(p["R1"], rel=1e-2)
    assert np.max(line.get_xdata()) * scale == pytest.approx(p["R1"] + p["R2"], rel=1e-2)


def test_bode_with_residual_panel(tmp_path: Path, pellet: PelletModel) -> None:
    f = log_frequencies(1e6, 1, 10)
    z = pellet.impedance(f, 320.0)
    fig = bode((f, z * 1.01), fit=(f, z))
    assert len(fig.axes) == 3
    assert labels(fig) == ["|Z| (Ω)", "−phase (°)", "frequency (Hz)", "residual (%)"]
    res_lines = fig.axes[2].get_lines()
    # (Z - Z_fit) / |Z| in %: with Z = 1.01 Z_fit the real residual is 1/1.01 % of cos(phase)
    np.testing.assert_allclose(res_lines[0].get_ydata(), (0.01 * z).real / np.abs(1.01 * z) * 100,
                               rtol=1e-9)
    assert save_figure(fig, tmp_path / "bode.svg").read_text().lstrip().startswith("<?xml")
    assert len(bode(make_spectrum(f, z)).axes) == 2     # no fit, no residual panel


def arrhenius_fit() -> xr.Dataset:
    return xr.Dataset(
        {"activation_energy": ("component", [0.40, 0.45], {"units": "eV"}),
         "activation_energy_stderr": ("component", [0.01, 0.02]),
         "prefactor": ("component", [ArrheniusLaw.from_sigma_at(2e-5, 0.4).prefactor_S_K_cm,
                                     ArrheniusLaw.from_sigma_at(3e-5, 0.45).prefactor_S_K_cm])},
        coords={"component": ["bulk", "grain_boundary"]}, attrs={"form": "sigma_T"})


def test_arrhenius_plot(tmp_path: Path, pellet: PelletModel) -> None:
    t = np.array([253.15, 273.15, 298.15, 313.15, 333.15, 353.15])
    sigma = {"bulk": pellet.bulk.conductivity(t),
             "grain_boundary": pellet.grain_boundary.conductivity(t)}
    fig = arrhenius_plot(t, sigma, arrhenius_fit())
    ax = fig.axes[0]
    assert ax.get_xlabel() == "1000 / T (K$^{-1}$)"
    assert ax.get_ylabel() == "σT (S K cm$^{-1}$)"
    top = [a for a in fig.axes if a is not ax] or ax.child_axes
    assert any(a.get_xlabel() == "T (°C)" for a in top)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "E$_a$ = 0.40 ± 0.01 eV" in texts
    # the fitted line passes through the exact points (σT form)
    line = next(line for line in ax.get_lines() if "0.40" in str(line.get_label()))
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    expected = arrhenius_fit()["prefactor"].values[0] * np.exp(
        -0.40 / (BOLTZMANN_EV_K * 1000 / x))
    np.testing.assert_allclose(y, expected)
    save_figure(fig, tmp_path / "arrhenius.png", dpi=100)
    # the sigma form plots σ itself
    fig2 = arrhenius_plot(t, sigma["bulk"], form="sigma")
    assert fig2.axes[0].get_ylabel() == "σ (S cm$^{-1}$)"
    with pytest.raises(ValueError, match="form"):
        arrhenius_plot(t, sigma["bulk"], form="log")


def test_arrhenius_segments(tmp_path: Path) -> None:
    t = np.linspace(250, 400, 8)
    fit = xr.Dataset(
        {"activation_energy": ("segment", [0.6, 0.3]), "prefactor": ("segment", [1e8, 1e4]),
         "temperature_min": ("segment", [250.0, 330.0]),
         "temperature_max": ("segment", [330.0, 400.0])},
        attrs={"form": "sigma_T"})
    fig = arrhenius_plot(t, 1e4 / t * np.exp(-0.3 / (BOLTZMANN_EV_K * t)), fit)
    fitted = [line for line in fig.axes[0].get_lines() if "E$_a$" in str(line.get_label())]
    assert len(fitted) == 2
    assert 1000 / np.max(fitted[0].get_xdata()) == pytest.approx(250.0)


def test_trend_plot(tmp_path: Path) -> None:
    summary = xr.Dataset(
        {"milling_time_min": ("sample", [45.0, 15.0, 360.0, 120.0]),
         "sigma_25C": (("sample", "component"),
                       [[5e-3, 4e-3], [3e-4, 2e-4], [8e-6, 4e-6], [5e-4, 3e-4]]),
         "sigma_25C_stderr": (("sample", "component"), np.full((4, 2), 1e-6))},
        coords={"sample": ["mill045", "mill015", "mill360", "mill120"],
                "component": ["bulk", "total"]})
    fig = trend_plot(summary, "milling_time_min")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "milling time (min)"
    assert ax.get_ylabel() == "σ(25 °C) (S cm$^{-1}$)"
    assert ax.get_yscale() == "log"
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), [15, 45, 120, 360])   # sorted by x
    save_figure(fig, tmp_path / "trend.pdf")
    flat = xr.Dataset({"milling_time_min": ("sample", [15.0, 45.0]),
                       "sigma_25C_bulk": ("sample", [3e-4, 5e-3]),
                       "sigma_25C_bulk_stderr": ("sample", [1e-5, 1e-4])})
    assert [t.get_text() for t in trend_plot(flat, "milling_time_min").axes[0]
            .get_legend().get_texts()] == ["bulk"]
    with pytest.raises(ValueError, match="milling_speed_rpm"):
        trend_plot(summary, "milling_speed_rpm")


def test_axis_label_units() -> None:
    assert axis_label("milling_speed_rpm") == "milling speed (rpm)"
    assert axis_label("annealing_temperature_celsius") == "annealing temperature (°C)"
    assert axis_label("ball_to_powder_ratio") == "ball to powder ratio"


def test_only_plotting_imports_matplotlib() -> None:
    code = ("import sys, eis_pipeline, eis_pipeline.config, eis_pipeline.testing.simulate, "
            "eis_pipeline.io.hdf5, eis_pipeline.testing.writers; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, check=True)
    assert out.stdout.strip() == "False"


def test_arc_view_limit(pellet: PelletModel) -> None:
    f = log_frequencies(7e6, 1, 10)
    p = pellet.parameters(298.15)
    arcs_only = (rq_impedance(f, p["R1"], p["CPE1_0"], p["CPE1_1"])
                 + rq_impedance(f, p["R2"], p["CPE2_0"], p["CPE2_1"]))
    assert arc_view_limit(f, arcs_only) is None
    with_spike = pellet.impedance(f, 298.15)        # + electrode CPE: a tall spike
    limit = arc_view_limit(f, with_spike)
    assert limit is not None
    assert p["R1"] + p["R2"] < limit < 3 * (p["R1"] + p["R2"])
    fig = nyquist((f, with_spike))
    assert fig.axes[0].get_xlim()[1] == pytest.approx(limit / 1e3)   # in kΩ
    full = nyquist((f, with_spike), zoom=False)
    assert full.axes[0].get_ylabel() == "−Z″ (kΩ)"
    assert full.axes[0].get_ylim()[1] > 3 * limit / 1e3


def test_value_with_error_decimals() -> None:
    from eis_pipeline.report.figures import _value_with_error

    assert _value_with_error(0.4012, 0.0123) == "0.40 ± 0.01"
    assert _value_with_error(0.4612, 0.0021) == "0.461 ± 0.002"
    assert _value_with_error(0.4612, float("nan")) == "0.46"


def test_kk_residual_plot(tmp_path: Path, pellet: PelletModel) -> None:
    from eis_pipeline.validation.kramers_kronig import kramers_kronig

    f = log_frequencies(1e6, 1, 10)
    rng = np.random.default_rng(3)
    z = pellet.impedance(f, 320.0)
    z = z + 0.005 * np.abs(z) * (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size))
    kk = kramers_kronig(f, z)
    fig = kk_residual_plot(kk.frequency, kk.residual_real, kk.residual_imag,
                           threshold=kk.threshold, noise=kk.noise_estimate, title="KK")
    ax = fig.axes[0]
    assert labels(fig) == ["frequency (Hz)", "KK residual (% of |Z|)"]
    assert ax.get_xscale() == "log"
    lines = {line.get_label(): line for line in ax.get_lines()}
    # in %, sorted by frequency (the sweep runs from high to low)
    np.testing.assert_allclose(lines["Z′"].get_xdata(), f[::-1])
    np.testing.assert_allclose(lines["Z″"].get_ydata(), 100 * kk.residual_imag[::-1])
    assert lines["±3σ noise"].get_ydata()[0] == pytest.approx(300 * kk.noise_estimate)
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert "±1 % threshold" in legend
    out = save_figure(fig, tmp_path / "kk.png", dpi=120)
    assert out.read_bytes().startswith(PNG)


def test_drt_plot(tmp_path: Path) -> None:
    from eis_pipeline.validation.drt import drt

    f = log_frequencies(1e6, 0.1, 10)
    w = 2 * np.pi * f
    z = 20 + 1000 / (1 + 1j * w * 1e-5) + 3000 / (1 + 1j * w * 1e-2)
    result = drt(f, z)
    fig = drt_plot(result.tau_s, result.gamma_ohm, peaks=result.peaks)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert labels(fig) == ["τ (s)", "γ (kΩ)"]  # γ peaks above 3 kΩ: kilo-ohm ticks
    marks = next(line for line in ax.get_lines() if line.get_label() == "peaks")
    np.testing.assert_allclose(marks.get_xdata(), [p.tau_s for p in result.peaks])
    assert len(result.peaks) == 2
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["1 kΩ", "3 kΩ"]  # the areas are the two resistances, 3 digits
    out = save_figure(fig, tmp_path / "drt.png", dpi=120)
    assert out.read_bytes().startswith(PNG)
    # bare τ positions work too (heights interpolated on γ)
    fig2 = drt_plot(result.tau_s, result.gamma_ohm, peaks=[1e-5, 1e-2])
    marks2 = next(line for line in fig2.axes[0].get_lines() if line.get_label() == "peaks")
    assert np.all(marks2.get_ydata() > 0) and not fig2.axes[0].texts


def test_arrhenius_legend_does_not_cover_the_points():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from eis_pipeline.report.figures import arrhenius_plot

    t = np.array([253.15, 273.15, 298.15, 313.15, 333.15, 353.15])
    sigma = {c: 1e3 / t * np.exp(-ea / (8.617333262e-5 * t))
             for c, ea in [("bulk", 0.34), ("grain_boundary", 0.40), ("total", 0.36)]}
    fig = arrhenius_plot(t, sigma, title="s")
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    legend_box = ax.get_legend().get_window_extent()
    assert legend_box.x0 >= ax.get_window_extent().x1   # beside the axes, not over the data
    assert ax.get_window_extent().width > 0.45 * fig.bbox.width   # axes not squeezed


def test_fitted_arcs_from_preset_roles() -> None:
    """Two-arc preset: both arcs, no series R; intercept preset: the gb arc after R_bulk."""
    from eis_pipeline.circuits import PRESETS
    from eis_pipeline.report.plots import fitted_arcs

    f = log_frequencies(1e6, 1, 10)
    two = {"R1": 100.0, "CPE1_0": 1e-10, "CPE1_1": 0.9, "R2": 300.0, "CPE2_0": 1e-8,
           "CPE2_1": 0.8, "CPE3_0": 1e-6, "CPE3_1": 0.85}
    arcs, series = fitted_arcs(f, two, PRESETS["bulk-gb-electrode"].roles)
    assert arcs is not None and list(arcs) == ["bulk", "grain boundary"] and series == 0.0
    np.testing.assert_allclose(arcs["grain boundary"], rq_impedance(f, 300.0, 1e-8, 0.8))
    intercept = {"L0": 1e-7, "R1": 42.0, "R2": 300.0, "CPE2_0": 1e-8, "CPE2_1": 0.8,
                 "CPE3_0": 1e-6, "CPE3_1": 0.85}
    arcs, series = fitted_arcs(f, intercept, PRESETS["hf-intercept-gb-electrode"].roles)
    assert arcs is not None and list(arcs) == ["grain boundary"] and series == 42.0
    assert fitted_arcs(f, {"R0": 1.0}, {}) == (None, 0.0)
    # an R‖C arc of a custom circuit: Z = R / (1 + jωRC), the closed form
    arcs, _ = fitted_arcs(f, {"R0": 50.0, "C0": 1e-9},
                          {"bulk": {"resistance": "R0", "capacitor": "C0"}})
    assert arcs is not None
    np.testing.assert_allclose(arcs["bulk"], 50.0 / (1 + 2j * np.pi * f * 50.0 * 1e-9))


def test_drt_gamma_axis_is_logarithmic() -> None:
    from eis_pipeline.report.figures import drt_plot

    tau = np.logspace(-8, 0, 80)
    # a small bulk peak beside an electrode tail 300 times taller
    gamma = np.exp(-((np.log(tau / 1e-7)) ** 2)) + 300 * np.exp(-(np.log(tau) ** 2))
    ax = drt_plot(tau, gamma).axes[0]
    assert ax.get_yscale() == "log"
    low, high = ax.get_ylim()
    assert low < 0.1 and high > 300           # both peaks inside the view (ohm)


def test_kk_panel_draws_the_hard_limit_and_verdict() -> None:
    from eis_pipeline.report.figures import kk_residual_plot

    f = np.logspace(6, 0, 40)
    residual = np.full(f.size, 0.03)              # 3 %: above the 1 % band, below 5 %
    fig = kk_residual_plot(f, residual, -residual, threshold=0.01, hard_limit=0.05,
                           verdict="residuals above the threshold but unstructured (z = 0.1)")
    ax = fig.axes[0]
    assert ax.get_ylim()[1] >= 5.0                # the hard limit is in view
    labels = ax.get_legend_handles_labels()[1]
    assert "±5 % hard limit" in labels
    assert any("unstructured" in t.get_text() for t in ax.texts)


def test_series_figures_draw_the_global_laws(tmp_path: Path, pellet: PelletModel) -> None:
    """The dashed global lines are the fitted laws (σT = σ₀ exp(-E_a/k_B T)), total the
    series of the two; the σ'(f) panel shows each σ_dc as a bar over its fit window."""
    from eis_pipeline.physics.dielectric import conductivity_spectra
    from eis_pipeline.report.figures import arrhenius_series_plot, dielectric_plot
    from eis_pipeline.testing.simulate import log_frequencies, simulate_spectrum

    t = np.array([253.15, 273.15, 298.15, 313.15, 333.15])
    comps = ["bulk", "grain_boundary", "total"]
    laws = [pellet.bulk, pellet.grain_boundary]
    glob = xr.Dataset(
        {"activation_energy": ("component", [law.activation_energy_eV for law in laws] + [0.4]),
         "activation_energy_stderr": ("component", [0.001, 0.002, 0.003]),
         "prefactor": ("component", [law.prefactor_S_K_cm for law in laws] + [np.nan])},
        coords={"component": comps, "temperature": ("spectrum", t)}, attrs={"form": "sigma_T"})
    sigma = {"bulk": laws[0].conductivity(t), "grain_boundary": laws[1].conductivity(t)}
    sigma["total"] = 1 / (1 / sigma["bulk"] + 1 / sigma["grain_boundary"])
    fig = arrhenius_series_plot(t, sigma, glob, title="s")
    ax = fig.axes[0]
    total = next(line for line in ax.get_lines() if "global total" in str(line.get_label()))
    tt = 1000 / np.asarray(total.get_xdata())
    expected = 1 / (1 / laws[0].conductivity(tt) + 1 / laws[1].conductivity(tt)) * tt
    np.testing.assert_allclose(np.asarray(total.get_ydata()), expected, rtol=1e-9)
    save_figure(fig, tmp_path / "global.png", dpi=80)
    spectra = [simulate_spectrum(pellet, tk, log_frequencies(1e6, 1.0, 5), noise=0.0)
               for tk in t]
    mf = conductivity_spectra(spectra, pellet.cell_constant_per_cm,
                              circuit_sigma_S_cm=sigma["total"])
    fig = dielectric_plot(mf, title="s")
    assert fig.axes[0].get_ylabel() == "σ' (S cm$^{-1}$)" and fig.axes[1].get_ylabel() == "M''"
    save_figure(fig, tmp_path / "dielectric.png", dpi=80)


def _gamry_with_junk(pellet: PelletModel) -> tuple[np.ndarray, np.ndarray]:
    """A kΩ pellet spectrum whose three lowest frequencies are junk at ±200 MΩ."""
    f = log_frequencies(1e6, 1, 10)
    p = pellet.parameters(298.15)
    z = (rq_impedance(f, p["R1"], p["CPE1_0"], p["CPE1_1"])
         + rq_impedance(f, p["R2"], p["CPE2_0"], p["CPE2_1"]))
    z[-3:] = [2e8 - 1e8j, -2e8 + 5e7j, 1.5e8 + 2e8j]
    return f, z


def test_nyquist_limits_ignore_outliers_and_mark_them(pellet: PelletModel) -> None:
    """Junk low-frequency points at ±200 MΩ leave the kΩ arcs filling the view; they are
    drawn on the edge and counted in the legend."""
    from eis_pipeline.report.figures import nyquist_outliers

    f, z = _gamry_with_junk(pellet)
    assert nyquist_outliers(z).sum() == 3 and nyquist_outliers(z)[-3:].all()
    clean = z[:-3]
    assert not nyquist_outliers(clean).any()
    ax = nyquist((f, z)).axes[0]
    assert ax.get_xlabel() == "Z′ (kΩ)"
    x1 = ax.get_xlim()[1] * 1e3
    assert np.max(clean.real) < x1 < 1.2 * np.max(clean.real)
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert "3 off scale" in legend
    marks = [li for li in ax.get_lines() if li.get_color() == "C3" and li.get_linestyle() == "None"]
    x_lo, x_hi = ax.get_xlim()
    y_lo, y_hi = ax.get_ylim()
    for line in marks:   # on the frame, not beyond it
        assert np.all((line.get_xdata() >= x_lo) & (line.get_xdata() <= x_hi))
        assert np.all((line.get_ydata() >= y_lo) & (line.get_ydata() <= y_hi))
    assert sum(len(li.get_xdata()) for li in marks) == 3
    # an electrode spike is a continuous run, not outliers
    assert not nyquist_outliers(pellet.impedance(f, 298.15)).any()


def test_small_bulk_arc_gets_a_high_frequency_inset() -> None:
    """A 150 Ω bulk arc beside a 6 kΩ grain boundary and an electrode: an inset shows the
    bulk arc in its own unit; a spectrum of comparable arcs gets none. Decade labels overlap
    neither each other nor the inset."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    f = log_frequencies(7e6, 0.1, 10)
    zb = rq_impedance(f, 150, 5e-10, 1.0)
    zg = rq_impedance(f, 6000, 2e-8, 0.9)
    z = zb + zg + 1 / ((2j * np.pi * f) ** 0.85 * 3e-6)
    for fig in (nyquist((f, z), fit=z, arcs={"bulk": zb, "grain boundary": zg}),
                nyquist((f, z))):
        ax = fig.axes[0]
        assert len(ax.child_axes) == 1
        box = ax.child_axes[0]
        assert box.get_xlim()[1] < 250           # in its own unit, Ω
        assert box.get_title().endswith("(Ω)") and box.get_aspect() == 1.0
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        renderer = canvas.get_renderer()
        inset_box = box.get_tightbbox(renderer)
        labels = [t.get_window_extent(renderer) for t in ax.texts if t.get_text().endswith("Hz")]
        assert labels
        for i, b in enumerate(labels):
            assert not b.overlaps(inset_box)
            assert not any(b.overlaps(o) for o in labels[i + 1:])
    comparable = rq_impedance(f, 3000, 2e-11, 0.95) + rq_impedance(f, 2000, 5e-9, 0.85)
    assert not nyquist((f, comparable)).axes[0].child_axes


def test_arrhenius_plot_marks_sigma_at_the_reference_temperature(pellet: PelletModel) -> None:
    """σ_ref of each component at (1000/T_ref, σ_ref·T_ref) with its error bar; open and
    labelled "extrapolated" when T_ref is outside the measured range, as in the CSV."""
    from eis_pipeline.physics.arrhenius import arrhenius

    t = np.array([253.15, 273.15, 298.15, 313.15, 333.15, 353.15])
    sigma = {"bulk": pellet.bulk.conductivity(t),
             "grain_boundary": pellet.grain_boundary.conductivity(t)}
    for t_ref, extrapolated in ((313.15, False), (393.15, True)):
        fit = xr.concat([arrhenius(t, s, reference_temperature_K=t_ref)
                         for s in sigma.values()], dim="component", combine_attrs="override")
        fit = fit.assign_coords(component=list(sigma))
        ax = arrhenius_plot(t, sigma, fit).axes[0]
        texts = [x.get_text() for x in ax.get_legend().get_texts()]
        for comp in ("bulk", "grain_boundary"):
            ref = float(fit["sigma_ref"].sel(component=comp))
            assert ref == pytest.approx(float(pellet.bulk.conductivity(t_ref)
                                              if comp == "bulk" else
                                              pellet.grain_boundary.conductivity(t_ref)),
                                        rel=1e-6)
            label = f"σ({t_ref - 273.15:g} °C) = {ref:.2e} S/cm" + (
                " (extrapolated)" if extrapolated else "")
            assert label in texts
            mark = next(c for c in ax.containers if c.get_label() == label).lines[0]
            assert mark.get_xdata()[0] == pytest.approx(1000 / t_ref)
            assert mark.get_ydata()[0] == pytest.approx(ref * t_ref)
            assert (mark.get_markerfacecolor() == "none") == extrapolated


def test_a_reference_far_outside_the_range_stays_off_the_axes(pellet: PelletModel) -> None:
    """A 140-200 °C series reported at 25 °C: the value is in the legend ("off the axes"),
    the axes keep to the measured range instead of squeezing the points into a corner."""
    from eis_pipeline.physics.arrhenius import arrhenius

    t = np.linspace(413.15, 473.15, 7)
    sigma = pellet.bulk.conductivity(t)
    ax = arrhenius_plot(t, {"bulk": sigma}, arrhenius(t, sigma).expand_dims(
        component=["bulk"])).axes[0]
    texts = [x.get_text() for x in ax.get_legend().get_texts()]
    assert any(x.startswith("σ(25 °C) = ") and x.endswith("(extrapolated), off the axes")
               for x in texts)
    assert ax.get_xlim()[1] < 1000 / 373.15   # nowhere near 1000 / 298.15 K


def test_arrhenius_plot_draws_the_curved_vtf_law() -> None:
    """A VTF fit is drawn as σ = A T^(-1/2) exp(-B/(k_B (T - T₀))) (curved against 1000/T)
    over σ itself, with B and T₀ in the legend."""
    from eis_pipeline.physics.arrhenius import vtf

    t = np.linspace(250.0, 380.0, 8)
    a, b, t0 = 30.0, 0.07, 180.0
    sigma = a / np.sqrt(t) * np.exp(-b / (BOLTZMANN_EV_K * (t - t0)))
    fit = vtf(t, sigma)
    ax = arrhenius_plot(t, sigma, fit).axes[0]
    assert ax.get_ylabel() == "σ (S cm$^{-1}$)"
    curve = next(line for line in ax.get_lines() if "VTF" in str(line.get_label()))
    assert "B = 0.07" in str(curve.get_label()) and "T$_0$ = 180 K" in str(curve.get_label())
    tt = 1000 / np.asarray(curve.get_xdata())
    np.testing.assert_allclose(curve.get_ydata(),
                               a / np.sqrt(tt) * np.exp(-b / (BOLTZMANN_EV_K * (tt - t0))),
                               rtol=1e-5)
    slopes = np.diff(np.log(curve.get_ydata())) / np.diff(curve.get_xdata())
    assert slopes.max() - slopes.min() > 0.1 * abs(slopes.mean())     # visibly curved


def test_figure_files_are_the_bytes_of_a_plain_tight_savefig(pellet: PelletModel) -> None:
    """figure_bytes skips savefig's rendering-disabled pass (it lays the figure out and
    measures the crop itself): the file must be what savefig alone writes, byte for byte,
    for a figure with a layout engine, a secondary axis, mathtext, an inset and decade
    labels placed from a layout at another resolution."""
    import io

    from eis_pipeline.report import figures

    t = np.array([253.15, 273.15, 298.15, 313.15, 333.15, 353.15])
    f = log_frequencies(1e6, 0.1, 8)
    builds = {"arrhenius": lambda: arrhenius_plot(t, {"bulk": pellet.bulk.conductivity(t)},
                                                  arrhenius_fit(), title="s"),
              "nyquist": lambda: nyquist((f, pellet.impedance(f, 298.15)), title="n"),
              "bode": lambda: bode((f, pellet.impedance(f, 298.15)))}
    def plain(fig: Figure, dpi: int) -> bytes:
        buffer = io.BytesIO()
        with figures._style():
            fig.savefig(buffer, format="png", dpi=dpi)
        return buffer.getvalue()

    for name, build in builds.items():
        for dpi in (120, 300):
            # saved twice: the second save starts from the first one's layout (matplotlib's
            # own second file differs by a pixel), and must be savefig's second file too
            fig, other = build(), build()
            assert [figures.figure_bytes(fig, "png", dpi=dpi) for _ in range(2)] == [
                plain(other, dpi) for _ in range(2)], (name, dpi)


def _parser() -> object:
    from eis_pipeline.report.figures import _Canvas

    return _Canvas(Figure()).get_renderer().mathtext_parser


def _parser_id() -> int:
    return id(_parser())


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no fork on this platform")
def test_a_forked_worker_starts_its_own_mathtext_parser() -> None:
    """The renderers share one mathtext parser, whose cached parses hold this process's
    FreeType fonts; forked workers that reused it corrupted glyphs when drawing at once
    ("FT_Load_Glyph ... invalid outline"). A child must not inherit it."""
    import multiprocessing

    kept = _parser()   # alive in the child too: its address cannot be reused there
    parent = id(kept)
    assert _parser_id() == parent   # shared within a process
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply(_parser_id)
    assert child != parent
