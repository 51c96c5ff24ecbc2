"""Circuit families (issue 12): how often ``CircuitModel.fit`` reaches the optimum a 50-start
brute force finds, per family of circuit a user may write, and what a fit costs.

Each case is a random circuit of the family (random element indices and term order, arcs a
decade or more apart inside the window, 0.5 % noise at 71 frequencies, 3 MHz - 0.3 Hz) with
known parameters. "At the optimum": our one call's cost <= the brute force's lowest cost
+ 0.1 %. The brute force is the true parameters plus 49 single-start fits from random
points, positive parameters log-uniform within two decades of the truth and exponents
uniform in [0.5, 1] (by parameter kind, so a Warburg's time constant counts as positive).
Times: median CPU per ``CircuitModel(circuit).fit`` after a warm-up of the family.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable

import numpy as np

F = np.logspace(6.5, -0.5, 71)
BRUTE_STARTS = 50


def _arcs(rng: np.random.Generator, idx: list[int], n: int, capacitor: bool = False
          ) -> tuple[list[str], dict[str, float], np.ndarray]:
    """``n`` R‖CPE arcs (the first an R‖C when ``capacitor``) a decade or more apart."""
    taus = np.sort(10.0 ** rng.uniform(-6.0, -3.0, n))
    for i in range(1, n):
        taus[i] = max(taus[i], taus[i - 1] * 10.0)
    terms, p = [], {}
    for j, tau in enumerate(taus):
        r, k = 10.0 ** rng.uniform(2, 5), idx.pop()
        if capacitor and j == 0:
            branch = [f"R{k}", f"C{k}"]
            p[f"R{k}"], p[f"C{k}"] = r, tau / r
        else:
            n_exp = rng.uniform(0.75, 1.0)
            branch = [f"R{k}", f"CPE{k}"]
            p[f"R{k}"], p[f"CPE{k}_0"], p[f"CPE{k}_1"] = r, tau**n_exp / r, n_exp
        rng.shuffle(branch)
        terms.append(f"p({','.join(branch)})")
    return terms, p, taus


def _electrode(rng: np.random.Generator, k: int, p: dict[str, float], slowest_tau: float
               ) -> tuple[str, dict[str, float]]:
    """A blocking-electrode CPE rising above the arcs below the slowest apex."""
    n_e = rng.uniform(0.8, 0.95)
    r_tot = sum(v for name, v in p.items() if name.startswith("R"))
    w_slow = 1.0 / slowest_tau
    return f"CPE{k}", {f"CPE{k}_0": 10.0 / (r_tot * (w_slow / 100.0) ** n_e), f"CPE{k}_1": n_e}


def _family(n_arcs: int, *, series_r: bool = False, inductance: bool = False,
            capacitor: bool = False, tail: str = "electrode"
            ) -> Callable[[np.random.Generator], tuple[str, dict[str, float]]]:
    def make(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
        idx = rng.permutation(10).tolist()
        terms, p, taus = _arcs(rng, idx, n_arcs, capacitor)
        r_min = min(v for k, v in p.items() if k.startswith("R"))
        r_tot = sum(v for k, v in p.items() if k.startswith("R"))
        if series_r:
            k = idx.pop()
            terms.append(f"R{k}")
            p[f"R{k}"] = r_min * 10.0 ** rng.uniform(-2, 0)
        if inductance:
            k = idx.pop()
            terms.append(f"L{k}")
            p[f"L{k}"] = 10.0 ** rng.uniform(-7, -6)
        if tail == "electrode":
            term, extra = _electrode(rng, idx.pop(), p, taus[-1])
            terms.append(term)
            p.update(extra)
        elif tail in ("Wo", "Ws"):
            # a finite diffusion below the slowest arc, its knee (ωτ ~ 1) one to two decades
            # below that arc's apex and inside the window (τ <= 0.3 s; 0.3 Hz is ω = 1.9/s)
            k = idx.pop()
            terms.append(f"{tail}{k}")
            p[f"{tail}{k}_0"] = r_tot * 10.0 ** rng.uniform(-0.5, 0.5)
            p[f"{tail}{k}_1"] = min(taus[-1] * 10.0 ** rng.uniform(1, 2), 0.3)
        rng.shuffle(terms)
        return "-".join(terms), p
    return make


#: (family, generator): the shapes issue 12 names
FAMILIES = (
    ("two arcs + electrode (the bulk-gb-electrode shape, renamed)", _family(2)),
    ("series R + two arcs + electrode", _family(2, series_r=True)),
    ("inductance + two arcs + electrode", _family(2, inductance=True)),
    ("R‖C + R‖CPE + electrode", _family(2, capacitor=True)),
    ("one arc + electrode", _family(1)),
    ("three arcs + electrode", _family(3)),
    ("two arcs + finite-space Warburg (Wo, coth, reflective)", _family(2, tail="Wo")),
    ("two arcs + finite-length Warburg (Ws, tanh, transmissive)", _family(2, tail="Ws")),
)


def _brute_force(circuit: str, z: np.ndarray, true: dict[str, float],
                 rng: np.random.Generator) -> float:
    from eis_pipeline.circuits import compile_circuit
    from eis_pipeline.fitting import CircuitModel

    kinds = dict(zip(compile_circuit(circuit).param_names,
                     compile_circuit(circuit).param_kinds, strict=True))
    best = np.inf
    for i in range(BRUTE_STARTS):
        guess = dict(true) if i == 0 else {
            k: (rng.uniform(0.5, 1.0) if kinds[k] == "exponent"
                else v * 10.0 ** rng.uniform(-2, 2)) for k, v in true.items()}
        best = min(best, CircuitModel(circuit, initial_guess=guess).fit(F, z).result_.cost)
    return best


def run(quick: bool = False) -> str:
    from eis_pipeline.exceptions import ConvergenceWarning
    from eis_pipeline.fitting import CircuitModel

    n_cases = 6 if quick else 30
    lines = ["## Circuit families: our fit against a 50-start brute force", "",
             f"{n_cases} random circuits per family (random indices and term order), 0.5 % "
             "noise, 71 frequencies 3 MHz - 0.3 Hz, seed 20261207; at the optimum = cost <= "
             "brute-force best + 0.1 % (bench/bench_families.py says how the brute force "
             "starts). CPU ms: median of one `CircuitModel(circuit).fit` per case. Load "
             f"average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.", "",
             "| family | cases | at the optimum | worst ratio to the brute force | median CPU ms "
             "| median evaluations |", "|---|---:|---:|---:|---:|---:|"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, make in FAMILIES:
            rng = np.random.default_rng(20261207)
            cases = [make(rng) for _ in range(n_cases)]
            zs = []
            for circuit, true in cases:
                z = CircuitModel(circuit).set_params_(true).predict(F)
                zs.append(z * (1 + 0.005 * (rng.standard_normal(F.size)
                                            + 1j * rng.standard_normal(F.size))))
            CircuitModel(cases[0][0]).fit(F, zs[0])     # warm-up: compile this shape
            ratios, cpu, evals = [], [], []
            for (circuit, true), z in zip(cases, zs, strict=True):
                t0 = time.process_time()
                m = CircuitModel(circuit).fit(F, z)
                cpu.append(time.process_time() - t0)
                evals.append(m.result_.nfev)
                ratios.append(m.result_.cost / _brute_force(circuit, z, true, rng))
            r = np.array(ratios)
            lines.append(f"| {name} | {n_cases} | {np.mean(r <= 1.001):.0%} | {r.max():.4g} "
                         f"| {1e3 * np.median(cpu):.2f} | {np.median(evals):.0f} |")
    return "\n".join(lines)
