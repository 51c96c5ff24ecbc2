"""What a person reads after a run: the summary table and its CSV twin.

Works on the results tree of :func:`eis_pipeline.pipeline.run` (DESIGN.md section 7), whether
it was just computed or read back from the HDF5 file.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from eis_pipeline.io.atomic import replacing

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
