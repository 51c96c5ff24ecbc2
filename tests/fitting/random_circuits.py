"""Random pellet-like circuits and a brute-force reference fit: one generator for the
property tests (driven by a numpy seed or by hypothesis) and for ``bench/bench_families.py``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from hypothesis import strategies as st

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.exceptions import ConvergenceWarning
from eis_pipeline.fitting import CircuitModel

F = np.logspace(6.5, -0.5, 71)
TAILS = ("electrode", "Wo", "Ws", "none")


def random_case(rng: Any, n_arcs: int, *, series_r: bool | None = None,
                inductance: bool | None = None, capacitor: bool | None = None,
                tail: str | None = None) -> tuple[str, dict[str, float]]:
    """A circuit string (elements in random order, random indices) and true parameters:
    ``n_arcs`` R‖CPE or R‖C arcs a decade or more apart in τ inside the window, then an
    optional series R and L and a low-frequency tail: a blocking-electrode CPE whose
    impedance is a tenth of the arcs' two decades below the slowest apex, or a finite
    Warburg (``Wo``/``Ws``) with its knee one to two decades below that apex (every feature
    resolvable).

    Each option left ``None`` is drawn (R 50 %, L 30 %, each arc R‖C 30 %, electrode 70 %
    else no tail); ``capacitor=True`` makes the first arc an R‖C and the others R‖CPE.
    ``rng`` is a ``numpy.random.Generator`` or a :class:`DrawnRandom`; the draws of the
    all-``None`` case are the ones the measured seed rates (docs/fitting.md) were taken with.
    """
    idx = iter(rng.permutation(10).tolist())
    terms: list[str] = []
    p: dict[str, float] = {}
    taus = np.sort(10.0 ** rng.uniform(-6.0, -3.0, n_arcs))
    for i in range(1, n_arcs):   # resolvable: at least a decade apart
        taus[i] = max(taus[i], taus[i - 1] * 10.0)
    for j, tau in enumerate(taus):
        r, k = 10.0 ** rng.uniform(2, 5), next(idx)
        rc = rng.random() >= 0.7 if capacitor is None else capacitor and j == 0
        if not rc:
            n = rng.uniform(0.75, 1.0)
            branch = [f"R{k}", f"CPE{k}"]
            p[f"R{k}"], p[f"CPE{k}_0"], p[f"CPE{k}_1"] = r, tau**n / r, n
        else:
            branch = [f"R{k}", f"C{k}"]
            p[f"R{k}"], p[f"C{k}"] = r, tau / r
        rng.shuffle(branch)
        terms.append(f"p({','.join(branch)})")
    scale = min(v for k, v in p.items() if k.startswith("R"))
    if rng.random() < 0.5 if series_r is None else series_r:
        k = next(idx)
        terms.append(f"R{k}")
        p[f"R{k}"] = scale * 10.0 ** rng.uniform(-2, 0)
    if rng.random() < 0.3 if inductance is None else inductance:
        k = next(idx)
        terms.append(f"L{k}")
        p[f"L{k}"] = 10.0 ** rng.uniform(-7, -6)
    if tail is None:
        tail = "electrode" if rng.random() < 0.7 else "none"
    r_tot = sum(v for name, v in p.items() if name.startswith("R"))
    if tail == "electrode":
        k = next(idx)
        terms.append(f"CPE{k}")
        # a spike that rises above the arcs at the low end without hiding the slowest one
        n_e = rng.uniform(0.8, 0.95)
        w_slow = 1.0 / taus[-1]
        p[f"CPE{k}_0"], p[f"CPE{k}_1"] = 10.0 / (r_tot * (w_slow / 100.0) ** n_e), n_e
    elif tail in ("Wo", "Ws"):
        # a finite diffusion below the slowest arc, inside the window (τ <= 0.3 s; the
        # window's low end, 0.3 Hz, is ω = 1.9/s)
        k = next(idx)
        terms.append(f"{tail}{k}")
        p[f"{tail}{k}_0"] = r_tot * 10.0 ** rng.uniform(-0.5, 0.5)
        p[f"{tail}{k}_1"] = min(taus[-1] * 10.0 ** rng.uniform(1, 2), 0.3)
    elif tail != "none":
        raise ValueError(f"tail must be one of {TAILS}, not {tail!r}")
    rng.shuffle(terms)
    return "-".join(terms), p


class DrawnRandom:
    """The part of ``numpy.random.Generator`` that :func:`random_case` uses, with every
    value drawn from a hypothesis strategy: hypothesis then generates (and shrinks) the
    circuits themselves, not seeds."""

    def __init__(self, draw: Any) -> None:
        self._draw = draw

    def uniform(self, low: float, high: float, size: int | None = None) -> Any:
        values = [self._draw(st.floats(low, high)) for _ in range(1 if size is None else size)]
        return values[0] if size is None else np.array(values)

    def random(self) -> float:
        return float(self._draw(st.floats(0.0, 1.0, exclude_max=True)))

    def permutation(self, n: int) -> np.ndarray:
        return np.array(self._draw(st.permutations(range(n))))

    def shuffle(self, x: list[str]) -> None:
        x[:] = self._draw(st.permutations(x))


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
    starts log-uniform within two decades of them (exponents uniform in [0.5, 1]; by
    parameter kind, so a Warburg's time constant counts as positive)."""
    kinds = dict(zip(compile_circuit(circuit).param_names,
                     compile_circuit(circuit).param_kinds, strict=True))
    best = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i in range(n_starts):
            guess = dict(true) if i == 0 else {
                k: (rng.uniform(0.5, 1.0) if kinds[k] == "exponent"
                    else v * 10.0 ** rng.uniform(-2, 2)) for k, v in true.items()}
            m = CircuitModel(circuit, initial_guess=guess).fit(frequency, z)
            best = min(best, m.result_.cost)
    return best
