"""Circuit families (issue 12): how often ``CircuitModel.fit`` reaches the optimum a 50-start
brute force finds, per family of circuit a user may write, and what a fit costs.

Each case is a random circuit of the family (tests/fitting/random_circuits.py, the property
tests' generator with the family's options fixed: random element indices and term order, arcs a
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

from tests.fitting.random_circuits import F, brute_force_cost, random_case, simulate

BRUTE_STARTS = 50


def _family(n_arcs: int, *, series_r: bool = False, inductance: bool = False,
            capacitor: bool = False, tail: str = "electrode"
            ) -> Callable[[np.random.Generator], tuple[str, dict[str, float]]]:
    """The family's case generator: the property tests' one, with its options fixed."""
    def make(rng: np.random.Generator) -> tuple[str, dict[str, float]]:
        return random_case(rng, n_arcs, series_r=series_r, inductance=inductance,
                           capacitor=capacitor, tail=tail)
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
            zs = [simulate(circuit, true, rng) for circuit, true in cases]
            CircuitModel(cases[0][0]).fit(F, zs[0])     # warm-up: compile this shape
            ratios, cpu, evals = [], [], []
            for (circuit, true), z in zip(cases, zs, strict=True):
                t0 = time.process_time()
                m = CircuitModel(circuit).fit(F, z)
                cpu.append(time.process_time() - t0)
                evals.append(m.result_.nfev)
                ratios.append(m.result_.cost / brute_force_cost(circuit, z, true, rng,
                                                                BRUTE_STARTS))
            r = np.array(ratios)
            lines.append(f"| {name} | {n_cases} | {np.mean(r <= 1.001):.0%} | {r.max():.4g} "
                         f"| {1e3 * np.median(cpu):.2f} | {np.median(evals):.0f} |")
    return "\n".join(lines)
