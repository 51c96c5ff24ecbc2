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
from functools import partial
from pathlib import Path
from typing import Any

from bench.threads import one_blas_thread

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "sample_data"


REPEATS = 3


def _fit_groups(compiled: Any, space: Any, roles: Any, bulk_from_intercept: bool,
                groups: list[tuple[Any, Any]]) -> list[Any]:
    """One ``fit_arrays`` call per sample, as a campaign batches them."""
    from eis_pipeline.fitting.engine import fit_arrays

    return [fit_arrays(compiled, f, z, space=space, roles=roles,
                       bulk_from_intercept=bulk_from_intercept) for f, z in groups]


def _impedance_py(name: str, groups: list[tuple[Any, Any]], fits: list[Any]
                  ) -> dict[str, float]:
    """impedance.py's ``CustomCircuit.fit(weight_by_modulus=True)`` on the same spectra from
    our first data-driven start (its fitter needs a start): fits per CPU second, and the share
    of its fits within 0.1 % of our cost (the same modulus-weighted objective)."""
    import numpy as np
    from impedance.models.circuits import CustomCircuit

    from bench.bench_fitting import modulus_cost
    from eis_pipeline.fitting.initial import initial_guesses
    from eis_pipeline.fitting.model import resolve_circuit

    r = resolve_circuit(name)
    c = r.compiled
    cpu, at_ours, n = 0.0, 0, 0
    for (f, z), fit in zip(groups, fits, strict=True):
        starts = initial_guesses(f, z, c.param_names, r.roles, r.bulk_from_intercept)[:, 0]
        for i in range(f.shape[0]):
            keep = np.isfinite(f[i])
            fi, zi = f[i, keep], z[i, keep]
            cc = CustomCircuit(c.circuit, initial_guess=list(starts[i]))
            t0 = time.process_time()
            try:
                cc.fit(fi, zi, weight_by_modulus=True)
                p = np.asarray(cc.parameters_)
            except (RuntimeError, ValueError):   # curve_fit gave up: not at the optimum
                p = np.full(len(c.param_names), np.nan)
            cpu += time.process_time() - t0
            cost = float(modulus_cost(c, p, fi, zi)[0])
            ours = float(modulus_cost(c, fit.params[i], fi, zi)[0])
            at_ours += bool(cost <= ours * (1 + 1e-3))
            n += 1
    return {"ref_fits_per_s": n / cpu, "ref_at_ours": at_ours / n}


def measure(reference: bool = True) -> dict[str, dict[str, float]]:
    """Per preset: median and mean evaluations per fit, converged fraction, fits per CPU
    second (best of :data:`REPEATS`, one BLAS thread); with ``reference`` also impedance.py's
    fits of the same spectra (:func:`_impedance_py`)."""
    import numpy as np

    from eis_pipeline import read_spectra
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
    pooled: list[int] = []   # evaluations of every fit of every preset
    with warnings.catch_warnings(), one_blas_thread():
        warnings.simplefilter("ignore")
        for name in DEFAULT_CANDIDATES:
            r = resolve_circuit(name)
            c = r.compiled
            space = ParameterSpace.build(c.param_names, c.param_kinds)
            fit_all = partial(_fit_groups, c, space, r.roles, r.bulk_from_intercept, groups)
            fit_all()   # warm-up (compilation, caches)
            cpu = []
            for _ in range(REPEATS):
                t0 = time.process_time()
                fits = fit_all()
                cpu.append(time.process_time() - t0)
            nfev = [n for fit in fits for n in fit.nfev.tolist()]
            conv = [v for fit in fits for v in fit.converged.tolist()]
            out[name] = {"median": float(np.median(nfev)), "mean": float(np.mean(nfev)),
                         "converged": float(np.mean(conv)), "fits_per_s": len(nfev) / min(cpu),
                         "n": len(nfev), "cpu": min(cpu)}
            pooled += nfev
            if reference:
                out[name].update(_impedance_py(name, groups, fits))
    every = list(out.values())
    n_fits = sum(v["n"] for v in every)
    out["all presets"] = {
        "median": float(np.median(pooled)), "mean": float(np.mean(pooled)),
        "converged": float(np.sum([v["converged"] * v["n"] for v in every]) / n_fits),
        "fits_per_s": n_fits / sum(v["cpu"] for v in every), "n": n_fits}
    if reference:
        out["all presets"]["ref_fits_per_s"] = n_fits / sum(v["n"] / v["ref_fits_per_s"]
                                                            for v in every)
        out["all presets"]["ref_at_ours"] = float(
            np.sum([v["ref_at_ours"] * v["n"] for v in every]) / n_fits)
    return out


def _reference(v: dict[str, float]) -> str:
    return (f"{v['ref_fits_per_s']:.1f} | {100 * v['ref_at_ours']:.0f} % | "
            f"{v['fits_per_s'] / v['ref_fits_per_s']:.0f}x")


def run(quick: bool = False) -> str:
    lines = ["## Starting points: evaluations per fit on sample_data/ (fitstart)", ""]
    if not DATA.exists():
        return "\n".join([*lines, "sample_data/ not present: skipped."])
    now = measure()
    base = None
    tree = os.environ.get("EIS_BENCH_BASELINE_TREE")
    if tree:
        # this file and bench/ from here, eis_pipeline from the baseline tree
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, __file__, "--measure", tree], env=env,
                              text=True, capture_output=True, check=True)
        base = json.loads(done.stdout.strip().splitlines()[-1])
    lines += ["24 demo spectra, one batch per sample (6 spectra), each of the six "
              "`--preset auto` candidates; evaluations per fit summed over every start "
              "solved (and the one evaluation per start that ranks them). fits/s: fits per "
              f"CPU second, the best of {REPEATS} after a warm-up, one BLAS thread, compiled "
              "paths. impedance.py: `CustomCircuit.fit(weight_by_modulus=True)` of the same "
              "spectra in the same run, from our first data-driven start; *at ours*: its "
              "cost within 0.1 % of ours. 'all presets': every fit of the six presets pooled "
              "(median and mean of all fits; fits/s = all fits / all CPU time). Load "
              f"average at the start: {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores.", ""]
    if base is not None:
        lines += [f"Baseline: {tree} in the same run.", "",
                  "| preset | median eval. before | after | ratio | mean before | after | "
                  "converged before | after | fits/s before | after | impedance.py fits/s "
                  "| at ours | ours / impedance.py |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, v in now.items():
            b = base[name]
            lines.append(f"| {name} | {b['median']:.1f} | {v['median']:.1f} | "
                         f"{b['median'] / v['median']:.2f}x | {b['mean']:.0f} | "
                         f"{v['mean']:.0f} | {100 * b['converged']:.0f} % | "
                         f"{100 * v['converged']:.0f} % | {b['fits_per_s']:.0f} | "
                         f"{v['fits_per_s']:.0f} | {_reference(v)} |")
    else:
        lines += ["| preset | median evaluations | mean | converged | fits/s | impedance.py "
                  "fits/s | at ours | ours / impedance.py |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, v in now.items():
            lines.append(f"| {name} | {v['median']:.1f} | {v['mean']:.0f} | "
                         f"{100 * v['converged']:.0f} % | {v['fits_per_s']:.0f} | "
                         f"{_reference(v)} |")
    return "\n".join(lines)


if __name__ == "__main__" and "--measure" in sys.argv:
    sys.path.insert(0, sys.argv[sys.argv.index("--measure") + 1])
    print(json.dumps(measure(reference=False)))
