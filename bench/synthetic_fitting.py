"""Seeded synthetic pellet spectra for the fitting benchmark and tests (circuits A and B)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

CIRCUIT_A = "p(R1,CPE1)-p(R2,CPE2)-CPE3"
CIRCUIT_B = "L0-R1-p(R2,CPE2)-CPE3"


def grid(f_hi: float, f_lo: float, per_decade: int = 10) -> NDArray[np.float64]:
    """Log-spaced frequencies from f_hi down to f_lo (acquisition order of most analysers)."""
    n = round(float(np.log10(f_hi / f_lo)) * per_decade) + 1
    return np.logspace(np.log10(f_hi), np.log10(f_lo), n)


def _loguniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> NDArray[np.float64]:
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def _q_from_c(c: NDArray[np.float64], r: NDArray[np.float64],
              n: NDArray[np.float64]) -> NDArray[np.float64]:
    """CPE Q with effective capacitance c (Hsu-Mansfeld, PHYSICS.md 3): Q = C^n R^(n-1)."""
    return c**n * r ** (n - 1.0)


def params_a(rng: np.random.Generator, size: int) -> NDArray[np.float64]:
    """Circuit A: both arcs inside 7 MHz-1 Hz, the electrode spike visible below them."""
    out: list[NDArray[np.float64]] = []
    while sum(len(o) for o in out) < size:
        m = 4 * size
        cb, nb = _loguniform(rng, 1e-12, 1e-11, m), rng.uniform(0.85, 1.0, m)
        cg, ng = _loguniform(rng, 1e-10, 1e-8, m), rng.uniform(0.7, 1.0, m)
        qe, ne = _loguniform(rng, 1e-7, 1e-5, m), rng.uniform(0.7, 1.0, m)
        fb = _loguniform(rng, 2e4, 1e6, m)                 # bulk apex frequency
        fg = fb / _loguniform(rng, 30.0, 3000.0, m)       # gb apex, well below the bulk one
        rb = 1 / (2 * np.pi * fb * cb)
        rg = 1 / (2 * np.pi * fg * cg)
        # electrode corner: |Z_cpe| = R_b + R_gb; keep it above ~1 Hz and below the gb apex
        fc = (1 / (qe * (rb + rg))) ** (1 / ne) / (2 * np.pi)
        ok = (fg > 20.0) & (fc > 1.5) & (fc < fg / 10)
        p = np.stack([rb, _q_from_c(cb, rb, nb), nb, rg, _q_from_c(cg, rg, ng), ng, qe, ne],
                     axis=1)
        out.append(p[ok])
    return np.concatenate(out)[:size]


def params_b(rng: np.random.Generator, size: int) -> NDArray[np.float64]:
    """Circuit B: stray L, bulk intercept 2-500 ohm, gb arc and spike inside 1 MHz-0.1 Hz."""
    out: list[NDArray[np.float64]] = []
    while sum(len(o) for o in out) < size:
        m = 4 * size
        lo = _loguniform(rng, 1e-7, 2e-6, m)
        rb = _loguniform(rng, 2.0, 500.0, m)
        cg, ng = _loguniform(rng, 1e-10, 1e-8, m), rng.uniform(0.7, 1.0, m)
        qe, ne = _loguniform(rng, 1e-7, 1e-5, m), rng.uniform(0.7, 1.0, m)
        fg = _loguniform(rng, 100.0, 1e5, m)
        rg = 1 / (2 * np.pi * fg * cg)
        fc = (1 / (qe * (rb + rg))) ** (1 / ne) / (2 * np.pi)
        ok = (fc > 0.15) & (fc < fg / 10) & (rg > 0.5 * rb)
        p = np.stack([lo, rb, rg, _q_from_c(cg, rg, ng), ng, qe, ne], axis=1)
        out.append(p[ok])
    return np.concatenate(out)[:size]


def add_noise(rng: np.random.Generator, z: NDArray[np.complex128],
              level: float) -> NDArray[np.complex128]:
    """Proportional complex noise: each part gets N(0, (level |Z|)^2)."""
    scale = level * np.abs(z)
    return z + scale * (rng.standard_normal(z.shape) + 1j * rng.standard_normal(z.shape))
