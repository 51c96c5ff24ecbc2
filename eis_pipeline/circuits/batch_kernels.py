"""Loops over the rows of a batch around a circuit's generated ``evaluate`` kernel.

``evaluate`` arrives as a first-class function (:class:`eis_pipeline._jit.FirstClass`), so
these loops are compiled once for every circuit (:mod:`~eis_pipeline.circuits.codegen`).
"""

from __future__ import annotations

import numpy as np

from eis_pipeline._jit import kernel


@kernel
def evaluate_rows(evaluate, p, omega, grid_of, z, jac):  # pragma: no cover - compiled
    """Z (B, F) and dZ/dp (B, F, P) for parameter rows p (B, P), row b on ω[grid_of[b]]."""
    for b in range(p.shape[0]):
        evaluate(p[b], omega[grid_of[b]], z[b], jac[b])


@kernel
def impedance_rows(evaluate, p, omega, grid_of, z):  # pragma: no cover - compiled
    """Z (B, F) only (the Jacobian goes to a scratch row)."""
    scratch = np.empty((omega.shape[1], p.shape[1]), dtype=np.complex128)
    for b in range(p.shape[0]):
        evaluate(p[b], omega[grid_of[b]], z[b], scratch)
