"""Random pellet-like circuits and a brute-force reference fit, for the property tests."""

from __future__ import annotations

import warnings

import numpy as np

from eis_pipeline.exceptions import ConvergenceWarning
from eis_pipeline.fitting import CircuitModel

F = np.logspace(6.5, -0.5, 71)


def random_case(rng: np.random.Generator, n_arcs: int) -> tuple[str, dict[str, float]]:
    """A circuit string (elements in random order, random indices) and true parameters:
    optional series R and L, ``n_arcs`` R‖CPE or R‖C arcs a decade or more apart in τ
    inside the window, optional blocking-electrode CPE whose impedance is a tenth of the
    arcs' two decades below the slowest apex (every feature resolvable)."""
    idx = iter(rng.permutation(10).tolist())
    terms: list[str] = []
    p: dict[str, float] = {}
    taus = np.sort(10.0 ** rng.uniform(-6.0, -3.0, n_arcs))
    for i in range(1, n_arcs):   # resolvable: at least a decade apart
        taus[i] = max(taus[i], taus[i - 1] * 10.0)
    for tau in taus:
        r, k = 10.0 ** rng.uniform(2, 5), next(idx)
        if rng.random() < 0.7:
            n = rng.uniform(0.75, 1.0)
            branch = [f"R{k}", f"CPE{k}"]
            p[f"R{k}"], p[f"CPE{k}_0"], p[f"CPE{k}_1"] = r, tau**n / r, n
        else:
            branch = [f"R{k}", f"C{k}"]
            p[f"R{k}"], p[f"C{k}"] = r, tau / r
        rng.shuffle(branch)
        terms.append(f"p({','.join(branch)})")
    scale = min(v for k, v in p.items() if k.startswith("R"))
    if rng.random() < 0.5:
        k = next(idx)
        terms.append(f"R{k}")
        p[f"R{k}"] = scale * 10.0 ** rng.uniform(-2, 0)
    if rng.random() < 0.3:
        k = next(idx)
        terms.append(f"L{k}")
        p[f"L{k}"] = 10.0 ** rng.uniform(-7, -6)
    if rng.random() < 0.7:
        k = next(idx)
        terms.append(f"CPE{k}")
        # a spike that rises above the arcs at the low end without hiding the slowest one
        n_e = rng.uniform(0.8, 0.95)
        r_tot = sum(v for name, v in p.items() if name.startswith("R"))
        w_slow = 1.0 / taus[-1]
        p[f"CPE{k}_0"], p[f"CPE{k}_1"] = 10.0 / (r_tot * (w_slow / 100.0) ** n_e), n_e
    rng.shuffle(terms)
    return "-".join(terms), p


def simulate(circuit: str, params: dict[str, float], rng: np.random.Generator,
             noise: float = 0.005, frequency: np.ndarray = F) -> np.ndarray:
    """Z at ``frequency`` (default :data:`F`) with relative complex Gaussian noise."""
    n = frequency.size
    z = CircuitModel(circuit).set_params_(params).predict(frequency)
    return z * (1 + noise * (rng.standard_normal(n) + 1j * rng.standard_normal(n)))


def brute_force_cost(circuit: str, z: np.ndarray, true: dict[str, float],
                     rng: np.random.Generator, n_starts: int = 50,
                     frequency: np.ndarray = F) -> float:
    """Lowest cost over ``n_starts`` single-start fits: the true parameters, and random
    starts log-uniform within two decades of them (exponents uniform in [0.5, 1])."""
    names = list(true)
    best = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i in range(n_starts):
            guess = dict(true) if i == 0 else {
                k: (rng.uniform(0.5, 1.0) if k.endswith("_1") else v * 10.0 ** rng.uniform(-2, 2))
                for k, v in true.items()}
            m = CircuitModel(circuit, initial_guess={k: guess[k] for k in names}).fit(
                frequency, z)
            best = min(best, m.result_.cost)
    return best
