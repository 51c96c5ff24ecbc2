"""What ``eis-pipeline inspect`` prints: a results file's samples, or an export's sweeps.

Text for a person, built with the same table layout and σ units as the end-of-run summary
(:mod:`eis_pipeline.report.tables`): one unit per σ column, chosen from its values.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from eis_pipeline.conventions import ZERO_CELSIUS_K
from eis_pipeline.io.hdf5.read import read_results
from eis_pipeline.io.registry import read_spectra
from eis_pipeline.report.tables import format_table, sigma_unit, value_with_error

__all__ = ["RESERVED_GROUPS", "describe_results", "describe_spectra"]

#: Top-level groups of a results file that are not samples.
RESERVED_GROUPS = ("campaign", "failures")
#: Attributes every spectrum has; the others are listed by :func:`describe_spectra`.
_COMMON_ATTRS = {"source", "source_sha256", "source_format", "instrument", "sweep",
                 "original_metadata"}


def _n_spectra(node: xr.DataTree) -> int | None:
    """Spectra of a sample node: one group each, or one packed group with a spectrum axis."""
    if "spectra" in node.children:
        spectra = node["spectra"]
        return int(spectra.ds.sizes["spectrum"]) if "spectrum" in spectra.ds.sizes \
            else len(spectra.children)
    if "fit" in node.children and "status" in node["fit"].ds:
        return int(node["fit"].ds["status"].size)
    return None


def describe_results(path: str | Path) -> str:
    """A results file in a few lines: campaign, samples with their spectra, fit counts and
    σ(25 °C) per component, the best sample, then every failure with its reason."""
    path = Path(path)
    tree = read_results(path)
    attrs = tree.attrs
    try:
        config = json.loads(str(attrs.get("config", "{}")))
    except json.JSONDecodeError:
        config = {}
    samples = [name for name in tree.children if name not in RESERVED_GROUPS]
    lines = [
        f"{path}",
        f"  campaign    {config.get('name', '') or '(unnamed)'}",
        f"  created     {attrs.get('created', 'unknown')} by eis_pipeline "
        f"{attrs.get('eis_pipeline_version', '?')}",
        f"  samples     {len(samples)}",
        "",
    ]
    arrhenius = {name: tree[name]["arrhenius"].ds for name in samples
                 if "arrhenius" in tree[name].children}
    components = list(dict.fromkeys(str(c) for ds in arrhenius.values()
                                    if "sigma_25C" in ds for c in ds["component"].values))
    units = {c: sigma_unit([float(ds["sigma_25C"].sel(component=c)) for ds in arrhenius.values()
                            if c in ds["component"]]) for c in components}
    header = (["sample", "spectra", "fits ok", "failed"]
              + [f"σ25 {c} ({units[c][1]})" for c in components])
    rows = []
    for name in samples:
        node = tree.children[name]
        n = _n_spectra(node)
        ok = bad = "-"
        if "fit" in node.children and "status" in node["fit"].ds:
            status = np.asarray(node["fit"].ds["status"].values)
            ok, bad = str(int(np.sum(status == 0))), str(int(np.sum(status != 0)))
        row = [name, "-" if n is None else str(n), ok, bad]
        ds = arrhenius.get(name)
        for c in components:
            if ds is None or c not in ds["component"]:
                row.append("-")
                continue
            factor = units[c][0]
            err = (float(ds["sigma_25C_stderr"].sel(component=c)) if "sigma_25C_stderr" in ds
                   else np.nan)
            row.append(value_with_error(float(ds["sigma_25C"].sel(component=c)) * factor,
                                        err * factor))
        rows.append(row)
    lines += ["  " + line for line in format_table(header, rows)]
    if "campaign" in tree.children and tree["campaign"].attrs.get("best_sample"):
        lines += ["", f"  best sample {tree['campaign'].attrs['best_sample']} "
                      "(highest total σ at 25 °C)"]
    fails = tree["failures"].ds if "failures" in tree.children else xr.Dataset()
    dims = list(fails.sizes)
    n_fail = int(fails.sizes[dims[0]]) if dims else 0
    lines += ["", f"  failures    {n_fail}"]
    for i in range(n_fail):
        fields = [f"{fails[v].values[i]!s}" for v in fails.data_vars
                  if fails[v].dims == (dims[0],)]
        lines.append("    " + " | ".join(fields))
    return "\n".join(lines)


def describe_spectra(path: Path, format: str | None = None) -> str:
    """An instrument export in a few lines: format, instrument, one row per sweep (points,
    frequency and |Z| range, mean temperature), its other attributes and header metadata."""
    spectra = read_spectra(path, format=format)
    first = spectra[0]
    lines = [
        f"{path}",
        f"  format      {first.attrs['source_format']}",
        f"  instrument  {first.attrs.get('instrument') or 'unknown'}",
        f"  sha256      {first.attrs['source_sha256'][:16]}...",
        f"  sweeps      {len(spectra)}",
        "",
    ]
    rows = []
    for ds in spectra:
        f = ds.frequency.values
        z = np.abs(ds.impedance.values)
        temp = ""
        if "temperature" in ds:
            t = ds.temperature.values
            t = t[np.isfinite(t)]
            if t.size:
                temp = f"{np.mean(t) - ZERO_CELSIUS_K:.2f}"
        rows.append([str(ds.attrs["sweep"]), str(f.size), f"{f.max():.4g}", f"{f.min():.4g}",
                     f"{z.min():.4g}", f"{z.max():.4g}", temp])
    header = ["sweep", "points", "f_max (Hz)", "f_min (Hz)", "|Z|min (ohm)", "|Z|max (ohm)",
              "T (°C)"]
    lines += ["  " + line for line in format_table(header, rows)]
    extra = sorted(set().union(*(set(ds.attrs) for ds in spectra)) - _COMMON_ATTRS)
    if extra:
        lines.append("")
        width = max(12, *(len(key) + 2 for key in extra))
        lines += [f"  {key:<{width}}{first.attrs.get(key)}" for key in extra]
    meta = json.loads(first.attrs.get("original_metadata") or "{}")
    if meta:
        lines += ["", "  metadata (first sweep):"]
        for key, value in list(meta.items())[:25]:
            text = str(value)
            lines.append(f"    {key}: {text[:70] + '...' if len(text) > 70 else text}")
        if len(meta) > 25:
            lines.append(f"    ... {len(meta) - 25} more entries")
    return "\n".join(lines)
