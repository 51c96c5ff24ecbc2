"""Figure files of a results tree: per-spectrum Nyquist/Bode/checks, Arrhenius, campaign trends.

Works on the results tree of :func:`eis_pipeline.pipeline.run` (DESIGN.md section 7), whether
it was just computed or read back from the HDF5 file. matplotlib is imported only inside the
functions that draw (through :mod:`eis_pipeline.report.figures`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import xarray as xr

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.circuits.roles import Roles
from eis_pipeline.conventions import ZERO_CELSIUS_K
from eis_pipeline.io.atomic import replacing
from eis_pipeline.packing import sample_spectra
from eis_pipeline.report import figures
from eis_pipeline.report.tables import COMPONENTS
from eis_pipeline.tasks import failure_record

SPECTRUM_DPI = 120
#: the per-sample and campaign figures: print resolution
SUMMARY_DPI = 300
T = TypeVar("T")


def spectrum_title(prefix: str, spectrum: xr.Dataset) -> str:
    """``prefix``, and the spectrum's mean temperature in °C when it has one."""
    if "temperature" in spectrum and np.isfinite(spectrum["temperature"].values).any():
        return f"{prefix} · {np.nanmean(spectrum['temperature'].values) - ZERO_CELSIUS_K:.0f} °C"
    return prefix


#: One arc alone, R‖C and R‖CPE (indexed by "has a CPE"), evaluated by the circuit compiler.
_ARC = (compile_circuit("p(R0,C0)"), compile_circuit("p(R0,CPE0)"))


def fitted_arcs(frequency: Any, values: Mapping[str, float],
                roles: Mapping[str, Mapping[str, str]]) -> tuple[dict[str, Any] | None, float]:
    """Each fitted R‖CPE arc (bulk, grain boundary) of a preset fit on ``frequency`` (Hz), for
    :func:`~eis_pipeline.report.figures.nyquist`, and the series resistance before them (ohm: a bulk
    read at the high-frequency intercept, else 0). ``values`` maps parameter names to values,
    ``roles`` is the preset's role mapping."""

    arcs = {}
    series = 0.0
    for role in ("bulk", "grain_boundary"):
        elements = roles.get(role, {})
        r, cpe, cap = elements.get("resistance"), elements.get("cpe"), elements.get("capacitor")
        if r and (cpe or cap):
            arc = ([values.get(r, np.nan), values.get(f"{cpe}_0", np.nan),
                    values.get(f"{cpe}_1", np.nan)] if cpe
                   else [values.get(r, np.nan), values.get(str(cap), np.nan)])
            if np.isfinite(arc).all():
                arcs[role.replace("_", " ")] = _ARC[bool(cpe)].impedance(
                    np.asarray(arc, dtype=float), np.asarray(frequency, dtype=float))
        elif role == "bulk" and r and np.isfinite(values.get(r, np.nan)):
            series = float(values[r])   # the intercept: the arcs start at R_bulk
    return arcs or None, series


def _arcs(node: xr.DataTree, sid: str,
          spectrum: xr.Dataset) -> tuple[dict[str, Any] | None, float]:
    """:func:`fitted_arcs` of spectrum ``sid`` of a sample node of the results tree."""

    if "fit" not in node.children:
        return None, 0.0
    fits = node["fit"].ds
    row = int(np.flatnonzero(fits["spectrum_id"].values.astype(str) == sid)[0])
    roles = Roles.of(fits, row)   # per spectrum: "auto" chose each spectrum's circuit
    values = dict(zip(fits["param"].values.astype(str), fits["value"].values[row], strict=True))
    return fitted_arcs(spectrum["frequency"].values, values, roles)


def _checks(node: xr.DataTree, sid: str, spectrum: xr.Dataset, title: str) -> Any:
    """KK residuals and DRT of spectrum ``sid`` of a sample node, as one figure."""

    kk = node["validation"].ds
    row = int(np.flatnonzero(kk["spectrum_id"].values.astype(str) == sid)[0])
    n = spectrum.sizes["frequency"]
    tau = gamma = None
    if "drt" in node.children:
        drt = node["drt"].ds.isel(spectrum=row)
        keep = np.isfinite(drt["tau"].values)
        tau, gamma = drt["tau"].values[keep], drt["gamma"].values[keep]
    noise = float(kk["kk_noise_estimate"].values[row]) if "kk_noise_estimate" in kk else None
    hard_limit = float(kk.attrs["hard_limit"]) if "hard_limit" in kk.attrs else None
    verdict = str(kk["kk_reason"].values[row]) if "kk_reason" in kk else None
    return figures.checks_figure(spectrum["frequency"].values,
                                  kk["kk_residual"].values[row, :n], tau, gamma,
                                  threshold=float(kk.attrs.get("threshold", 0.01)),
                                  noise=noise, hard_limit=hard_limit, verdict=verdict,
                                  title=title)


def spectrum_figures(node: xr.DataTree, sid: str, ds: xr.Dataset
                     ) -> tuple[str, list[tuple[str, Callable[[], Any]]]]:
    """Spectrum ``sid`` of a sample node: its title and, per figure, ``(kind, build)`` where
    ``build()`` draws it (``nyquist`` with each fitted arc, ``bode`` with residuals, and
    ``checks``: the Kramers-Kronig residuals and DRT when the node has them). Building is
    left to the caller so that one failing figure can be recorded and the rest drawn."""

    title = spectrum_title(f"{node.name} · {sid}", ds)
    fit = ds if "impedance_fit" in ds else None

    def nyquist() -> Any:
        arcs, series = _arcs(node, sid, ds)
        return figures.nyquist(ds, fit=fit, arcs=arcs, series_resistance=series, title=title)

    builders: list[tuple[str, Callable[[], Any]]] = [
        ("nyquist", nyquist), ("bode", lambda: figures.bode(ds, fit=fit, title=title))]
    if "validation" in node.children:
        builders.append(("checks", lambda: _checks(node, sid, ds, title)))
    return title, builders


def isolated(failures: list[dict[str, Any]] | None, sample: str, what: str,
             build: Callable[[], T]) -> T | None:
    """``build()``; an exception is recorded in ``failures`` (stage "plot", ``what`` as the
    file) and None returned, or raised when ``failures`` is None. Every figure of the
    plots folder and of the HTML report is drawn through it: one that fails stands alone."""
    if failures is None:
        return build()
    try:
        return build()
    except Exception as exc:
        failures.append(failure_record(sample, what, "plot", exc))
        return None


def _spectrum_figure(sid: str, kind: str) -> str:
    """How failures name a spectrum's figure (``<id> (nyquist figure)``)."""
    return f"{sid} ({kind} figure)"


def _render(build: Callable[[], Any], fmt: str, dpi: int) -> bytes:

    return figures.figure_bytes(build(), fmt, dpi=dpi)


def render_spectra(node: xr.DataTree, *, fmt: str = "png", dpi: int = SPECTRUM_DPI,
                   failures: list[dict[str, Any]] | None = None
                   ) -> list[tuple[str, str, list[tuple[str, bytes]]]]:
    """Every spectrum's figures of a sample node rendered as ``fmt`` bytes: per spectrum
    ``(id, title, [(kind, bytes), ...])``. A figure that fails is left out and recorded
    in ``failures`` (raised when None)."""
    name = str(node.name)
    out = []
    for sid, ds in sample_spectra(node):
        built = isolated(failures, name, sid, partial(spectrum_figures, node, sid, ds))
        if built is None:
            continue
        title, builders = built
        images = []
        for kind, build in builders:
            data = isolated(failures, name, _spectrum_figure(sid, kind),
                            partial(_render, build, fmt, dpi))
            if data is not None:
                images.append((kind, data))
        out.append((str(sid), title, images))
    return out


#: A figure file ready to write: what it shows (as failures name it), its path relative to
#: the plots folder, and its bytes.
Rendered = tuple[str, str, bytes]


def render_sample_plots(node: xr.DataTree, *, fmt: str = "png", spectra: bool = True,
                        failures: list[dict[str, Any]] | None = None) -> list[Rendered]:
    """One sample's plots rendered to bytes (:data:`Rendered`, for :func:`write_rendered`):
    with ``spectra`` Nyquist (with each arc), Bode and the Kramers-Kronig/DRT checks of every
    spectrum; Arrhenius; the series figures. Each figure stands alone: one that fails is
    recorded in ``failures`` (stage "plot"; raised when None) and the others are rendered.
    A parallel run renders in the worker that analysed the sample, a serial one in the
    parent: the same function, so the same bytes."""

    name = str(node.name)
    out: list[Rendered] = []
    if spectra:
        for sid, _, images in render_spectra(node, fmt=fmt, failures=failures):
            out += [(_spectrum_figure(sid, kind), f"{name}/{sid}_{kind}.{fmt}", data)
                    for kind, data in images]
    if "conductivity" in node.children and "arrhenius" in node.children:
        def arrhenius() -> Any:
            cond = node["conductivity"].ds
            cond = cond.isel(spectrum=np.isfinite(cond["temperature"].values))  # known T only
            sigma = {c: cond["conductivity"].sel(component=c).values
                     for c in COMPONENTS if c in cond["component"].values}
            return figures.arrhenius_plot(cond["temperature"].values, sigma,
                                          fit=node["arrhenius"].ds, title=name)

        data = isolated(failures, name, "Arrhenius figure",
                        partial(_render, arrhenius, fmt, SUMMARY_DPI))
        if data is not None:
            out.append(("Arrhenius figure", f"{name}_arrhenius.{fmt}", data))
    for what, stem, build in series_figures(node):
        data = isolated(failures, name, what, partial(_render, build, fmt, SUMMARY_DPI))
        if data is not None:
            out.append((what, f"{stem}.{fmt}", data))
    return out


def write_rendered(rendered: list[Rendered], folder: str | Path, sample: str, *,
                   failures: list[dict[str, Any]] | None = None) -> list[Path]:
    """Write :func:`render_sample_plots`' figures into ``folder``, each atomically; one that
    cannot be written is recorded in ``failures`` as its drawing would be (raised when
    None) and the others are written."""

    def write(relative: str, data: bytes) -> Path:
        path = Path(folder) / relative
        with replacing(path) as tmp:
            tmp.write_bytes(data)
        return path

    written = [isolated(failures, sample, what, partial(write, relative, data))
               for what, relative, data in rendered]
    return [path for path in written if path is not None]


def write_sample_plots(node: xr.DataTree, folder: str | Path, *, fmt: str = "png",
                       spectra: bool = True,
                       failures: list[dict[str, Any]] | None = None) -> list[Path]:
    """One sample's plots (:func:`render_sample_plots`) written into ``folder``
    (:func:`write_rendered`)."""
    return write_rendered(render_sample_plots(node, fmt=fmt, spectra=spectra,
                                              failures=failures),
                          folder, str(node.name), failures=failures)


def series_figures(node: xr.DataTree) -> list[tuple[str, str, Callable[[], Any]]]:
    """With ``series_fit = "global"``: ``(what, file stem, build)`` of the Arrhenius plot with
    the global fit beside the per-spectrum points and line (``<sample>_arrhenius_global``)
    and of the σ'(f) / M''(f) isotherms with each Jonscher σ_dc
    (``<sample>_conductivity_spectra``); building is left to the caller."""
    name = str(node.name)
    out: list[tuple[str, str, Callable[[], Any]]] = []
    if ("series_fit" in node.children and "activation_energy" in node["series_fit"].ds
            and "conductivity" in node.children):
        cond = node["conductivity"].ds
        cond = cond.isel(spectrum=np.isfinite(cond["temperature"].values))
        sigma = {c: cond["conductivity"].sel(component=c).values
                 for c in COMPONENTS if c in cond["component"].values}
        per = node["arrhenius"].ds if "arrhenius" in node.children else None
        out.append(("global Arrhenius figure", f"{name}_arrhenius_global", partial(
            figures.arrhenius_series_plot, cond["temperature"].values, sigma,
            node["series_fit"].ds, fit=per, title=name)))
    if "model_free" in node.children:
        out.append(("conductivity spectra figure", f"{name}_conductivity_spectra", partial(
            figures.dielectric_plot, node["model_free"].ds, title=name)))
    return out


def write_campaign_plots(tree: xr.DataTree, folder: str | Path, *,
                         fmt: str = "png") -> list[Path]:
    """σ(25 °C) against every synthesis parameter that varies across the campaign."""

    written: list[Path] = []
    if "campaign" not in tree.children:
        return written
    summary = tree["campaign"].ds
    for key in summary.data_vars:
        var = summary[key]
        if (var.attrs.get("synthesis_parameter") and var.dtype.kind == "f"
                and np.unique(var.values[np.isfinite(var.values)]).size > 1):
            written.append(figures.save_figure(
                figures.trend_plot(summary, str(key)),
                Path(folder) / f"campaign_sigma25_vs_{key}.{fmt}"))
    return written
