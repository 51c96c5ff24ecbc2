"""Starting points and multi-start on the demo spectra: evaluations per fit (issue 12).

sample_data/ (24 spectra, four samples) fitted with each of the six candidate presets of
``--preset auto``, one batch per sample as a campaign does (``fit_arrays`` directly, which
reports the residual evaluations per fit, over all starts). With ``EIS_BENCH_BASELINE_TREE``
set to another checkout of the project, the same measurement runs there too (a subprocess
importing that tree) and both are reported side by side, in one run on one machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "sample_data"


def measure() -> dict[str, dict[str, float]]:
    """Per preset: median and mean evaluations per fit, converged fraction, fits/s."""
    import numpy as np

    from eis_pipeline import read_spectra
    from eis_pipeline.fitting.engine import fit_arrays
    from eis_pipeline.fitting.model import resolve_circuit
    from eis_pipeline.fitting.selection import DEFAULT_CANDIDATES
    from eis_pipeline.fitting.transforms import ParameterSpace

    groups = []
    for folder in sorted(p for p in DATA.iterdir() if p.is_dir()):
        spectra = [s for f in sorted(folder.iterdir()) for s in read_spectra(f)]
        n = max(s.sizes["frequency"] for s in spectra)
        f = np.full((len(spectra), n), np.nan)
        z = np.full((len(spectra), n), np.nan + 0j)
        for i, s in enumerate(spectra):
            m = s.sizes["frequency"]
            f[i, :m], z[i, :m] = s["frequency"].values, s["impedance"].values
        groups.append((f, z))
    out: dict[str, dict[str, float]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in DEFAULT_CANDIDATES:
            r = resolve_circuit(name)
            c = r.compiled
            space = ParameterSpace.build(c.param_names, c.param_kinds)
            nfev, conv = [], []
            for f, z in groups:   # warm-up (compilation, caches)
                fit_arrays(c, f, z, space=space, roles=r.roles,
                           bulk_from_intercept=r.bulk_from_intercept)
            t0 = time.perf_counter()
            for f, z in groups:
                fit = fit_arrays(c, f, z, space=space, roles=r.roles,
                                 bulk_from_intercept=r.bulk_from_intercept)
                nfev += fit.nfev.tolist()
                conv += fit.converged.tolist()
            dt = time.perf_counter() - t0
            out[name] = {"median": float(np.median(nfev)), "mean": float(np.mean(nfev)),
                         "converged": float(np.mean(conv)), "fits_per_s": len(nfev) / dt,
                         "n": len(nfev)}
    every = list(out.values())
    out["all presets"] = {
        "median": float(np.median([v["median"] for v in every])),
        "mean": float(np.mean([v["mean"] for v in every])),
        "converged": float(np.mean([v["converged"] for v in every])),
        "fits_per_s": float(np.mean([v["fits_per_s"] for v in every])),
        "n": float(sum(v["n"] for v in every))}
    return out


def run(quick: bool = False) -> str:
    lines = ["## Starting points: evaluations per fit on sample_data/ (fitstart)", ""]
    if not DATA.exists():
        return "\n".join([*lines, "sample_data/ not present: skipped."])
    now = measure()
    base = None
    tree = os.environ.get("EIS_BENCH_BASELINE_TREE")
    if tree:
        env = {**os.environ, "PYTHONPATH": tree}
        done = subprocess.run([sys.executable, __file__, "--measure"], env=env, text=True,
                              capture_output=True, check=True)
        base = json.loads(done.stdout.strip().splitlines()[-1])
    lines += ["24 demo spectra, one batch per sample (6 spectra), each of the six "
              "`--preset auto` candidates; evaluations per fit summed over every start "
              "solved (and the one evaluation per start that ranks them). fits/s after a "
              "warm-up, one core, compiled paths. 'all presets' = median of the per-preset "
              "medians.", ""]
    if base is not None:
        lines += [f"Baseline: {tree} in the same run.", "",
                  "| preset | median eval. before | after | ratio | mean before | after | "
                  "converged before | after | fits/s before | after |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, v in now.items():
            b = base[name]
            lines.append(f"| {name} | {b['median']:.1f} | {v['median']:.1f} | "
                         f"{b['median'] / v['median']:.2f}x | {b['mean']:.0f} | "
                         f"{v['mean']:.0f} | {100 * b['converged']:.0f} % | "
                         f"{100 * v['converged']:.0f} % | {b['fits_per_s']:.0f} | "
                         f"{v['fits_per_s']:.0f} |")
    else:
        lines += ["| preset | median evaluations | mean | converged | fits/s |",
                  "|---|---:|---:|---:|---:|"]
        for name, v in now.items():
            lines.append(f"| {name} | {v['median']:.1f} | {v['mean']:.0f} | "
                         f"{100 * v['converged']:.0f} % | {v['fits_per_s']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__" and "--measure" in sys.argv:
    print(json.dumps(measure()))
