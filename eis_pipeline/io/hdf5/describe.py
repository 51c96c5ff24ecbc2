"""A human-readable summary of a results file (:func:`describe_results`, for
``eis-pipeline inspect``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from eis_pipeline.io.hdf5.read import read_results

__all__ = ["RESERVED_GROUPS", "describe_results"]

#: Top-level groups that are not samples.
RESERVED_GROUPS = ("campaign", "failures")


def _fmt_sigma(value: float, err: float | None) -> str:
    if not np.isfinite(value):
        return "-"
    if err is not None and np.isfinite(err):
        return f"{value:.2e} ± {err:.1e}"
    return f"{value:.2e}"


def describe_results(path: str | Path) -> str:
    """A human-readable summary of a results file (for ``eis-pipeline inspect``).

    Lists the samples with their number of spectra, fit status counts and σ(25 °C) per
    component (when the file has Arrhenius results), then the failures.
    """
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
    ]
    components: list[str] = []
    for name in samples:
        arr = tree[name].get("arrhenius")
        if isinstance(arr, xr.DataTree) and "component" in arr.ds.coords:
            components += [str(c) for c in arr.ds["component"].values if str(c) not in components]
    head = f"  {'sample':<16}{'spectra':>8}{'fits ok':>9}{'failed':>8}"
    head += "".join(f"  {'σ25 ' + c + ' (S/cm)':>26}" for c in components)
    lines += ["", head]
    for name in samples:
        node = tree[name]
        n_spectra: int | str = "-"
        if "spectra" in node.children:
            n_spectra = int(node["spectra"].ds.sizes.get("spectrum", 0))
        ok: int | str = "-"
        bad: int | str = "-"
        if "fit" in node.children and "status" in node["fit"].ds:
            status = np.asarray(node["fit"].ds["status"].values)
            ok, bad = int(np.sum(status == 0)), int(np.sum(status != 0))
            if n_spectra == "-":
                n_spectra = int(status.size)
        row = f"  {name:<16}{n_spectra!s:>8}{ok!s:>9}{bad!s:>8}"
        arr_ds = node["arrhenius"].ds if "arrhenius" in node.children else None
        for comp in components:
            text = "-"
            if arr_ds is not None and "sigma_25C" in arr_ds and comp in arr_ds["component"]:
                value = float(arr_ds["sigma_25C"].sel(component=comp))
                err = (float(arr_ds["sigma_25C_stderr"].sel(component=comp))
                       if "sigma_25C_stderr" in arr_ds else None)
                text = _fmt_sigma(value, err)
            row += f"  {text:>26}"
        lines.append(row)
    if "campaign" in tree.children and tree["campaign"].attrs.get("best_sample"):
        lines += ["", f"  best sample {tree['campaign'].attrs['best_sample']} "
                      "(highest total σ at 25 °C)"]
    if "failures" in tree.children:
        fails = tree["failures"].ds
        dims = list(fails.sizes)
        n = int(fails.sizes[dims[0]]) if dims else 0
        lines += ["", f"  failures    {n}"]
        for i in range(n):
            fields = [f"{fails[v].values[i]!s}" for v in fails.data_vars
                      if fails[v].dims == (dims[0],)]
            lines.append("    " + " | ".join(fields))
    else:
        lines += ["", "  failures    0"]
    return "\n".join(lines)
