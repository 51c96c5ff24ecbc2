"""Generated circuit evaluators against hand-written kernels, impedance.py and an arithmetic floor.

One Z + Jacobian evaluation (70 frequencies, 10 MHz to 0.1 Hz) of a circuit's generated kernel
(:mod:`eis_pipeline.circuits.codegen`, called directly) against a numba kernel written by hand
for the same circuit (shared phases hoisted out of the loop, R‖CPE as R/(1 + R Y)), against
impedance.py (``CustomCircuit.predict``; its fitter differentiates by forward differences,
P + 1 evaluations per Jacobian), and against a floor: a kernel that does only the
unavoidable work per point (ln ω, one real power per CPE) and writes the outputs.
"""

from __future__ import annotations

import cmath
import math
import time
import timeit
import warnings
from collections.abc import Callable
from functools import partial

import numba as nb
import numpy as np

FREQUENCY = np.logspace(7, -1, 70)
CASES = {
    "p(R1,CPE1)-p(R2,CPE2)-CPE3": np.array([120.0, 2e-11, 0.92, 900.0, 3e-9, 0.8, 2e-6, 0.85]),
    "L0-R1-p(R2,CPE2)-CPE3": np.array([1e-7, 20.0, 500.0, 1e-9, 0.85, 1e-6, 0.8]),
}
_H = 0.5 * math.pi


@nb.njit(cache=True, error_model="numpy")
def _hand_bulk_gb(p, omega, z, jac):  # pragma: no cover - compiled
    r1, q1, n1, r2, q2, n2, q3, n3 = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
    e1 = q1 * cmath.exp(complex(0.0, _H * n1))
    e2 = q2 * cmath.exp(complex(0.0, _H * n2))
    e3 = cmath.exp(complex(0.0, -_H * n3)) / q3
    for k in range(omega.shape[0]):
        lw = math.log(omega[k])
        lj = complex(lw, _H)
        a1 = math.exp(n1 * lw) * e1
        i1 = 1.0 / (1.0 + r1 * a1)
        z1 = r1 * i1
        a2 = math.exp(n2 * lw) * e2
        i2 = 1.0 / (1.0 + r2 * a2)
        z2 = r2 * i2
        z3 = math.exp(-n3 * lw) * e3
        z[k] = z1 + z2 + z3
        s1 = -z1 * z1 * a1
        s2 = -z2 * z2 * a2
        jac[k, 0] = i1 * i1
        jac[k, 1] = s1 / q1
        jac[k, 2] = s1 * lj
        jac[k, 3] = i2 * i2
        jac[k, 4] = s2 / q2
        jac[k, 5] = s2 * lj
        jac[k, 6] = -z3 / q3
        jac[k, 7] = -z3 * lj


@nb.njit(cache=True, error_model="numpy")
def _hand_hf_gb(p, omega, z, jac):  # pragma: no cover - compiled
    ind, r1, r2, q2, n2, q3, n3 = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
    e2 = q2 * cmath.exp(complex(0.0, _H * n2))
    e3 = cmath.exp(complex(0.0, -_H * n3)) / q3
    for k in range(omega.shape[0]):
        w = omega[k]
        lw = math.log(w)
        lj = complex(lw, _H)
        a2 = math.exp(n2 * lw) * e2
        i2 = 1.0 / (1.0 + r2 * a2)
        z2 = r2 * i2
        z3 = math.exp(-n3 * lw) * e3
        z[k] = complex(r1, w * ind) + z2 + z3
        s2 = -z2 * z2 * a2
        jac[k, 0] = complex(0.0, w)
        jac[k, 1] = 1.0
        jac[k, 2] = i2 * i2
        jac[k, 3] = s2 / q2
        jac[k, 4] = s2 * lj
        jac[k, 5] = -z3 / q3
        jac[k, 6] = -z3 * lj


@nb.njit(cache=True, error_model="numpy")
def _floor(p, omega, z, jac, n_cpe):  # pragma: no cover - compiled
    """ln ω and one real power per CPE per point, and every output written once."""
    for k in range(omega.shape[0]):
        lw = math.log(omega[k])
        s = 0.0
        for c in range(n_cpe):
            s += math.exp(p[c] * lw)
        z[k] = complex(s, lw)
        for i in range(jac.shape[1]):
            jac[k, i] = complex(s, i)


HAND = {"p(R1,CPE1)-p(R2,CPE2)-CPE3": _hand_bulk_gb, "L0-R1-p(R2,CPE2)-CPE3": _hand_hf_gb}


def _seconds(fn: Callable[[], object], budget: float) -> float:
    """Median CPU seconds per call over 5 repeats (thread CPU time: a shared machine's
    waiting for a core is not counted)."""
    timer = timeit.Timer(fn, timer=time.thread_time)
    once = max(timer.timeit(1), 1e-7)
    number = max(1, int(budget / 5 / once))
    return float(np.median(timer.repeat(repeat=5, number=number))) / number


def run(quick: bool) -> str:
    """Markdown section: µs per evaluation and ratios."""
    from impedance.models.circuits import CustomCircuit

    from eis_pipeline.circuits import compile_circuit

    budget = 0.3 if quick else 2.0
    omega = 2 * np.pi * FREQUENCY
    rows = []
    for circuit, params in CASES.items():
        c = compile_circuit(circuit)
        evaluate = c.kernels.evaluate
        hand = HAND[circuit]
        z, jac = np.empty(omega.size, complex), np.empty((omega.size, params.size), complex)
        z2, jac2 = np.empty_like(z), np.empty_like(jac)
        evaluate(params, omega, z, jac)
        hand(params, omega, z2, jac2)
        if not (np.allclose(z, z2, rtol=1e-12) and np.allclose(jac, jac2, rtol=1e-11)):
            raise AssertionError(f"hand kernel of {circuit} disagrees with the generated one")
        n_cpe = circuit.count("CPE")
        _floor(params, omega, z2, jac2, n_cpe)
        ours = _seconds(partial(evaluate, params, omega, z, jac), budget)
        ref_hand = _seconds(partial(hand, params, omega, z2, jac2), budget)
        floor = _seconds(partial(_floor, params, omega, z2, jac2, n_cpe), budget)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = CustomCircuit(circuit, initial_guess=list(params))
            ref_z = _seconds(partial(model.predict, FREQUENCY, use_initial=True), budget)
        ref_zj = ref_z * (params.size + 1)
        rows.append(f"| `{circuit}` | {ours * 1e6:.2f} | {ref_hand * 1e6:.2f} | "
                    f"{ours / ref_hand:.2f} | {floor * 1e6:.2f} | {ours / floor:.1f} | "
                    f"{ref_zj * 1e6:.0f} | {ref_zj / ours:.0f} |")
    return "\n".join([
        "## Generated circuit evaluators (`python -m bench codegen`)",
        "",
        "One Z + Jacobian evaluation, 70 frequencies (µs, median CPU time). *generated*: the "
        "circuit's kernel from `circuits/codegen.py`; *hand*: a numba kernel written for that "
        "circuit; *floor*: ln ω, one real power per CPE and the writes only; *impedance.py*: "
        "`CustomCircuit.predict` × (P + 1), the forward-difference Jacobian its fitter uses.",
        "",
        "| circuit | generated | hand | generated / hand | floor | generated / floor | "
        "impedance.py Z+J | impedance.py / generated |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
    ])
