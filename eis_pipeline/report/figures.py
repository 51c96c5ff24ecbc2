"""Publication-quality figures: Nyquist, Bode, Arrhenius, campaign trends, KK residuals, DRT.

The only module that imports matplotlib. Figures are built with the object API
(:class:`matplotlib.figure.Figure`, rendered by Agg), never through pyplot, so plotting is
thread-safe, opens no window and leaves global state alone; the house style is applied with
``matplotlib.rc_context`` around each figure.

Inputs are plain arrays or the datasets of docs/contracts.md:

- a spectrum is a canonical spectrum dataset (``frequency``, ``impedance``) or a
  ``(frequency_Hz, impedance_ohm)`` pair;
- Arrhenius fits are a dataset with ``activation_energy`` (eV) and ``prefactor`` (σ₀, in
  S·K/cm for the ``sigma_T`` form, S/cm for ``sigma``), optionally along ``component`` and
  ``segment`` dims with ``temperature_min``/``temperature_max`` (K) bounding each segment,
  and the form in ``attrs["form"]``;
- a campaign summary is a dataset along ``sample`` with the synthesis parameter as a variable
  or coordinate and ``sigma_25C`` (``sample``, ``component``) in S/cm (optionally
  ``sigma_25C_stderr``), or one ``sigma_25C_<component>`` variable per component.

Every function returns the :class:`~matplotlib.figure.Figure`; :func:`save_figure` writes it
atomically.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import xarray as xr
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike, NDArray

from eis_pipeline.conventions import BOLTZMANN_EV_PER_K, ROOM_TEMPERATURE_K, ZERO_CELSIUS_K
from eis_pipeline.io.atomic import replacing

#: Alias of :data:`eis_pipeline.conventions.BOLTZMANN_EV_PER_K` (PHYSICS.md section 6).
BOLTZMANN_EV_K = BOLTZMANN_EV_PER_K

__all__ = ["arc_view_limit", "arrhenius_plot", "arrhenius_series_plot", "axis_label", "bode",
           "dielectric_plot", "drt_plot", "kk_residual_plot", "nyquist", "save_figure",
           "trend_plot"]


#: House style: readable at single-column width (8.5 cm), vector-friendly fonts.
STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.labelsize": 9,
    "axes.titlesize": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.3,
    "lines.markersize": 4,
    "axes.prop_cycle": cycler(color=["#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                         "#E69F00", "#56B4E9", "#000000"]),  # Okabe-Ito
    "savefig.bbox": "tight",
    "pdf.fonttype": 42,
    "svg.fonttype": "none",
    "mathtext.default": "regular",
}

SpectrumLike = xr.Dataset | tuple[ArrayLike, ArrayLike]


#: rcParams are global: two threads in one style block (a dask worker's threads drawing
#: their samples' figures) would restore each other's settings under each other.
_STYLE_LOCK = threading.RLock()


@contextlib.contextmanager
def _style() -> Iterator[None]:
    with _STYLE_LOCK, mpl.rc_context(STYLE):  # type: ignore[arg-type]
        yield


def _new_figure(**kwargs: Any) -> Figure:
    """A :class:`Figure` on the canvas :func:`_save` draws with (:data:`_Canvas`)."""
    fig = Figure(**kwargs)
    _Canvas(fig)
    return fig


def _figure(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        fig = ax.get_figure()
        if not isinstance(fig, Figure):
            raise TypeError("ax must belong to a matplotlib Figure")
        return fig, ax
    fig = _new_figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _as_spectrum(spectrum: SpectrumLike) -> tuple[NDArray[np.float64], NDArray[np.complex128]]:
    if isinstance(spectrum, xr.Dataset):
        return (np.asarray(spectrum["frequency"].values, dtype=np.float64),
                np.asarray(spectrum["impedance"].values, dtype=np.complex128))
    f, z = spectrum
    return np.asarray(f, dtype=np.float64), np.asarray(z, dtype=np.complex128)


def _as_fit(fit: Any, spectrum: SpectrumLike) -> tuple[NDArray[np.float64],
                                                       NDArray[np.complex128]] | None:
    """A fit as (frequency, Z): a complex array on the data's frequencies, a (f, Z) pair, or a
    dataset with ``impedance_fit``."""
    if fit is None:
        return None
    if isinstance(fit, xr.Dataset):
        return (np.asarray(fit["frequency"].values, dtype=np.float64),
                np.asarray(fit["impedance_fit"].values, dtype=np.complex128))
    if isinstance(fit, tuple):
        return np.asarray(fit[0], dtype=np.float64), np.asarray(fit[1], dtype=np.complex128)
    return _as_spectrum(spectrum)[0], np.asarray(fit, dtype=np.complex128)


def _ohm_scale(values: NDArray[np.float64]) -> tuple[float, str]:
    """A scale and unit label so impedance ticks read 1-1000."""
    peak = float(np.nanmax(np.abs(values))) if values.size else 1.0
    for factor, unit in ((1e9, "GΩ"), (1e6, "MΩ"), (1e3, "kΩ")):
        if peak >= 3 * factor:
            return factor, unit
    return 1.0, "Ω"


def nyquist(spectrum: SpectrumLike, fit: Any = None,
            arcs: Mapping[str, ArrayLike] | None = None, ax: Axes | None = None, *,
            label: str = "data", title: str | None = None,
            annotate_decades: bool = True, zoom: bool = True, robust: bool = True,
            inset: bool = True, series_resistance: float = 0.0) -> Figure:
    """Nyquist plot: -Z'' upward against Z', equal aspect.

    The view is set by the data, not by its worst point: isolated outliers (see
    :func:`nyquist_outliers`) do not widen it, a dwarfing electrode spike is cut at its foot
    (see :func:`arc_view_limit`), and every data point outside the view is drawn as a red
    triangle at the edge it left through, counted in the legend ("3 off scale"). When the
    high-frequency arc spans less than a tenth of the view, an inset shows it (see
    :func:`high_frequency_extent`), placed in the corner holding the fewest points. The legend
    sits beside the axes, where it hides nothing.

    Parameters
    ----------
    spectrum : Dataset or (frequency, impedance)
        Measured data (Hz, ohm, physical sign).
    fit : array of complex, (frequency, impedance) or Dataset, optional
        Fitted impedance; an array is taken on the data's frequencies, a dataset must carry
        ``impedance_fit`` (a spectrum dataset with its fit, as in the results file).
    arcs : mapping of str to array of complex, optional
        Each arc's own impedance (e.g. ``{"bulk": Z_b, "grain boundary": Z_gb}``), in series
        order. Each is drawn shifted right by the resistances of the arcs before it (the
        largest real part of each), so the arcs sit under the data they explain.
    series_resistance : float
        Ohm in series before the first arc (a bulk resistance read at the high-frequency
        intercept): the arcs start there.
    ax : Axes, optional
        Draw into this axes instead of a new figure.
    label, title : str
        Legend entry of the data; axes title.
    annotate_decades : bool
        Label the data point nearest each decade of frequency (labels never overlap each
        other, the legend or the inset).
    zoom : bool
        When a blocking-electrode spike dwarfs the arcs, show the arcs and the foot of the
        spike rather than the whole spike.
    robust : bool
        Keep isolated outliers out of the axis limits (they are still drawn, at the edge).
    inset : bool
        Add the high-frequency inset when that arc is small.
    """
    f, z = _as_spectrum(spectrum)
    fit_fz = _as_fit(fit, spectrum)
    finite = np.isfinite(z) & np.isfinite(f)
    bulk = finite & ~nyquist_outliers(z) if robust else finite
    offset = float(series_resistance) if np.isfinite(series_resistance) else 0.0
    shifted = []   # (name, colour, Z shifted to where the arc sits)
    bulk_span = None   # Z' from where the bulk arc starts to where it ends (its R)
    for i, (name, arc) in enumerate((arcs or {}).items()):
        za = np.asarray(arc, dtype=np.complex128)
        # the same colour for a role in every plot (grain boundary alone stays pink)
        shifted.append((name, _ARC_COLORS.get(name, f"C{(i + 2) % 7}"), za + offset))
        width = float(np.nanmax(za.real))
        if name == "bulk":
            bulk_span = (offset, offset + width)
        offset += width
    with _style():
        own_figure = ax is None
        fig, ax = _figure(ax, (3.5, 3.2))
        limit = arc_view_limit(f[bulk], z[bulk]) if zoom else None
        view = _nyquist_view(z[bulk], limit)
        scale, unit = _ohm_scale(np.array([max(abs(view[0]), view[1], view[3])]))
        _draw_nyquist(ax, z, fit_fz, shifted, scale, label)
        ax.set_xlim(view[0] / scale, view[1] / scale)
        ax.set_ylim(view[2] / scale, view[3] / scale)
        ax.set_aspect("equal", adjustable="box")
        _mark_off_scale(ax, z[finite], view, scale)
        ax.set_xlabel(f"Z′ ({unit})")
        ax.set_ylabel(f"−Z″ ({unit})")
        if title:
            ax.set_title(title)
        width = view[1] - view[0]
        hf = bulk_span or high_frequency_extent(f[bulk], z[bulk])
        if bulk_span is None and (hf is None or hf[1] - hf[0] >= 0.1 * width):
            # no small arc closes in the data: the top decade, when it is crowded in a corner
            top = _top_decade_extent(f[bulk], z[bulk])
            hf = top if top is not None and top[1] - top[0] < 0.03 * width else hf
        zoomed, inner_scale = None, 1.0
        # (an inset needs data to show: a fitted arc above the measured window is not one)
        if (inset and hf is not None and hf[1] - hf[0] < 0.1 * width
                and _inset_view(z[bulk], hf)[4] >= 3):
            inner_scale = _ohm_scale(np.array([hf[1]]))[0]   # the inset's own unit
            corner = _corners_by_emptiness(z[bulk], fit_fz, view)[0]
            zoomed = _high_frequency_inset(ax, z, fit_fz, shifted, hf, corner, scale)
        # beside the axes, as in every Nyquist plot: inside, it hides points or the inset
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
        if own_figure:
            fig.set_size_inches(4.8, 3.2)
        if annotate_decades and f[bulk].size > 2:
            _layout(fig)
            avoid = [_extent(ax.get_legend())]
            if zoomed is not None:
                avoid += [zoomed.get_tightbbox(), _extent(ax.patches[-1])]
                _annotate_decades(zoomed, f[bulk], z[bulk].real / inner_scale,
                                  -z[bulk].imag / inner_scale, fontsize=5.0)
            _annotate_decades(ax, f[bulk], z[bulk].real / scale, -z[bulk].imag / scale,
                              avoid=avoid)
    return fig


def _draw_nyquist(ax: Axes, z: NDArray[np.complex128],
                  fit_fz: tuple[NDArray[np.float64], NDArray[np.complex128]] | None,
                  shifted: list[tuple[str, str, NDArray[np.complex128]]], scale: float,
                  label: str | None) -> None:
    """Arcs (shaded, dashed), data (open circles) and fit (line) of a Nyquist plot."""
    for name, color, za in shifted:
        ax.fill_between(za.real / scale, 0, -za.imag / scale, color=color, alpha=0.12,
                        linewidth=0)
        ax.plot(za.real / scale, -za.imag / scale, "--", color=color, linewidth=1.0,
                label=name if label else None)
    ax.plot(z.real / scale, -z.imag / scale, "o", mfc="none", mew=0.9, color="C0",
            label=label)
    if fit_fz is not None:
        zf = fit_fz[1][np.argsort(fit_fz[0])]
        ax.plot(zf.real / scale, -zf.imag / scale, "-", color="C1",
                label="fit" if label else None)
    ax.axhline(0, color="0.6", linewidth=0.6, zorder=0)


def nyquist_outliers(impedance: ArrayLike, gap: float = 5.0) -> NDArray[np.bool_]:
    """Isolated points of a Nyquist plot: those set apart from the bulk by a gap.

    Each point's distance from the median point is sorted; walking up the largest quarter,
    the first step by more than ``gap`` times (and the points beyond it) marks the outliers.
    A continuous run such as an electrode spike or a large low-frequency arc rises by small
    steps and stays; junk points hundreds of times further out (a failed low-frequency
    point at ±200 MΩ beside kΩ arcs) are separated by a gap and go. Non-finite points are
    not outliers (they are not drawn at all).
    """
    z = np.asarray(impedance, dtype=np.complex128)
    out = np.zeros(z.shape, dtype=bool)
    ok = np.isfinite(z)
    if ok.sum() < 5:
        return out
    centre = complex(np.median(z[ok].real), np.median(z[ok].imag))
    d = np.abs(z[ok] - centre)
    s = np.sort(d)
    start = int(np.ceil(0.75 * s.size)) - 1
    floor = max(float(s[s.size // 2]), 1e-300)   # steps from below the median do not count
    ratio = s[start + 1:] / np.maximum(s[start:-1], floor)
    jumps = np.flatnonzero(ratio > gap)
    if jumps.size:
        out[np.flatnonzero(ok)] = d > s[start + int(jumps[0])]
    return out


def _nyquist_view(z: NDArray[np.complex128],
                  limit: float | None) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) in ohm: the data's extent (up to the spike cut ``limit``), the origin
    included, a margin around, the height kept between 0.35 and 1.2 times the width."""
    x, y = z.real, -z.imag
    if not x.size:
        return 0.0, 1.0, -0.05, 0.85
    if limit is not None:
        x0 = min(0.0, float(np.min(x)))
        span = limit - x0
        shown = x <= limit
        # the inductive tail shown, but at most 40 % of the height given to it
        y0 = max(min(-0.05 * limit, 1.1 * float(np.min(y[shown]))), -0.4 * span)
        return x0, limit, y0, y0 + 0.85 * span
    x0, x1 = min(0.0, float(np.min(x))), float(np.max(x))
    y0, y1 = min(0.0, float(np.min(y))), max(0.0, float(np.max(y)))
    width = (x1 - x0) or max(abs(x1), 1.0)
    x0, x1 = x0 - 0.04 * width, x1 + 0.04 * width
    y0, y1 = y0 - 0.05 * width, y1 + 0.05 * width
    width = x1 - x0
    if y1 - y0 < 0.35 * width:
        y1 = y0 + 0.35 * width
    elif y1 - y0 > 1.2 * width:   # a tall spike: more room to the right rather than squeezed
        x1 = x0 + (y1 - y0) / 1.2
    return x0, x1, y0, y1


def _mark_off_scale(ax: Axes, z: NDArray[np.complex128],
                    view: tuple[float, float, float, float], scale: float) -> int:
    """Draw each point outside ``view`` as a red triangle on the edge it left through; the
    count goes into the legend. Returns the count."""
    x0, x1, y0, y1 = view
    x, y = z.real, -z.imag
    outside = (x < x0) | (x > x1) | (y < y0) | (y > y1)
    if not outside.any():
        return 0
    # the edge a point crossed is the one it exceeds most, relative to the view's size
    over = np.column_stack([(x0 - x) / (x1 - x0), (x - x1) / (x1 - x0),
                            (y0 - y) / (y1 - y0), (y - y1) / (y1 - y0)])[outside]
    edge = np.argmax(over, axis=1)
    inset = 0.012   # just inside the frame, so the marker is not clipped in half
    cx = np.clip(x[outside], x0, x1)
    cy = np.clip(y[outside], y0, y1)
    dx, dy = inset * (x1 - x0), inset * (y1 - y0)
    cx = np.where(edge == 0, x0 + dx, np.where(edge == 1, x1 - dx, cx))
    cy = np.where(edge == 2, y0 + dy, np.where(edge == 3, y1 - dy, cy))
    n = int(outside.sum())
    for k, marker in enumerate("<>v^"):
        pick = edge == k
        if pick.any():
            ax.plot(cx[pick] / scale, cy[pick] / scale, marker, color="C3", ms=4,
                    clip_on=False, zorder=4,
                    label=f"{n} off scale" if k == int(edge[0]) else None)
    return n


def high_frequency_extent(frequency: ArrayLike, impedance: ArrayLike,
                          bulk_arc: ArrayLike | None = None) -> tuple[float, float] | None:
    """Z' range (ohm) of the high-frequency arc, or None when the data do not close one.

    With a fitted bulk arc (its impedance, already shifted to where it sits), its own Z'
    range. Otherwise from the data: walking down from the highest frequency, -Z'' rises to
    the arc's top; the arc ends at the lowest -Z'' after it has fallen below half that top
    and before it rises above half again (into the next arc or the electrode spike). When
    no arc closes (a bulk arc merging into the next), the Z' range of the highest decade of
    frequency.
    """
    if bulk_arc is not None:
        za = np.asarray(bulk_arc, dtype=np.complex128)
        if np.isfinite(za).any():
            return float(np.nanmin(za.real)), float(np.nanmax(za.real))
    f = np.asarray(frequency, dtype=np.float64)
    z = np.asarray(impedance, dtype=np.complex128)
    if f.size < 5:
        return None
    order = np.argsort(-f)                     # high -> low frequency
    x, y = z.real[order], -z.imag[order]
    top = np.maximum.accumulate(y)
    below = np.flatnonzero((y < 0.5 * top) & (top > 0))
    if not below.size:
        return _top_decade_extent(f, z)
    j = int(below[0])
    again = np.flatnonzero(y[j:] >= 0.5 * top[j])
    end = j + (int(again[0]) if again.size else y.size - j)
    valley = j + int(np.argmin(y[j:end]))
    return float(np.min(x[:valley + 1])), float(x[valley])


def _top_decade_extent(f: NDArray[np.float64],
                       z: NDArray[np.complex128]) -> tuple[float, float] | None:
    """Z' range (ohm) of the points in the highest decade of frequency."""
    if not f.size:
        return None
    x = z.real[f >= np.max(f) / 10]
    return float(np.min(x)), float(np.max(x))


#: Inset boxes (axes fraction x0, y0 of a 0.4 x 0.4 box, room left and below for its tick
#: labels) by corner name.
_CORNERS = {"upper left": (0.14, 0.56), "upper right": (0.57, 0.56),
            "lower right": (0.57, 0.14), "upper center": (0.36, 0.56)}
_ANCHORS = {"upper left": "NW", "upper right": "NE", "lower right": "SE", "upper center": "N"}


def _corners_by_emptiness(z: NDArray[np.complex128],
                          fit_fz: tuple[NDArray[np.float64], NDArray[np.complex128]] | None,
                          view: tuple[float, float, float, float]) -> list[str]:
    """The corners of :data:`_CORNERS`, those holding the fewest data and fit points (over
    the inset and its tick labels) first."""
    points = np.concatenate([z] + ([fit_fz[1]] if fit_fz is not None else []))
    u = (points.real - view[0]) / (view[1] - view[0])
    v = (-points.imag - view[2]) / (view[3] - view[2])
    counts = {name: int(np.sum((u >= x0 - 0.13) & (u <= x0 + 0.4) & (v >= y0 - 0.13)
                               & (v <= y0 + 0.4)))
              for name, (x0, y0) in _CORNERS.items()}
    return sorted(_CORNERS, key=lambda name: counts[name])   # stable: upper left on ties


def _inset_view(z: NDArray[np.complex128],
                hf: tuple[float, float]) -> tuple[float, float, float, float, int]:
    """(x0, x1, y0, y1) in ohm of an inset on the Z' range ``hf``, and how many data points
    it shows."""
    width = max(hf[1] - hf[0], 1e-12 * max(abs(hf[1]), 1.0))
    x0, x1 = hf[0] - 0.15 * width, hf[1] + 0.35 * width
    x, y = z.real, -z.imag
    seen = np.isfinite(z) & (x >= x0) & (x <= x1)
    height = 1.1 * float(np.max(y[seen])) if seen.any() else 0.6 * width
    y0 = -0.1 * width
    y1 = min(max(0.6 * width, height), (x1 - x0) + y0)
    return x0, x1, y0, y1, int(np.sum(seen & (y >= y0) & (y <= y1)))


def _high_frequency_inset(ax: Axes, z: NDArray[np.complex128],
                          fit_fz: tuple[NDArray[np.float64], NDArray[np.complex128]] | None,
                          shifted: list[tuple[str, str, NDArray[np.complex128]]],
                          hf: tuple[float, float], corner: str, main_scale: float) -> Axes:
    """An inset on the high-frequency arc (Z' range ``hf``, ohm) in ``corner``, in its own
    unit, and a frame on the main axes around what it shows."""
    from matplotlib.patches import Rectangle

    x0, x1, y0, y1, _ = _inset_view(z, hf)
    scale, unit = _ohm_scale(np.array([hf[1]]))
    box = ax.inset_axes((*_CORNERS[corner], 0.4, 0.4))
    _draw_nyquist(box, z, fit_fz, shifted, scale, None)
    box.set_xlim(x0 / scale, x1 / scale)
    box.set_ylim(y0 / scale, y1 / scale)
    box.set_aspect("equal", adjustable="box")
    box.set_anchor(_ANCHORS[corner])
    box.tick_params(labelsize=6, length=2, pad=1.5)
    box.set_title(f"high frequency ({unit})", fontsize=6, pad=2)
    box.set_facecolor("white")
    main = main_scale
    ax.add_patch(Rectangle((x0 / main, y0 / main), (x1 - x0) / main, (y1 - y0) / main,
                           fill=False, edgecolor="0.45", linewidth=0.6, zorder=4))
    return box


def _layout(fig: Figure) -> None:
    """Place the axes where the saved file will have them (the layout engine, then each
    axes' aspect), so display positions can be compared before drawing."""
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
    for a in fig.axes:
        _place(a)
        for child in a.child_axes:
            _place(child)


def _place(ax: Any) -> None:
    """Apply ``ax``'s aspect in its final box (an inset's box comes from its locator, which
    matplotlib otherwise runs only while drawing)."""
    locator = ax.get_axes_locator()
    fig = ax.get_figure(root=True)
    ax.apply_aspect(locator(ax, fig._get_renderer()) if locator is not None
                    else None)


def _extent(artist: Any) -> Any:
    """Display-space bounding box of a legend or axes (None when there is none)."""
    return None if artist is None else artist.get_window_extent()


def _annotate_decades(ax: Axes, f: NDArray[np.float64], x: NDArray[np.float64],
                      y: NDArray[np.float64], fontsize: float = 6.0,
                      avoid: list[Any] | None = None) -> None:
    """Label the point nearest each decade of frequency, beside the curve.

    Each label sits off the curve along its normal (above it, or right of a steep run such
    as the electrode spike), on a light box so lines do not cross it; a label that would
    overlap one already placed or a box of ``avoid`` (display-space bounding boxes: the
    legend, an inset), or fall outside the axes, is left out, as is a point outside them.
    """
    _place(ax)   # the final axes box: display positions are then those of the file
    to_display = ax.transData.transform
    order = np.argsort(-f)
    f, pts = f[order], to_display(np.column_stack([x[order], y[order]]))
    box = ax.get_window_extent()
    px = fontsize / 72.0 * ax.figure.dpi   # the font size in pixels
    placed: list[tuple[float, float, float, float]] = [
        (b.x0, b.y0, b.x1, b.y1) for b in (avoid or []) if b is not None]
    lg = np.log10(f)
    for decade in range(int(np.ceil(lg.min() - 0.05)), int(np.floor(lg.max() + 0.05)) + 1):
        i = int(np.argmin(np.abs(lg - decade)))
        if (abs(lg[i] - decade) >= 0.05 or not np.all(np.isfinite(pts[i]))
                or not (box.x0 <= pts[i][0] <= box.x1 and box.y0 <= pts[i][1] <= box.y1)):
            continue
        t = pts[min(i + 1, len(pts) - 1)] - pts[max(i - 1, 0)]
        n = np.array([-t[1], t[0]]) / (np.hypot(*t) or 1.0)
        if abs(t[0]) < 0.3 * abs(t[1]):   # a steep run: to its right
            n = n if n[0] >= 0 else -n
        elif n[1] < 0:                    # otherwise above the curve
            n = -n
        text = f"$10^{{{decade}}}$ Hz"
        width, height = 0.55 * px * (len(str(decade)) + 5), 1.3 * px
        gap = 0.8 * px
        for side in (n, -n):   # the preferred side, else the other one
            cx, cy = pts[i] + side * (gap + 0.5 * np.hypot(width * side[0], height * side[1]))
            rect = (cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)
            inside = (rect[0] >= box.x0 and rect[2] <= box.x1 and rect[1] >= box.y0
                      and rect[3] <= box.y1)
            if inside and not any(rect[0] < q[2] and q[0] < rect[2] and rect[1] < q[3]
                                  and q[1] < rect[3] for q in placed):
                break
        else:
            continue
        placed.append(rect)
        # (an offset in points: it stays right when the file is saved at another dpi)
        offset = (np.array([cx, cy]) - pts[i]) * 72.0 / ax.figure.dpi
        ax.annotate(text, (x[order][i], y[order][i]), xytext=tuple(offset),
                    textcoords="offset points", ha="center", va="center", fontsize=fontsize,
                    color="0.3", zorder=5,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                          "alpha": 0.8})


#: Arc colours by role name, as :func:`nyquist` labels them.
_ARC_COLORS = {"bulk": "C2", "grain boundary": "C3"}


def arc_view_limit(frequency: ArrayLike, impedance: ArrayLike) -> float | None:
    """Upper Z' (ohm) of a view on the arcs, or None when the spectrum has no dominant spike.

    The spike of a blocking electrode is the low-frequency run of points along which -Z''
    changes faster than Z' (a line steeper than 45°). Walking from the lowest frequency up,
    the spike's foot is where two successive steps are no longer that steep. When the spike
    rises to more than three times the foot's Z', the view stops at 1.6 times that Z', so
    the arcs stay readable; otherwise (no spike, or arcs as large as the spike) None.
    """
    f = np.asarray(frequency, dtype=np.float64)
    z = np.asarray(impedance, dtype=np.complex128)
    if f.size < 5:
        return None
    order = np.argsort(f)                       # low -> high frequency
    x, d = z.real[order], -z.imag[order]
    steep = np.abs(np.diff(d)) > np.abs(np.diff(x))
    flat = np.flatnonzero(~steep[:-1] & ~steep[1:])
    foot = int(flat[0]) if flat.size else steep.size
    if foot < 2:
        return None
    foot_real = float(x[foot])
    if foot_real <= 0 or float(np.max(d)) < 3 * foot_real:
        return None
    return 1.6 * foot_real


def bode(spectrum: SpectrumLike, fit: Any = None, fig: Figure | None = None, *,
         title: str | None = None) -> Figure:
    """Bode plot: |Z| and phase against frequency, with a residual panel when a fit is given.

    Residuals are relative to the modulus, ``(Z - Z_fit) / |Z|`` in %, for Z' and Z''.
    """
    f, z = _as_spectrum(spectrum)
    fit_fz = _as_fit(fit, spectrum)
    with _style():
        rows = 3 if fit_fz is not None else 2
        if fig is None:
            fig = _new_figure(figsize=(3.5, 1.6 * rows + 0.6), layout="constrained")
        axes = fig.subplots(rows, 1, sharex=True,
                            gridspec_kw={"height_ratios": [2, 1.5, 1][:rows]})
        ax_mod, ax_ph = axes[0], axes[1]
        ax_mod.loglog(f, np.abs(z), "o", mfc="none", mew=0.9, color="C0", label="data")
        ax_ph.semilogx(f, -np.degrees(np.angle(z)), "o", mfc="none", mew=0.9, color="C0")
        if fit_fz is not None:
            order = np.argsort(fit_fz[0])
            ff, zf = fit_fz[0][order], fit_fz[1][order]
            ax_mod.loglog(ff, np.abs(zf), "-", color="C1", label="fit")
            ax_ph.semilogx(ff, -np.degrees(np.angle(zf)), "-", color="C1")
            ax_res = axes[2]
            z_at = np.interp(np.log(f), np.log(ff), zf.real) + 1j * np.interp(
                np.log(f), np.log(ff), zf.imag)
            rel = (z - z_at) / np.abs(z) * 100
            ax_res.semilogx(f, rel.real, "o", ms=3, color="C0", label="Z′")
            ax_res.semilogx(f, rel.imag, "s", ms=3, mfc="none", color="C3", label="Z″")
            ax_res.axhline(0, color="0.5", linewidth=0.6)
            ax_res.set_ylabel("residual (%)")
            ax_res.legend(loc="upper left", ncols=2, markerscale=1.5, handletextpad=0.2,
                          borderaxespad=0.2)
        ax_mod.set_ylabel("|Z| (Ω)")
        ax_ph.set_ylabel("−phase (°)")
        axes[-1].set_xlabel("frequency (Hz)")
        ax_mod.legend(loc="best")
        if title:
            ax_mod.set_title(title)
    return fig


def _fit_rows(fit: xr.Dataset, component: str | None) -> list[dict[str, float]]:
    """One dict per line segment of ``fit`` for ``component``."""
    ds = fit.sel(component=component) if component is not None else fit
    segments = ds["segment"].values if "segment" in ds.dims else [None]
    rows = []
    for seg in segments:
        d = ds.sel(segment=seg) if seg is not None else ds

        def get(name: str, default: float = np.nan, d: xr.Dataset = d) -> float:
            return float(d[name].values) if name in d else default

        rows.append({"ea": get("activation_energy"), "ea_err": get("activation_energy_stderr"),
                     "prefactor": get("prefactor"), "t_min": get("temperature_min"),
                     "t_max": get("temperature_max"), "t0": get("vtf_T0")})
    return rows


def arrhenius_plot(temperature_K: ArrayLike,
                   conductivity_S_cm: ArrayLike | Mapping[str, ArrayLike],
                   fit: xr.Dataset | None = None, ax: Axes | None = None, *,
                   form: str | None = None, title: str | None = None,
                   reference: bool = True) -> Figure:
    """Arrhenius plot against 1000/T, with a °C axis on top.

    Plots σT (S·K/cm) for the ``sigma_T`` form (the default, PHYSICS.md section 6) and σ
    (S/cm) for ``sigma``, so that each fitted law is a straight line; the legend gives E_a.
    A ``vtf`` fit (:func:`~eis_pipeline.physics.arrhenius.vtf`) plots σ with its curved law
    σ = A T^(-1/2) exp(-B/(k_B (T - T₀))) and gives B and T₀. σ at the fit's reference
    temperature (``sigma_ref``) is marked with a star, open when extrapolated
    (``reference=False``: not marked).

    Parameters
    ----------
    temperature_K : array_like
        Temperatures of the points (K).
    conductivity_S_cm : array_like or mapping of str to array_like
        σ (S/cm) at those temperatures, or one array per component.
    fit : Dataset, optional
        Arrhenius fits (see the module docstring); segments are drawn over their range.
    form : {"sigma_T", "sigma", "vtf"}, optional
        Default: ``fit.attrs["form"]``, else ``"sigma_T"``.
    """
    t = np.asarray(temperature_K, dtype=np.float64)
    series = (dict(conductivity_S_cm) if isinstance(conductivity_S_cm, Mapping)
              else {"": conductivity_S_cm})
    form = form or (str(fit.attrs.get("form", "sigma_T")) if fit is not None else "sigma_T")
    if form not in ("sigma_T", "sigma", "vtf"):
        raise ValueError(f"form must be 'sigma_T', 'sigma' or 'vtf', got {form!r}")
    times_t = form == "sigma_T"
    markers = "osD^v<>"
    own_figure = ax is None
    with _style():
        fig, ax = _figure(ax, (3.5, 3.0))
        for i, (name, sigma) in enumerate(series.items()):
            s = np.asarray(sigma, dtype=np.float64)
            y = s * t if times_t else s
            color = f"C{i % 7}"
            ax.semilogy(1000 / t, y, markers[i % 7], mfc="none", mew=0.9, color=color,
                        label=name.replace("_", " ") or None)
            if fit is None:
                continue
            comp = name if "component" in fit.dims and name else None
            if "component" in fit.dims and comp is None:
                comp = str(fit["component"].values[0])
            if comp is not None and comp not in fit["component"].values:
                continue
            for row in _fit_rows(fit, comp):
                if not np.isfinite(row["ea"]) or not np.isfinite(row["prefactor"]):
                    continue
                lo = row["t_min"] if np.isfinite(row["t_min"]) else np.nanmin(t)
                hi = row["t_max"] if np.isfinite(row["t_max"]) else np.nanmax(t)
                tt = np.linspace(lo, hi, 50)
                if form == "vtf":
                    yy = (row["prefactor"] / np.sqrt(tt)
                          * np.exp(-row["ea"] / (BOLTZMANN_EV_PER_K * (tt - row["t0"]))))
                    label = (f"VTF: B = {_value_with_error(row['ea'], row['ea_err'])} eV, "
                             f"T$_0$ = {row['t0']:.0f} K")
                else:
                    # σT = σ₀ exp(-E_a/kT), or σ = σ₀' exp(-E_a'/kT): the same expression
                    yy = row["prefactor"] * np.exp(-row["ea"] / (BOLTZMANN_EV_PER_K * tt))
                    label = f"E$_a$ = {_value_with_error(row['ea'], row['ea_err'])} eV"
                ax.semilogy(1000 / tt, yy, "-", color=color, linewidth=1.0, label=label)
            if reference:
                _mark_reference(ax, fit, comp, color, times_t, marker="*")
        ax.set_xlabel("1000 / T (K$^{-1}$)")
        ax.set_ylabel("σT (S K cm$^{-1}$)" if times_t else "σ (S cm$^{-1}$)")
        top = ax.secondary_xaxis("top", functions=(_inv_kilo_to_celsius, _celsius_to_inv_kilo))
        top.set_xlabel("T (°C)")
        if title:
            ax.set_title(title)
        if ax.get_legend_handles_labels()[0]:
            # beside the axes: the points run corner to corner, so any inside position hides
            # some, and a frameless legend's markers would pass for data points
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
            if own_figure:   # room for the legend without squeezing the axes
                fig.set_size_inches(5.6, 3.0)
    return fig


def _mark_reference(ax: Axes, fit: xr.Dataset, component: str | None, color: str,
                    times_t: bool, *, marker: str, prefix: str = "") -> None:
    """σ at the fit's reference temperature (``sigma_ref`` with its error bar), filled when
    interpolated, open and marked "extrapolated" in the legend when outside the measured
    range (``sigma_ref_extrapolated``): the value reported in the summary and CSV."""
    if "sigma_ref" not in fit:
        return
    ds = fit.sel(component=component) if component is not None and "component" in fit.dims \
        else fit
    sigma = float(np.atleast_1d(ds["sigma_ref"].values)[0])
    t_ref = float(fit.attrs.get("reference_temperature_K", ROOM_TEMPERATURE_K))
    if not (np.isfinite(sigma) and sigma > 0):
        return
    err = (float(np.atleast_1d(ds["sigma_ref_stderr"].values)[0])
           if "sigma_ref_stderr" in ds else np.nan)
    extrapolated = ("sigma_ref_extrapolated" in ds
                    and bool(np.atleast_1d(ds["sigma_ref_extrapolated"].values)[0]))
    scale = t_ref if times_t else 1.0
    yerr = [[scale * err], [scale * err]] if np.isfinite(err) and err < sigma else None
    label = (f"{prefix}σ({t_ref - ZERO_CELSIUS_K:g} °C) = {sigma:.2e} S/cm"
             + (" (extrapolated)" if extrapolated else ""))
    x_ref = 1000 / t_ref
    lo, hi = ax.dataLim.intervalx
    span = max(hi - lo, 0.1) if np.isfinite(lo) and np.isfinite(hi) else np.inf
    if extrapolated and not lo - 0.5 * span <= x_ref <= hi + 0.5 * span:
        # far outside the measured range (a 140-200 °C series reported at 25 °C): a marker
        # there would squeeze the data into a corner; the legend keeps the value
        ax.plot([], [], marker, ms=8, color=color, mfc="none", mew=1.0,
                label=f"{label}, off the axes")
        return
    ax.errorbar([x_ref], [scale * sigma], yerr=yerr, fmt=marker, ms=8, color=color,
                mfc="none" if extrapolated else color, mec=color, mew=1.0, capsize=2,
                label=label, zorder=4)


def _value_with_error(value: float, error: float) -> str:
    """``0.46 ± 0.01``; decimals follow the error's first significant digit (2 to 4)."""
    if not np.isfinite(error) or error <= 0:
        return f"{value:.2f}"
    decimals = int(min(4, max(2, -np.floor(np.log10(error)))))
    return f"{value:.{decimals}f} ± {error:.{decimals}f}"


def _inv_kilo_to_celsius(x: Any) -> Any:
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, 1000.0 / np.where(x > 0, x, 1.0) - ZERO_CELSIUS_K, np.inf)


def _celsius_to_inv_kilo(c: Any) -> Any:
    k = np.asarray(c, dtype=np.float64) + ZERO_CELSIUS_K
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(k > 0, 1000.0 / np.where(k > 0, k, 1.0), np.inf)


_UNIT_SUFFIXES = {"min": "min", "h": "h", "s": "s", "rpm": "rpm", "celsius": "°C", "k": "K",
                  "mm": "mm", "um": "µm", "mpa": "MPa", "g": "g", "mg": "mg", "pct": "%"}


def axis_label(parameter: str) -> str:
    """``"milling_time_min"`` -> ``"milling time (min)"``; unit from the key's suffix.

    Examples
    --------
    >>> axis_label("annealing_temperature_celsius")
    'annealing temperature (°C)'
    >>> axis_label("ball_to_powder_ratio")
    'ball to powder ratio'
    """
    stem, _, suffix = parameter.rpartition("_")
    if stem and suffix.lower() in _UNIT_SUFFIXES:
        return f"{stem.replace('_', ' ')} ({_UNIT_SUFFIXES[suffix.lower()]})"
    return parameter.replace("_", " ")


def _summary_sigma(summary: xr.Dataset) -> dict[str, tuple[NDArray[np.float64],
                                                         NDArray[np.float64] | None]]:
    """σ25 and its stderr per component from a campaign summary."""
    out: dict[str, tuple[NDArray[np.float64], NDArray[np.float64] | None]] = {}
    if "sigma_25C" in summary and "component" in summary["sigma_25C"].dims:
        for comp in summary["component"].values:
            err = (summary["sigma_25C_stderr"].sel(component=comp).values
                   if "sigma_25C_stderr" in summary else None)
            out[str(comp)] = (summary["sigma_25C"].sel(component=comp).values, err)
        return out
    for name in map(str, summary.data_vars):
        if name.startswith("sigma_25C_") and not name.endswith("_stderr"):
            err_name = f"{name}_stderr"
            out[name.removeprefix("sigma_25C_")] = (
                summary[name].values, summary[err_name].values if err_name in summary else None)
    if not out:
        found = sorted(str(v) for v in summary.data_vars)
        raise ValueError("summary has no 'sigma_25C' (sample, component) variable nor "
                         f"'sigma_25C_<component>' variables; found {found}")
    return out


def trend_plot(summary: xr.Dataset, parameter: str, ax: Axes | None = None, *,
               title: str | None = None) -> Figure:
    """σ(25 °C) per component against a synthesis parameter across the campaign's samples.

    Parameters
    ----------
    summary : Dataset
        Along ``sample``: ``parameter`` and ``sigma_25C`` (see the module docstring).
    parameter : str
        Name of the synthesis variable, e.g. ``"milling_time_min"`` (the unit is read from
        its suffix for the axis label).
    """
    if parameter not in summary:
        raise ValueError(f"summary has no {parameter!r}; available: "
                         f"{sorted(str(v) for v in summary.variables)}")
    x = np.asarray(summary[parameter].values, dtype=np.float64)
    order = np.argsort(x)
    markers = "osD^v<>"
    with _style():
        fig, ax = _figure(ax, (3.5, 2.8))
        for i, (comp, (sigma, err)) in enumerate(_summary_sigma(summary).items()):
            s = np.asarray(sigma, dtype=np.float64)[order]
            e = None if err is None else np.asarray(err, dtype=np.float64)[order]
            ax.errorbar(x[order], s, yerr=e, fmt=f"{markers[i % 7]}-", mfc="none", mew=0.9,
                        capsize=2, color=f"C{i % 7}", label=comp.replace("_", " "))
        ax.set_yscale("log")
        ax.set_xlabel(axis_label(parameter))
        ax.set_ylabel("σ(25 °C) (S cm$^{-1}$)")
        if title:
            ax.set_title(title)
        ax.legend(loc="best")
    return fig


def kk_residual_plot(frequency: ArrayLike, residual_real: ArrayLike, residual_imag: ArrayLike,
                     threshold: float = 0.01, ax: Axes | None = None, *,
                     noise: float | None = None, hard_limit: float | None = None,
                     verdict: str | None = None, title: str | None = None) -> Figure:
    """Lin-KK residuals against frequency, with the limits the verdict applied (PHYSICS.md
    section 8): the threshold band, the hard limit and the verdict's reason.

    Parameters
    ----------
    frequency : array_like
        Hz.
    residual_real, residual_imag : array_like
        ``(Z - Z_KK) / |Z|`` as fractions of |Z|, as in
        :class:`~eis_pipeline.validation.kramers_kronig.KramersKronigResult`; plotted in %.
    threshold : float
        Fraction of |Z| (0.01 = 1 %), shaded as a ±band.
    noise : float, optional
        Estimated noise σ (fraction of |Z|, ``KramersKronigResult.noise_estimate``): dashed
        lines at ±3σ, where white-noise residuals stay.
    hard_limit : float, optional
        Fraction of |Z| above which the spectrum fails whatever the residuals look like
        (``KramersKronigResult.hard_limit``): dotted red lines. Between the threshold and the
        hard limit, unstructured residuals pass; without it the band alone would mislead.
    verdict : str, optional
        The reason of the pass/fail verdict, written in the panel.
    ax : Axes, optional
    title : str, optional
    """
    f = np.asarray(frequency, dtype=np.float64)
    order = np.argsort(f)
    f = f[order]
    re = np.asarray(residual_real, dtype=np.float64)[order] * 100
    im = np.asarray(residual_imag, dtype=np.float64)[order] * 100
    with _style():
        fig, ax = _figure(ax, (4.4, 2.2))
        band = 100 * threshold
        ax.axhspan(-band, band, color="0.9", linewidth=0, zorder=0,
                   label=f"±{band:.3g} % threshold")
        ax.axhline(0, color="0.5", linewidth=0.6)
        if noise is not None and np.isfinite(noise):
            for sign in (1, -1):
                ax.axhline(sign * 300 * noise, color="0.4", linewidth=0.8, linestyle="--",
                           label="±3σ noise" if sign > 0 else None)
        if hard_limit is not None and np.isfinite(hard_limit):
            for sign in (1, -1):
                ax.axhline(sign * 100 * hard_limit, color="C3", linewidth=0.8, linestyle=":",
                           label=f"±{100 * hard_limit:.3g} % hard limit" if sign > 0 else None)
        ax.semilogx(f, re, "o-", ms=3, lw=0.6, color="C0", label="Z′")
        ax.semilogx(f, im, "s-", ms=3, lw=0.6, mfc="none", color="C3", label="Z″")
        largest = float(np.nanmax(np.abs(np.concatenate([re, im]))))
        limit = max(1.5 * band, 1.1 * largest)
        if hard_limit is not None and np.isfinite(hard_limit) and largest > band:
            limit = max(limit, 110 * hard_limit)   # above the threshold: the hard limit decides
        ax.set_ylim(-limit, limit)
        if verdict:   # its first clause; the full reason is in the results and the report
            ax.text(0.02, 0.97, verdict.split(" (")[0].split(":")[0], transform=ax.transAxes,
                    va="top", ha="left", fontsize=7)
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel("KK residual (% of |Z|)")
        # outside the axes: the residuals fill the whole frequency range
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), handletextpad=0.4)
        if title:
            ax.set_title(title)
    return fig


def _peak_points(peaks: Any, tau: NDArray[np.float64],
                 gamma: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                                      list[float]]:
    """Peak positions τ, heights γ and resistances (NaN when unknown) from several inputs."""
    taus, heights, resistances = [], [], []
    for p in peaks:
        if hasattr(p, "tau_s"):   # a DrtPeak
            t, r = float(p.tau_s), float(getattr(p, "resistance_ohm", np.nan))
            g = float(getattr(p, "gamma_ohm", np.nan))
        else:                     # a τ, or a (τ, γ) pair
            pair = np.atleast_1d(np.asarray(p, dtype=np.float64))
            t, r = float(pair[0]), np.nan
            g = float(pair[1]) if pair.size > 1 else np.nan
        if not np.isfinite(g):
            g = float(np.interp(np.log(t), np.log(tau), gamma))
        taus.append(t)
        heights.append(g)
        resistances.append(r)
    return np.asarray(taus), np.asarray(heights), resistances


def _ohm_text(r: float) -> str:
    """``2.71 kΩ``: three significant digits in the largest unit that keeps r >= 1."""
    for factor, unit in ((1e9, "GΩ"), (1e6, "MΩ"), (1e3, "kΩ")):
        if abs(r) >= factor:
            return f"{r / factor:.3g} {unit}"
    return f"{r:.3g} Ω"


def drt_plot(tau_s: ArrayLike, gamma_ohm: ArrayLike, peaks: Any = None,
             ax: Axes | None = None, *, title: str | None = None) -> Figure:
    """Distribution of relaxation times: γ against τ, both on log axes, peaks marked.

    γ is drawn on a log scale (four decades below its maximum): the electrode tail is often
    a hundred times taller than the bulk and grain-boundary peaks, which a linear axis flattens
    into the baseline.

    Parameters
    ----------
    tau_s : array_like
        Time constants (s).
    gamma_ohm : array_like
        γ(ln τ) in ohm per unit ln τ (its area over ln τ is a resistance), as in
        :class:`~eis_pipeline.validation.drt.DrtResult`.
    peaks : sequence, optional
        :class:`~eis_pipeline.validation.drt.DrtPeak` objects (marked and labelled with their
        resistance), τ values or (τ, γ) pairs.
    ax : Axes, optional
    title : str, optional
    """
    tau = np.asarray(tau_s, dtype=np.float64)
    gamma = np.asarray(gamma_ohm, dtype=np.float64)
    order = np.argsort(tau)
    tau, gamma = tau[order], gamma[order]
    scale, unit = _ohm_scale(gamma)
    with _style():
        fig, ax = _figure(ax, (3.5, 2.4))
        top = float(np.nanmax(gamma)) / scale if np.isfinite(gamma).any() else 1.0
        top = top if top > 0 else 1.0
        bottom = top * 1e-4
        shown = np.clip(gamma / scale, bottom, None)
        ax.loglog(tau, shown, "-", color="C0")
        ax.fill_between(tau, bottom, shown, color="C0", alpha=0.15, linewidth=0)
        if peaks is not None and len(peaks):
            pt, pg, pr = _peak_points(peaks, tau, gamma)
            ax.plot(pt, pg / scale, "v", color="C1", ms=5, label="peaks")
            for t, g, r in zip(pt, pg, pr, strict=True):
                if np.isfinite(r):
                    ax.annotate(_ohm_text(r), (t, g / scale),
                                textcoords="offset points", xytext=(0, 6), ha="center",
                                fontsize=7)
        ax.set_ylim(bottom=bottom, top=top * 3)
        ax.set_xlabel("τ (s)")
        ax.set_ylabel(f"γ ({unit})")
        if title:
            ax.set_title(title)
    return fig


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 300) -> Path:
    """Save ``fig`` atomically (temporary sibling, then rename); format from the suffix."""
    path = Path(path)
    with replacing(path) as tmp:
        _save(fig, tmp, path.suffix.lstrip(".").lower() or "png", dpi)
    return path


def figure_bytes(fig: Figure, fmt: str, *, dpi: int = 300) -> bytes:
    """``fig`` rendered in the house style as ``fmt`` (``svg``, ``png``, ``pdf``) bytes."""
    import io

    buffer = io.BytesIO()
    _save(fig, buffer, fmt, dpi)
    return buffer.getvalue()


def _canvas_class() -> type:
    """An Agg canvas whose renderers share one mathtext parser. Each renderer has its own,
    and so its own parse cache: the log-axis tick labels (10⁻¹ ...) and E_a legend entries
    were parsed again by each of a figure's two renderers (layout, then the cropped file)
    and by every figure, a sixth of a figure's CPU. The parser holds only that cache, and
    figures are drawn under the style lock, one at a time. Not across a fork: its cached
    parses hold this process's FreeType fonts, which forked workers reading them at once
    corrupt ("FT_Load_Glyph ... invalid outline"), so a child starts its own parser
    (matplotlib empties its own font cache on fork for the same reason)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    shared: list[Any] = []   # the first renderer's parser
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=shared.clear)

    class Canvas(FigureCanvasAgg):
        def get_renderer(self) -> Any:
            renderer = super().get_renderer()
            if not shared:
                shared.append(renderer.mathtext_parser)
            renderer.mathtext_parser = shared[0]
            return renderer

    return Canvas


_Canvas = _canvas_class()


#: formats matplotlib renders with Agg (the raster ones): see :func:`_save`
_AGG_FORMATS = frozenset({"png", "jpg", "jpeg", "tif", "tiff", "webp", "raw", "rgba"})


def _save(fig: Figure, target: Any, fmt: str, dpi: int) -> None:
    """``fig.savefig(target)`` in the house style (cropped to its artists: ``savefig.bbox``
    "tight"), the same pixels for one pass fewer over the figure.

    For a tight crop or a layout engine, savefig first draws the whole figure with
    rendering disabled (the engine runs in it), measures the crop, then draws it for real:
    every tick, label and legend text is laid out in both passes, and the first one is a
    quarter of a figure's CPU. For a raster format this runs the engine and measures the
    crop directly, on the renderer savefig would use, and hands savefig the crop with the
    engine set aside, so that it draws once. (Vector formats measure text with their own
    renderer: left to savefig.)
    """
    with _style():
        from matplotlib.backend_bases import FigureCanvasBase
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        if type(fig.canvas) is FigureCanvasBase:   # the object API's placeholder canvas
            _Canvas(fig)
        if (fmt.lower() not in _AGG_FORMATS or mpl.rcParams["savefig.bbox"] != "tight"
                # (another canvas's renderer could measure the crop otherwise)
                or not isinstance(fig.canvas, FigureCanvasAgg)
                or mpl.rcParams["figure.autolayout"]   # (which set_layout_engine(None)
                or mpl.rcParams["figure.constrained_layout.use"]):   # would bring back)
            fig.savefig(target, format=fmt, dpi=dpi)
            return
        engine, original_dpi = fig.get_layout_engine(), fig.dpi
        fig.dpi = dpi   # (savefig lays the figure out at the file's resolution too)
        try:
            renderer = fig.canvas.get_renderer()
            if engine is not None:
                engine.execute(fig)
            pad = mpl.rcParams["savefig.pad_inches"]
            crop = fig.get_tightbbox(renderer).padded(pad, pad)
            fig.set_layout_engine(None)   # laid out: savefig then draws once
            fig.savefig(target, format=fmt, dpi=dpi, bbox_inches=crop)
        finally:
            fig.dpi = original_dpi
            if engine is not None:
                fig.set_layout_engine(engine)


def checks_figure(frequency: ArrayLike, kk_residual: ArrayLike, tau_s: ArrayLike | None = None,
                  gamma_ohm: ArrayLike | None = None, *, threshold: float = 0.01,
                  noise: float | None = None, hard_limit: float | None = None,
                  verdict: str | None = None, title: str | None = None) -> Figure:
    """Kramers-Kronig residuals and, when given, the DRT of one spectrum, side by side."""
    residual = np.asarray(kk_residual)
    with _style():
        fig = _new_figure(figsize=(7.0, 2.8), layout="constrained")
        axes = fig.subplots(1, 2 if tau_s is not None else 1, squeeze=False)[0]
        kk_residual_plot(frequency, residual.real, residual.imag, threshold=threshold,
                         ax=axes[0], noise=noise, hard_limit=hard_limit, verdict=verdict)
        if tau_s is not None and gamma_ohm is not None:
            drt_plot(tau_s, gamma_ohm, ax=axes[1])
        if title:
            fig.suptitle(title, fontsize="medium")
    return fig


def arrhenius_series_plot(temperature_K: ArrayLike,
                          conductivity_S_cm: Mapping[str, ArrayLike],
                          series_fit: xr.Dataset, fit: xr.Dataset | None = None, *,
                          title: str | None = None) -> Figure:
    """Arrhenius plot of the per-spectrum points and line beside the global series fit.

    The points and thin solid lines are the per-spectrum route (circuit fit per temperature,
    then a line through σ, :func:`arrhenius_plot`); the dashed lines are the global model of
    :func:`eis_pipeline.fit_temperature_series` (bulk and grain boundary are its Arrhenius
    laws; total is 1/(1/σ_b + 1/σ_gb), the series of the two, which is not itself a line),
    with the global σ at the reference temperature as a plus (open when extrapolated).

    Parameters
    ----------
    temperature_K, conductivity_S_cm : array_like, mapping of str to array_like
        The per-spectrum points (K; S/cm per component).
    series_fit : Dataset
        A :func:`~eis_pipeline.fit_temperature_series` result.
    fit : Dataset, optional
        The per-spectrum Arrhenius fits (:func:`~eis_pipeline.physics.arrhenius_by_component`).
    """
    form = str(series_fit.attrs.get("form", "sigma_T"))
    with _style():
        fig = _new_figure(figsize=(7.0, 3.2), layout="constrained")
        ax = fig.add_subplot()
        # σ_ref marked once, the global fit's (the per-spectrum one is on <sample>_arrhenius)
        arrhenius_plot(temperature_K, conductivity_S_cm, fit=fit, ax=ax, form=form,
                       title=title, reference=False)
        t_fit = np.asarray(series_fit["temperature"].values, dtype=np.float64)
        tt = np.linspace(np.nanmin(t_fit), np.nanmax(t_fit), 100)
        x = 1.0 / (BOLTZMANN_EV_PER_K * tt)
        times_t = form == "sigma_T"
        t_b = float(series_fit.attrs.get("breakpoint_temperature_K", np.nan))
        # segment of each plotted temperature (0 below a breakpoint, 1 above)
        seg = (tt > t_b).astype(int) if np.isfinite(t_b) else np.zeros(tt.size, int)

        def law(name: str, comp: str) -> NDArray[np.float64]:
            v = np.atleast_1d(series_fit[name].sel(component=comp).values).astype(float)
            return v[np.minimum(seg, v.size - 1)]

        laws: dict[str, NDArray[np.float64]] = {}
        for comp in ("bulk", "grain_boundary"):
            pre, ea = law("prefactor", comp), law("activation_energy", comp)
            if np.all(np.isfinite(pre) & np.isfinite(ea)):   # σ(T) of the law, in S/cm
                laws[comp] = pre * np.exp(-ea * x) / (tt if times_t else 1.0)
        if len(laws) == 2:
            laws["total"] = 1.0 / (1.0 / laws["bulk"] + 1.0 / laws["grain_boundary"])
        names = list(conductivity_S_cm)
        for comp, sigma in laws.items():
            color = f"C{names.index(comp) % 7}" if comp in names else "k"
            ea_all = np.atleast_1d(series_fit["activation_energy"].sel(component=comp).values)
            err_all = np.atleast_1d(
                series_fit["activation_energy_stderr"].sel(component=comp).values)
            text = " / ".join(_value_with_error(float(e), float(d))
                              for e, d in zip(ea_all, err_all, strict=True))
            ax.semilogy(1000 / tt, sigma * tt if times_t else sigma, "--", color=color,
                        linewidth=1.6, label=f"global {comp.replace('_', ' ')}: {text} eV")
            _mark_reference(ax, series_fit, comp, color, times_t, marker="P",
                            prefix="global ")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  title="points, solid: per spectrum\ndashed: global series fit",
                  title_fontsize=7, alignment="left")
    return fig


def dielectric_plot(model_free: xr.Dataset, *, title: str | None = None) -> Figure:
    """σ'(f) isotherms with the Jonscher σ_dc of each, and M''(f) (log: each arc's peak, of
    height C₀/2C, shows), coloured by temperature.

    ``model_free`` is a :func:`~eis_pipeline.conductivity_spectra` result (``frequency``,
    ``conductivity_real``, ``modulus_imag`` along (spectrum, point); ``sigma_dc``,
    ``temperature`` along spectrum). Each σ_dc is a short horizontal bar over the fitted
    window, hollow where no plateau is visible; a circuit σ more than 20 % away is marked ×.
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    f = np.asarray(model_free["frequency"].values, dtype=np.float64)
    sig = np.asarray(model_free["conductivity_real"].values, dtype=np.float64)
    mod = np.asarray(model_free["modulus_imag"].values, dtype=np.float64)
    temps = np.asarray(model_free["temperature"].values, dtype=np.float64) - ZERO_CELSIUS_K
    known = np.isfinite(temps)
    norm = Normalize(np.nanmin(temps) if known.any() else 0.0,
                     np.nanmax(temps) if known.any() else 1.0)
    cmap = colormaps["coolwarm"]
    order = np.argsort(np.where(known, temps, np.inf))
    with _style():
        fig = _new_figure(figsize=(7.0, 2.9), layout="constrained")
        ax_s, ax_m = fig.subplots(1, 2)
        for i in order:
            color = cmap(norm(temps[i])) if known[i] else "0.5"
            ax_s.loglog(f[i], sig[i], "-", color=color, linewidth=1.0)
            ax_m.loglog(f[i], mod[i], "-", color=color, linewidth=1.0)
            sdc = float(model_free["sigma_dc"].values[i])
            lo, hi = _fit_window(model_free, i, f[i])
            if np.isfinite(sdc):
                visible = bool(model_free["plateau_visible"].values[i])
                ax_s.plot([lo, hi], [sdc, sdc], "-" if visible else ":", color=color,
                          linewidth=3.0, alpha=0.6, solid_capstyle="butt")
            if "sigma_dc_disagrees" in model_free and bool(
                    model_free["sigma_dc_disagrees"].values[i]):
                ax_s.plot(np.sqrt(lo * hi), float(model_free["sigma_circuit"].values[i]), "x",
                          color="k", ms=5)
        ax_s.set_xlabel("f (Hz)")
        ax_s.set_ylabel("σ' (S cm$^{-1}$)")
        ax_m.set_xlabel("f (Hz)")
        ax_m.set_ylabel("M''")
        top = float(np.nanmax(mod)) if np.isfinite(mod).any() else 1.0
        if top > 0:   # log: the grain-boundary peak (C₀/2C_gb) is ~100x below the bulk one
            ax_m.set_ylim(top * 1e-4, top * 2)
        # a key placed where it covers the fewest curves ("best"; a fixed corner hid the
        # coldest isotherm's bar on a real 140-200 °C series)
        key = [Line2D([], [], color="0.45", linewidth=3.0, alpha=0.6, solid_capstyle="butt",
                      label="Jonscher σ$_{dc}$ over its fit window"),
               Line2D([], [], color="0.45", linewidth=3.0, alpha=0.6, linestyle=":",
                      label="σ$_{dc}$ without a visible plateau"),
               Line2D([], [], color="k", marker="x", linestyle="none", ms=5,
                      label="circuit σ, > 20 % off σ$_{dc}$")]
        ax_s.legend(handles=key, loc="best", fontsize=7)
        if known.any():
            bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=[ax_s, ax_m],
                               fraction=0.04, pad=0.02)
            bar.set_label("T (°C)")
        if title:
            fig.suptitle(title, fontsize="medium")
    return fig


def _fit_window(model_free: xr.Dataset, i: int,
                f: NDArray[np.float64]) -> tuple[float, float]:
    """The frequency window σ_dc was fitted over (the whole sweep when not stored)."""
    if "plateau_fit_f_min" in model_free:
        return (float(model_free["plateau_fit_f_min"].values[i]),
                float(model_free["plateau_fit_f_max"].values[i]))
    return float(np.nanmin(f)), float(np.nanmax(f))
