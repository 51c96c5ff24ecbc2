"""What a person reads after a run: the summary table, its CSV twin, and the plots.

Works on the results tree of :func:`eis_pipeline.pipeline.run` (DESIGN.md section 7), whether
it was just computed or read back from the HDF5 file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline.conventions import ZERO_CELSIUS_K
from eis_pipeline.io.atomic import replacing

COMPONENTS = ("bulk", "grain_boundary", "total")
_SHORT = {"bulk": "bulk", "grain_boundary": "gb", "total": "total"}
SPECTRUM_DPI = 120


def summary_rows(tree: xr.DataTree) -> list[dict[str, Any]]:
    """One dict per sample: synthesis parameters, σ(25 °C) and E_a per component, fit counts.

    Units are in the keys (``sigma25_total_S_cm``, ``Ea_bulk_eV``).
    """
    if "campaign" not in tree.children:
        return []
    summary = tree["campaign"].ds
    synthesis = [str(v) for v in summary.data_vars
                 if summary[v].attrs.get("synthesis_parameter")]
    rows = []
    for i, name in enumerate(summary["sample"].values.astype(str)):
        row: dict[str, Any] = {"sample": name}
        for key in synthesis:
            value = summary[key].values[i]
            row[key] = value.item() if hasattr(value, "item") else value
        for comp in COMPONENTS:
            if comp not in summary["component"].values:
                continue
            sel = summary.sel(component=comp).isel(sample=i)
            short = _SHORT[comp]
            row[f"sigma25_{short}_S_cm"] = float(sel["sigma_25C"])
            row[f"sigma25_{short}_stderr_S_cm"] = float(sel["sigma_25C_stderr"])
            row[f"Ea_{short}_eV"] = float(sel["activation_energy"])
            row[f"Ea_{short}_stderr_eV"] = float(sel["activation_energy_stderr"])
        for key in ("n_spectra", "n_converged", "n_kk_failed"):
            if key in summary:
                row[key] = int(summary[key].values[i])
        rows.append(row)
    return rows


def _sigma(value: float, err: float) -> str:
    """``value ± err`` with the value rounded to the error's first significant digit
    (at least three significant digits of the value)."""
    if not np.isfinite(value):
        return "-"
    if not (np.isfinite(err) and err > 0):
        return f"{value:.3g}"
    decimals = max(0, -int(np.floor(np.log10(err))), 2 - int(np.floor(np.log10(abs(value))))
                   if value else 0)
    return f"{value:.{decimals}f} ± {err:.{decimals}f}"


def format_summary(tree: xr.DataTree) -> str:
    """The end-of-run table: per sample σ(25 °C) bulk/gb/total (mS/cm), E_a, fit quality."""
    rows = summary_rows(tree)
    head = (f"{'sample':<14}{'σ25 bulk':>19}{'σ25 gb':>19}{'σ25 total':>19}"
            f"{'Ea bulk':>17}{'Ea gb':>17}{'Ea total':>17}{'fits ok':>9}{'KK fail':>9}")
    lines = ["σ(25 °C) in mS/cm, Ea in eV", head, "-" * len(head)]
    for row in rows:
        text = f"{row['sample']:<14}"
        for short in ("bulk", "gb", "total"):
            value = row.get(f"sigma25_{short}_S_cm", np.nan) * 1e3
            err = row.get(f"sigma25_{short}_stderr_S_cm", np.nan) * 1e3
            text += f"{_sigma(value, err):>19}"
        for short in ("bulk", "gb", "total"):
            ea = _sigma(row.get(f"Ea_{short}_eV", np.nan),
                        row.get(f"Ea_{short}_stderr_eV", np.nan))
            text += f"{ea:>17}"
        ok = f"{row.get('n_converged', 0)}/{row.get('n_spectra', 0)}"
        text += f"{ok:>9}{row.get('n_kk_failed', 0):>9}"
        lines.append(text)
    best = tree["campaign"].attrs.get("best_sample") if "campaign" in tree.children else None
    if best:
        lines.append(f"best sample (highest total σ at 25 °C): {best}")
    return "\n".join(lines)


def write_csv_summary(tree: xr.DataTree, path: str | Path) -> Path:
    """Write :func:`summary_rows` as CSV, atomically (temporary file, then rename)."""
    path = Path(path)
    rows = summary_rows(tree)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with replacing(path) as tmp:
        tmp.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def spectrum_title(prefix: str, spectrum: xr.Dataset) -> str:
    """``prefix``, and the spectrum's mean temperature in °C when it has one."""
    if "temperature" in spectrum and np.isfinite(spectrum["temperature"].values).any():
        return f"{prefix} · {np.nanmean(spectrum['temperature'].values) - ZERO_CELSIUS_K:.0f} °C"
    return prefix


def write_spectrum_plots(spectrum: xr.Dataset, fit: Any, arcs: Mapping[str, Any] | None,
                         series_resistance: float, title: str, stem: Path,
                         fmt: str = "png") -> list[Path]:
    """Nyquist (with each fitted arc) and Bode (with residuals) of one spectrum, as
    ``<stem>_nyquist.<fmt>`` and ``<stem>_bode.<fmt>``; ``fit`` as :func:`plotting.nyquist`
    takes it. Screen resolution: a campaign has many spectra, and this is the slow part."""
    from eis_pipeline import plotting

    return [plotting.save_figure(plotting.nyquist(spectrum, fit=fit, arcs=arcs,
                                                  series_resistance=series_resistance,
                                                  title=title),
                                 stem.with_name(f"{stem.name}_nyquist.{fmt}"), dpi=SPECTRUM_DPI),
            plotting.save_figure(plotting.bode(spectrum, fit=fit, title=title),
                                 stem.with_name(f"{stem.name}_bode.{fmt}"), dpi=SPECTRUM_DPI)]


def fitted_arcs(frequency: Any, values: Mapping[str, float],
                roles: Mapping[str, Mapping[str, str]]) -> tuple[dict[str, Any] | None, float]:
    """Each fitted R‖CPE arc (bulk, grain boundary) of a preset fit on ``frequency`` (Hz), for
    :func:`~eis_pipeline.plotting.nyquist`, and the series resistance before them (ohm: a bulk
    read at the high-frequency intercept, else 0). ``values`` maps parameter names to values,
    ``roles`` is the preset's role mapping."""
    from eis_pipeline.testing.simulate import rq_impedance

    arcs = {}
    series = 0.0
    for role in ("bulk", "grain_boundary"):
        elements = roles.get(role, {})
        r, cpe = elements.get("resistance"), elements.get("cpe")
        if r and cpe and np.isfinite([values.get(r, np.nan), values.get(f"{cpe}_0", np.nan)]).all():
            arcs[role.replace("_", " ")] = rq_impedance(
                np.asarray(frequency), values[r], values[f"{cpe}_0"], values[f"{cpe}_1"])
        elif role == "bulk" and r and not cpe and np.isfinite(values.get(r, np.nan)):
            series = float(values[r])   # the intercept: the arcs start at R_bulk
    return arcs or None, series


def _arcs(node: xr.DataTree, sid: str,
          spectrum: xr.Dataset) -> tuple[dict[str, Any] | None, float]:
    """:func:`fitted_arcs` of spectrum ``sid`` of a sample node of the results tree."""
    import json

    if "fit" not in node.children:
        return None, 0.0
    fits = node["fit"].ds
    row = int(np.flatnonzero(fits["spectrum_id"].values.astype(str) == sid)[0])
    roles = json.loads(str(fits.attrs.get("roles", "{}")))
    if "preset" in fits:  # circuit chosen per spectrum: roles of that spectrum's preset
        presets = json.loads(str(fits.attrs.get("presets", "{}")))
        roles = json.loads(presets.get(str(fits["preset"].values[row]), {}).get("roles") or "{}")
    values = dict(zip(fits["param"].values.astype(str), fits["value"].values[row], strict=True))
    return fitted_arcs(spectrum["frequency"].values, values, roles)


def _checks(node: xr.DataTree, sid: str, spectrum: xr.Dataset, title: str) -> Any:
    """KK residuals and DRT of spectrum ``sid`` of a sample node, as one figure."""
    from eis_pipeline import plotting

    kk = node["validation"].ds
    row = int(np.flatnonzero(kk["spectrum_id"].values.astype(str) == sid)[0])
    n = spectrum.sizes["frequency"]
    tau = gamma = None
    if "drt" in node.children:
        drt = node["drt"].ds.isel(spectrum=row)
        keep = np.isfinite(drt["tau"].values)
        tau, gamma = drt["tau"].values[keep], drt["gamma"].values[keep]
    noise = float(kk["kk_noise_estimate"].values[row]) if "kk_noise_estimate" in kk else None
    return plotting.checks_figure(spectrum["frequency"].values,
                                  kk["kk_residual"].values[row, :n], tau, gamma,
                                  threshold=float(kk.attrs.get("threshold", 0.01)),
                                  noise=noise, title=title)


def write_sample_plots(node: xr.DataTree, folder: str | Path, *, fmt: str = "png",
                       spectra: bool = True) -> list[Path]:
    """One sample's plots: Arrhenius, and with ``spectra`` Nyquist (with each arc), Bode and
    the Kramers-Kronig/DRT checks of every spectrum."""
    from eis_pipeline import plotting

    folder = Path(folder)
    name = str(node.name)
    written: list[Path] = []
    if spectra and "spectra" in node.children:
        for sid, child in node["spectra"].children.items():
            ds = child.to_dataset()
            title = spectrum_title(f"{name} · {sid}", ds)
            arcs, series = _arcs(node, sid, ds)
            written += write_spectrum_plots(ds, ds if "impedance_fit" in ds else None, arcs,
                                            series, title, folder / name / sid, fmt)
            if "validation" in node.children:
                written.append(plotting.save_figure(
                    _checks(node, sid, ds, title), folder / name / f"{sid}_checks.{fmt}",
                    dpi=SPECTRUM_DPI))
    if "conductivity" in node.children and "arrhenius" in node.children:
        cond = node["conductivity"].ds
        sigma = {c: cond["conductivity"].sel(component=c).values
                 for c in COMPONENTS if c in cond["component"].values}
        written.append(plotting.save_figure(
            plotting.arrhenius_plot(cond["temperature"].values, sigma,
                                    fit=node["arrhenius"].ds, title=name),
            folder / f"{name}_arrhenius.{fmt}"))
    return written


def write_campaign_plots(tree: xr.DataTree, folder: str | Path, *,
                         fmt: str = "png") -> list[Path]:
    """σ(25 °C) against every synthesis parameter that varies across the campaign."""
    from eis_pipeline import plotting

    written: list[Path] = []
    if "campaign" not in tree.children:
        return written
    summary = tree["campaign"].ds
    for key in summary.data_vars:
        var = summary[key]
        if (var.attrs.get("synthesis_parameter") and var.dtype.kind == "f"
                and np.unique(var.values[np.isfinite(var.values)]).size > 1):
            written.append(plotting.save_figure(
                plotting.trend_plot(summary, str(key)),
                Path(folder) / f"campaign_sigma25_vs_{key}.{fmt}"))
    return written


def write_plots(tree: xr.DataTree, folder: str | Path, *, fmt: str = "png",
                spectra: bool = True) -> list[Path]:
    """Every plot of a results tree (e.g. one read back with ``read_results``)."""
    written: list[Path] = []
    for name, node in tree.children.items():
        if name not in {"campaign", "failures"}:
            written += write_sample_plots(node, folder, fmt=fmt, spectra=spectra)
    return written + write_campaign_plots(tree, folder, fmt=fmt)


def compare_with_ground_truth(tree: xr.DataTree, truth: dict[str, Any]) -> list[dict[str, Any]]:
    """Recovered against true E_a and σ(25 °C) per sample and component.

    ``truth`` is a simulator's ``ground_truth.json`` (``scripts/make_sample_data.py``): per
    sample, ``components[c].activation_energy_eV`` and ``sigma_25C_S_cm[c]``. Returns one row
    per (sample, component) with the true and recovered values and their differences:
    ``Ea_error_eV`` (recovered - true) and ``sigma25_relative_error``.
    """
    summary = tree["campaign"].ds
    rows = []
    for name, sample in truth["samples"].items():
        for comp in COMPONENTS:
            sel = summary.sel(sample=name, component=comp)
            true_ea = sample.get("components", {}).get(comp, {}).get("activation_energy_eV")
            true_sigma = sample.get("sigma_25C_S_cm", {}).get(comp)
            ea = float(sel["activation_energy"])
            sigma = float(sel["sigma_25C"])
            rows.append({
                "sample": name, "component": comp,
                "Ea_true_eV": true_ea, "Ea_eV": ea,
                "Ea_error_eV": None if true_ea is None else ea - true_ea,
                "sigma25_true_S_cm": true_sigma, "sigma25_S_cm": sigma,
                "sigma25_relative_error": None if true_sigma is None
                else sigma / true_sigma - 1.0,
            })
    return rows


def format_comparison(rows: list[dict[str, Any]]) -> str:
    """:func:`compare_with_ground_truth` as a table."""
    head = (f"{'sample':<10}{'component':<16}{'Ea true':>9}{'Ea fit':>9}{'ΔEa (eV)':>10}"
            f"{'σ25 true (S/cm)':>17}{'σ25 fit (S/cm)':>16}{'Δσ25':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        ea_true = "-" if r["Ea_true_eV"] is None else f"{r['Ea_true_eV']:.3f}"
        d_ea = "-" if r["Ea_error_eV"] is None else f"{r['Ea_error_eV']:+.4f}"
        d_sigma = ("-" if r["sigma25_relative_error"] is None
                   else f"{100 * r['sigma25_relative_error']:+.1f}%")
        sigma_true = ("-" if r["sigma25_true_S_cm"] is None
                      else f"{r['sigma25_true_S_cm']:.3g}")
        lines.append(f"{r['sample']:<10}{r['component']:<16}{ea_true:>9}{r['Ea_eV']:>9.3f}"
                     f"{d_ea:>10}{sigma_true:>17}{r['sigma25_S_cm']:>16.3g}{d_sigma:>8}")
    return "\n".join(lines)
