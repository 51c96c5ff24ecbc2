"""What a person reads after a run: the summary table, its CSV twin, and the plots.

Works on the results tree of :func:`eis_pipeline.pipeline.run` (DESIGN.md section 7), whether
it was just computed or read back from the HDF5 file.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

COMPONENTS = ("bulk", "grain_boundary", "total")
_SHORT = {"bulk": "bulk", "grain_boundary": "gb", "total": "total"}


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
    if not np.isfinite(value):
        return "-"
    if np.isfinite(err) and err > 0:
        return f"{value:.3g} ± {err:.1g}"
    return f"{value:.3g}"


def format_summary(tree: xr.DataTree) -> str:
    """The end-of-run table: per sample σ(25 °C) bulk/gb/total (mS/cm), E_a, fit quality."""
    rows = summary_rows(tree)
    head = (f"{'sample':<14}{'σ25 bulk':>18}{'σ25 gb':>18}{'σ25 total':>18}"
            f"{'Ea bulk':>15}{'Ea gb':>15}{'Ea total':>15}{'fits ok':>9}{'KK fail':>9}")
    lines = ["σ(25 °C) in mS/cm, Ea in eV", head, "-" * len(head)]
    for row in rows:
        text = f"{row['sample']:<14}"
        for short in ("bulk", "gb", "total"):
            value = row.get(f"sigma25_{short}_S_cm", np.nan) * 1e3
            err = row.get(f"sigma25_{short}_stderr_S_cm", np.nan) * 1e3
            text += f"{_sigma(value, err):>18}"
        for short in ("bulk", "gb", "total"):
            ea = _sigma(row.get(f"Ea_{short}_eV", np.nan),
                        row.get(f"Ea_{short}_stderr_eV", np.nan))
            text += f"{ea:>15}"
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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_plots(tree: xr.DataTree, folder: str | Path, *, fmt: str = "png",
                spectra: bool = True) -> list[Path]:
    """Nyquist and Bode per spectrum, Arrhenius per sample, trends per campaign."""
    from eis_pipeline import plotting

    folder = Path(folder)
    written: list[Path] = []
    samples = [n for n in tree.children if n not in {"campaign", "failures"}]
    for name in samples:
        node = tree[name]
        if spectra and "spectra" in node.children:
            for sid, child in node["spectra"].children.items():
                ds = child.to_dataset()
                title = f"{name} · {sid}"
                fit = ds if "impedance_fit" in ds else None
                written.append(plotting.save_figure(
                    plotting.nyquist(ds, fit=fit, title=title),
                    folder / name / f"{sid}_nyquist.{fmt}"))
                written.append(plotting.save_figure(
                    plotting.bode(ds, fit=fit, title=title),
                    folder / name / f"{sid}_bode.{fmt}"))
        if "conductivity" in node.children and "arrhenius" in node.children:
            cond = node["conductivity"].ds
            sigma = {c: cond["conductivity"].sel(component=c).values
                     for c in COMPONENTS if c in cond["component"].values}
            written.append(plotting.save_figure(
                plotting.arrhenius_plot(cond["temperature"].values, sigma,
                                        fit=node["arrhenius"].ds, title=name),
                folder / f"{name}_arrhenius.{fmt}"))
    if "campaign" in tree.children:
        summary = tree["campaign"].ds
        for key in summary.data_vars:
            var = summary[key]
            if (var.attrs.get("synthesis_parameter") and var.dtype.kind == "f"
                    and np.unique(var.values[np.isfinite(var.values)]).size > 1):
                written.append(plotting.save_figure(
                    plotting.trend_plot(summary, str(key)),
                    folder / f"campaign_sigma25_vs_{key}.{fmt}"))
    return written
