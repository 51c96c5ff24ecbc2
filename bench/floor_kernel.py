"""The arithmetic floor: one hand-specialised Z + Jacobian of the pellet circuit.

``p(R1,CPE1)-p(R2,CPE2)-CPE3`` (8 parameters) at 61 log-spaced points, written out by hand in
numba: no circuit program, no transforms, no allocation. A fit iteration needs at least one such
evaluation, so end-to-end CPU time per spectrum divided by this time says how many "fit
iterations' worth" of arithmetic a spectrum costs (issue 15's unit). It is timed in the same
run as what it is compared with, so machine load affects both alike.

For a parallel RC-like element ``p(R, CPE)`` with CPE admittance Q (jω)^n:
``Z = R / (1 + R Q (jω)^n)``, ``∂Z/∂R = 1 / D²``, ``∂Z/∂Q = -R² (jω)^n / D²``,
``∂Z/∂n = -R² Q (jω)^n ln(jω) / D²`` with ``D = 1 + R Q (jω)^n``; for the series CPE
``Z = 1 / (Q (jω)^n)``, ``∂Z/∂Q = -Z / Q``, ``∂Z/∂n = -Z ln(jω)``.
"""

from __future__ import annotations

import time

import numba
import numpy as np

N_POINTS = 61
PARAMS = np.array([1.0e3, 1.0e-10, 0.95, 3.0e3, 1.0e-8, 0.85, 1.0e-6, 0.8])


@numba.njit(cache=True)
def _evaluate(omega: np.ndarray, p: np.ndarray, z: np.ndarray, jac: np.ndarray) -> None:
    r1, q1, n1, r2, q2, n2, q3, n3 = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
    # (jω)^n = ω^n e^{jnπ/2}: the phase factors are per parameter set, the powers real.
    half_pi = 0.5 * np.pi
    e1 = np.cos(n1 * half_pi) + 1j * np.sin(n1 * half_pi)
    e2 = np.cos(n2 * half_pi) + 1j * np.sin(n2 * half_pi)
    e3 = np.cos(n3 * half_pi) + 1j * np.sin(n3 * half_pi)
    for i in range(omega.size):
        log_w = np.log(omega[i])
        log_jw = log_w + 1j * half_pi  # ln(jω)
        s1 = np.exp(n1 * log_w) * e1
        s2 = np.exp(n2 * log_w) * e2
        s3 = np.exp(n3 * log_w) * e3
        d1 = 1.0 + r1 * q1 * s1
        d2 = 1.0 + r2 * q2 * s2
        inv1 = 1.0 / (d1 * d1)
        inv2 = 1.0 / (d2 * d2)
        z3 = 1.0 / (q3 * s3)
        z[i] = r1 / d1 + r2 / d2 + z3
        jac[i, 0] = inv1
        jac[i, 1] = -r1 * r1 * s1 * inv1
        jac[i, 2] = jac[i, 1] * q1 * log_jw
        jac[i, 3] = inv2
        jac[i, 4] = -r2 * r2 * s2 * inv2
        jac[i, 5] = jac[i, 4] * q2 * log_jw
        jac[i, 6] = -z3 / q3
        jac[i, 7] = -z3 * log_jw


@numba.njit(cache=True)
def _repeat(omega: np.ndarray, p: np.ndarray, z: np.ndarray, jac: np.ndarray,
            count: int) -> float:
    checksum = 0.0
    for _ in range(count):
        _evaluate(omega, p, z, jac)
        checksum += z[0].real  # keeps the loop from being optimised away
    return checksum


def omega_grid() -> np.ndarray:
    """61 points, 7 MHz to 1 Hz, as rad/s."""
    return 2.0 * np.pi * np.geomspace(7e6, 1.0, N_POINTS)


def floor_seconds(count: int = 20_000, repeats: int = 5) -> float:
    """Seconds per evaluation: the best of ``repeats`` runs of ``count`` evaluations."""
    omega = omega_grid()
    z = np.empty(N_POINTS, dtype=np.complex128)
    jac = np.empty((N_POINTS, PARAMS.size), dtype=np.complex128)
    _repeat(omega, PARAMS, z, jac, 1)  # compile or load from cache
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        _repeat(omega, PARAMS, z, jac, count)
        best = min(best, (time.perf_counter() - start) / count)
    return float(best)


def evaluate(omega: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z (ohm) and ∂Z/∂p at ``omega`` (rad/s), for the floor kernel's test."""
    z = np.empty(omega.size, dtype=np.complex128)
    jac = np.empty((omega.size, params.size), dtype=np.complex128)
    _evaluate(np.asarray(omega, dtype=np.float64), np.asarray(params, dtype=np.float64), z, jac)
    return z, jac
