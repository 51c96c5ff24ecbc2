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

    Units are in the keys (``sigma25_total_S_cm``, ``Ea_bulk_eV``); ``sigma25_<c>_extrapolated``
    says whether 25 °C lies outside the measured temperature range; ``warnings`` holds the
    sample's plausibility warnings joined by `` | `` (empty when none).
    """
    if "campaign" not in tree.children:
        return []
    summary = tree["campaign"].ds
    synthesis = [str(v) for v in summary.data_vars
                 if summary[v].attrs.get("synthesis_parameter")]
    components = summary["component"].values
    # each cell read from its variable's array (a Dataset .sel/.isel per sample and
    # component cost more than the rest of the table)
    arrays = {key: (summary[key].dims, summary[key].values) for key in
              ("sigma_25C", "sigma_25C_stderr", "sigma_25C_extrapolated", "activation_energy",
               "activation_energy_stderr") if key in summary}

    def cell(key: str, sample: int, component: int) -> Any:
        dims, values = arrays[key]
        at = {"sample": sample, "component": component}
        return values[tuple(at.get(str(d), slice(None)) for d in dims)]

    rows = []
    for i, name in enumerate(summary["sample"].values.astype(str)):
        row: dict[str, Any] = {"sample": name}
        for key in synthesis:
            value = summary[key].values[i]
            row[key] = value.item() if hasattr(value, "item") else value
        for comp in COMPONENTS:
            if comp not in components:
                continue
            k = int(np.flatnonzero(components == comp)[0])
            short = _SHORT[comp]
            row[f"sigma25_{short}_S_cm"] = float(cell("sigma_25C", i, k))
            row[f"sigma25_{short}_stderr_S_cm"] = float(cell("sigma_25C_stderr", i, k))
            if "sigma_25C_extrapolated" in arrays:
                row[f"sigma25_{short}_extrapolated"] = bool(cell("sigma_25C_extrapolated",
                                                                 i, k))
            row[f"Ea_{short}_eV"] = float(cell("activation_energy", i, k))
            row[f"Ea_{short}_stderr_eV"] = float(cell("activation_energy_stderr", i, k))
        for key in ("n_spectra", "n_converged", "n_kk_failed"):
            if key in summary:
                row[key] = int(summary[key].values[i])
        row["warnings"] = " | ".join(sample_warnings(tree, name))
        if name in tree.children:
            row.update(vtf_columns(tree.children[name]))
            row.update(reference_columns(tree.children[name]))
            row.update(series_fit_columns(tree.children[name]))
        rows.append(row)
    return rows


def sample_warnings(tree: xr.DataTree, sample: str) -> list[str]:
    """The plausibility warnings the run stored with a sample (implausible temperatures,
    permittivity or σ and the likely unit slip; :mod:`eis_pipeline.physics.plausibility`)."""
    node = tree.children.get(sample)
    text = "" if node is None else str(node.attrs.get("warnings", ""))
    return [w for w in text.split("\n") if w]
#: The global and per-spectrum E_a disagree when they differ by more than this many combined
#: standard errors √(δ₁² + δ₂²) (conservative: both come from the same spectra).
DISAGREE_SIGMAS = 2.0


def reference_columns(node: xr.DataTree) -> dict[str, Any]:
    """σ at the sample's reference temperature when it is not 25 °C (``reference_
    temperature_celsius`` in the config): ``sigma_ref_<c>_S_cm`` (+ ``_stderr``,
    ``_extrapolated``) and ``reference_temperature_K``. Empty otherwise."""
    if "arrhenius" not in node.children:
        return {}
    arr = node["arrhenius"].ds
    t_ref = float(arr.attrs.get("reference_temperature_K", 298.15))
    if "sigma_ref" not in arr or abs(t_ref - 298.15) < 1e-9:
        return {}
    out: dict[str, Any] = {"reference_temperature_K": t_ref}
    for comp in arr["component"].values:
        short = _SHORT.get(str(comp), str(comp))
        sel = arr.sel(component=comp)
        out[f"sigma_ref_{short}_S_cm"] = float(sel["sigma_ref"])
        out[f"sigma_ref_{short}_stderr_S_cm"] = float(sel["sigma_ref_stderr"])
        out[f"sigma_ref_{short}_extrapolated"] = bool(sel["sigma_ref_extrapolated"])
    return out


def vtf_columns(node: xr.DataTree) -> dict[str, Any]:
    """With ``arrhenius_form = "vtf"``: ``temperature_law`` = "vtf", ``T0_<c>_K``
    (+ ``_stderr``), the VTF temperature of each component, and ``vtf_note`` (e.g. T0 at the
    edge of its range: the data do not fix it); the ``Ea_<c>_eV`` columns then hold the
    pseudo-activation energy B. Empty for the Arrhenius forms."""
    if "arrhenius" not in node.children or "vtf_T0" not in node["arrhenius"].ds:
        return {}
    arr = node["arrhenius"].ds
    out: dict[str, Any] = {"temperature_law": "vtf"}
    for comp in arr["component"].values:
        short = _SHORT.get(str(comp), str(comp))
        out[f"T0_{short}_K"] = float(arr["vtf_T0"].sel(component=comp))
        out[f"T0_{short}_stderr_K"] = float(arr["vtf_T0_stderr"].sel(component=comp))
    notes = [f"{_SHORT.get(str(c), str(c))}: {r}" for c, r in
             zip(arr["component"].values, np.atleast_1d(arr["reason"].values).astype(str),
                 strict=True) if r] if "reason" in arr else []
    out["vtf_note"] = "; ".join(notes)
    return out


def format_vtf_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per VTF sample: E_a there is B of σ = A T^(-1/2) exp(-B/(k(T - T₀))), and T₀."""
    lines = []
    for row in rows:
        if row.get("temperature_law") != "vtf":
            continue
        parts = [f"{short} {row[f'T0_{short}_K']:.0f} ± {row[f'T0_{short}_stderr_K']:.0f}"
                 for short in ("bulk", "gb", "total") if f"T0_{short}_K" in row]
        line = f"  {row['sample']}: VTF law, E_a is B; T0 (K) " + "; ".join(parts)
        if row.get("vtf_note"):
            line += f"  [{row['vtf_note']}]"
        lines.append(line)
    return lines


def format_reference_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per sample with σ at its reference temperature (when not 25 °C), marked
    ``*`` when extrapolated."""
    lines = []
    for row in rows:
        if "reference_temperature_K" not in row:
            continue
        t_c = row["reference_temperature_K"] - 273.15
        parts = []
        for short in ("bulk", "gb", "total"):
            if f"sigma_ref_{short}_S_cm" in row:
                factor, unit = sigma_unit([row[f"sigma_ref_{short}_S_cm"]])
                text = value_with_error(row[f"sigma_ref_{short}_S_cm"] * factor,
                                        row[f"sigma_ref_{short}_stderr_S_cm"] * factor)
                mark = EXTRAPOLATED_MARK if row[f"sigma_ref_{short}_extrapolated"] else ""
                parts.append(f"{short} {text}{mark} {unit}")
        lines.append(f"  {row['sample']}: σ({t_c:g} °C) " + "; ".join(parts))
    return lines


def series_fit_columns(node: xr.DataTree) -> dict[str, Any]:
    """The ``series_fit = "global"`` columns of one sample: ``Ea_<c>_global_eV`` (+ stderr)
    beside the per-spectrum ``Ea_<c>_eV``, ``Ea_<c>_disagree`` (more than DISAGREE_SIGMAS
    combined errors apart), ``series_fit_note`` (why the global fit gave nothing),
    ``series_fit_shared`` (what the arcs share across temperatures, e.g. chosen by "auto"), and
    ``n_sigma_dc_disagree``: spectra whose model-free σ_dc is > 20 % off the circuit's σ.
    Empty for a sample without a series fit."""
    out: dict[str, Any] = {}
    if "series_fit" in node.children:
        glob = node["series_fit"].ds
        if "segment" in glob.dims:   # a breakpoint: the low-temperature law, as per spectrum
            glob = glob.isel(segment=0)
        per = node["arrhenius"].ds if "arrhenius" in node.children else None
        if "activation_energy" in glob:
            for comp in COMPONENTS:
                short = _SHORT[comp]
                ea = float(glob["activation_energy"].sel(component=comp))
                err = float(glob["activation_energy_stderr"].sel(component=comp))
                out[f"Ea_{short}_global_eV"] = ea
                out[f"Ea_{short}_global_stderr_eV"] = err
                if per is not None and comp in per["component"].values:
                    sel = per.sel(component=comp)
                    if "segment" in sel.dims:
                        sel = sel.isel(segment=0)
                    ea1 = float(sel["activation_energy"])
                    err1 = float(sel["activation_energy_stderr"])
                    apart = abs(ea - ea1) > DISAGREE_SIGMAS * float(np.hypot(err, err1))
                    out[f"Ea_{short}_disagree"] = bool(apart and np.isfinite(ea + ea1))
        out["series_fit_note"] = str(glob.attrs.get("reason", ""))
        if "activation_energy" in glob:
            out["series_fit_shared"] = str(glob.attrs.get("shared", ""))
    if "model_free" in node.children and "sigma_dc_disagrees" in node["model_free"].ds:
        out["n_sigma_dc_disagree"] = int(node["model_free"].ds["sigma_dc_disagrees"].sum())
    return out


def format_series_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Lines under the summary table for samples with a global series fit: its E_a beside
    the per-spectrum one, and what disagrees."""
    lines = []
    for row in rows:
        if not any(k.endswith("_global_eV") for k in row):
            if row.get("series_fit_note"):
                lines.append(f"  {row['sample']}: no global fit ({row['series_fit_note']})")
            continue
        parts = []
        for short in ("bulk", "gb", "total"):
            if f"Ea_{short}_global_eV" not in row:
                continue
            glob = value_with_error(row[f"Ea_{short}_global_eV"],
                                    row[f"Ea_{short}_global_stderr_eV"])
            per = value_with_error(row.get(f"Ea_{short}_eV", np.nan),
                                   row.get(f"Ea_{short}_stderr_eV", np.nan))
            text = f"{short} {glob} (per spectrum {per})"
            if row.get(f"Ea_{short}_disagree"):
                text += " DISAGREE"
            parts.append(text)
        shared = f" (shared: {row['series_fit_shared']})" if row.get("series_fit_shared") else ""
        line = f"  {row['sample']}{shared}: " + "; ".join(parts)
        if row.get("series_fit_note"):
            line += f"  [{row['series_fit_note']}]"
        if row.get("n_sigma_dc_disagree"):
            line += (f"  ({row['n_sigma_dc_disagree']} spectra: model-free σ_dc > 20 % off "
                     "the circuit's σ)")
        lines.append(line)
    if lines:
        lines.insert(0, f"global series fit, E_a (eV); DISAGREE: > {DISAGREE_SIGMAS:g} combined "
                        "standard errors from the per-spectrum Arrhenius fit:")
    return lines


#: SI prefixes a conductivity column can be shown in, largest first: (factor from S/cm, unit).
_SIGMA_UNITS = ((1.0, "S/cm"), (1e3, "mS/cm"), (1e6, "µS/cm"), (1e9, "nS/cm"), (1e12, "pS/cm"))
#: Marks a σ(25 °C) extrapolated outside the measured temperature range.
EXTRAPOLATED_MARK = "*"


def sigma_unit(values_S_cm: Any) -> tuple[float, str]:
    """The factor and unit that put the median of ``values_S_cm`` in [1, 1000): one unit per
    column, chosen from the data, so sub-µS/cm values are not printed as ``0.00000561``."""
    values = np.abs(np.asarray(values_S_cm, dtype=float))
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return 1e3, "mS/cm"
    median = float(np.median(values))
    for factor, unit in _SIGMA_UNITS:
        if median * factor >= 1.0:
            return factor, unit
    return _SIGMA_UNITS[-1]


def value_with_error(value: float, err: float) -> str:
    """``value ± err`` with the value rounded to the error's first significant digit
    (at least three significant digits of the value); ``-`` when the value is missing."""
    if not np.isfinite(value):
        return "-"
    if not (np.isfinite(err) and err > 0):
        return f"{value:.3g}"
    digits_err = -int(np.floor(np.log10(err)))
    digits_value = 2 - int(np.floor(np.log10(abs(value)))) if value else 0
    decimals = max(0, digits_err, digits_value)
    return f"{value:.{decimals}f} ± {err:.{decimals}f}"


def format_table(header: list[str], rows: list[list[str]], *, gap: int = 2) -> list[str]:
    """Rows of strings as aligned text: the first column left-aligned, the others right;
    every column as wide as its widest cell plus ``gap`` spaces, so columns never touch."""
    widths = [max([len(header[i])] + [len(r[i]) for r in rows]) for i in range(len(header))]
    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = "".join(" " * gap + c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return first + rest
    head = line(header)
    return [head, "-" * len(head), *(line(r) for r in rows)]


def format_summary(tree: xr.DataTree) -> str:
    """The end-of-run table: per sample σ(25 °C) bulk/gb/total, E_a, fit quality, then the
    plausibility warnings stored with each sample.

    Each σ column is in the unit that suits its values (stated in its header); a σ(25 °C)
    extrapolated outside the measured temperature range is marked with ``*``.
    """
    rows = summary_rows(tree)
    shorts = [s for s in ("bulk", "gb", "total")
              if any(f"sigma25_{s}_S_cm" in r for r in rows)]
    units = {s: sigma_unit([r.get(f"sigma25_{s}_S_cm", np.nan) for r in rows]) for s in shorts}
    header = (["sample"] + [f"σ25 {s} ({units[s][1]})" for s in shorts]
              + [f"Ea {s} (eV)" for s in shorts] + ["fits ok", "KK fail"])
    cells = []
    any_extrapolated = False
    for row in rows:
        line = [str(row["sample"])]
        for s in shorts:
            factor = units[s][0]
            text = value_with_error(row.get(f"sigma25_{s}_S_cm", np.nan) * factor,
                                    row.get(f"sigma25_{s}_stderr_S_cm", np.nan) * factor)
            extrapolated = bool(row.get(f"sigma25_{s}_extrapolated", False)) and text != "-"
            any_extrapolated |= extrapolated
            line.append(text + (EXTRAPOLATED_MARK if extrapolated else " "))
        line += [value_with_error(row.get(f"Ea_{s}_eV", np.nan),
                                  row.get(f"Ea_{s}_stderr_eV", np.nan)) for s in shorts]
        line += [f"{row.get('n_converged', 0)}/{row.get('n_spectra', 0)}",
                 str(row.get("n_kk_failed", 0))]
        cells.append(line)
    lines = format_table(header, cells)
    any_extrapolated |= any(v is True for r in rows for k, v in r.items()
                            if k.startswith("sigma_ref_") and k.endswith("_extrapolated"))
    if any_extrapolated:
        lines.append(f"{EXTRAPOLATED_MARK} σ(25 °C) extrapolated outside the measured "
                     "temperature range (Arrhenius law assumed to hold)")
    lines += format_vtf_lines(rows)
    lines += format_reference_lines(rows)
    lines += format_series_lines(rows)
    best = tree["campaign"].attrs.get("best_sample") if "campaign" in tree.children else None
    if best:
        lines.append(f"best sample (highest total σ at 25 °C): {best}")
    for row in rows:
        lines += [f"warning: {row['sample']}: {w}"
                  for w in sample_warnings(tree, str(row["sample"]))]
    return "\n".join(lines)


def rows_csv_text(rows: list[dict[str, Any]]) -> str:
    """Dict rows as CSV text; the columns are every key, in order of first appearance."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv_summary(tree: xr.DataTree, path: str | Path) -> Path:
    """Write :func:`summary_rows` as CSV, atomically (temporary file, then rename)."""
    path = Path(path)
    text = rows_csv_text(summary_rows(tree))
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
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
