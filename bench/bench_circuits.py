"""Speed of the compiled circuit evaluator against impedance.py's CustomCircuit.predict.

Circuit: the ``bulk-gb-electrode`` preset, p(R1,CPE1)-p(R2,CPE2)-CPE3, 70 frequencies from
10 MHz to 0.1 Hz. impedance.py evaluates one spectrum per call (it builds and ``eval``s a
string) and has no analytic Jacobian: its fitter (scipy ``curve_fit``) differentiates by
forward differences, P + 1 evaluations per Jacobian, timed here as such.
"""

from __future__ import annotations

import time
import timeit
import warnings
from collections.abc import Callable

import numpy as np

CIRCUIT = "p(R1,CPE1)-p(R2,CPE2)-CPE3"
PARAMS = np.array([120.0, 2e-11, 0.92, 900.0, 3e-9, 0.8, 2e-6, 0.85])


def _seconds(fn: Callable[[], object], budget: float) -> float:
    """Median CPU seconds per call over 5 repeats of loops lasting about ``budget``/5 s.

    CPU time of the calling thread, not wall time: on a shared machine it does not count the
    time the process waits for a core (all code timed here is single-threaded).
    """
    timer = timeit.Timer(fn, timer=time.thread_time)
    once = max(timer.timeit(1), 1e-7)
    number = max(1, int(budget / 5 / once))
    return float(np.median(timer.repeat(repeat=5, number=number))) / number


def _fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def run(quick: bool) -> str:
    """Markdown section: times per call and speed-up ratios."""
    from impedance.models.circuits import CustomCircuit

    from eis_pipeline.circuits import FrequencyGrid, compile_circuit

    budget = 0.2 if quick else 1.0
    n_ref_batch = 50 if quick else 1000  # impedance.py spectra actually looped over at B=1000
    frequency = np.logspace(7, -1, 70)
    grid = FrequencyGrid(frequency)
    compiled = compile_circuit(CIRCUIT)
    rng = np.random.default_rng(0)
    batch = PARAMS * rng.uniform(0.9, 1.1, (1000, PARAMS.size))
    batch[:, [2, 5, 7]] = np.minimum(batch[:, [2, 5, 7]], 1.0)

    model = CustomCircuit(circuit=CIRCUIT, initial_guess=list(PARAMS))
    model.parameters_ = PARAMS.copy()

    def ref_predict(p: np.ndarray) -> np.ndarray:
        model.parameters_ = p
        return np.asarray(model.predict(frequency))

    def ref_fd_jacobian(p: np.ndarray) -> None:
        # what curve_fit's default '2-point' Jacobian costs: P + 1 predictions
        z0 = ref_predict(p)
        for k in range(p.size):
            q = p.copy()
            q[k] *= 1 + 1e-8
            _ = ref_predict(q) - z0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours_zj_1 = _seconds(lambda: compiled.impedance_and_jacobian(PARAMS, grid), budget)
        ours_zj_1_array = _seconds(lambda: compiled.impedance_and_jacobian(PARAMS, frequency),
                                   budget)
        ours_z_1 = _seconds(lambda: compiled.impedance(PARAMS, grid), budget)
        ours_zj_b = _seconds(lambda: compiled.impedance_and_jacobian(batch, grid), budget)
        ours_z_b = _seconds(lambda: compiled.impedance(batch, grid), budget)
        ref_z_1 = _seconds(lambda: ref_predict(PARAMS), budget)
        ref_zj_1 = _seconds(lambda: ref_fd_jacobian(PARAMS), budget)

        def ref_loop() -> None:
            for p in batch[:n_ref_batch]:
                ref_predict(p)

        ref_z_b = _seconds(ref_loop, budget) * (1000 / n_ref_batch)
    ref_zj_b = ref_zj_1 * 1000  # per-spectrum cost measured above; impedance.py is serial

    def row(what: str, ours: float, ref: float, note: str = "") -> str:
        return f"| {what} | {_fmt(ours)} | {_fmt(ref)} | {ref / ours:.0f}x | {note} |"

    batch_note = ("impedance.py looped over "
                  f"{n_ref_batch} spectra, scaled to 1000" if n_ref_batch < 1000 else
                  "impedance.py looped over 1000 spectra")
    lines = [
        "## Circuit evaluation: compiled Z and Jacobian vs impedance.py",
        "",
        f"`{CIRCUIT}` (bulk-gb-electrode), 70 frequencies, 8 parameters; median of 5 repeats, "
        "CPU time of the calling thread.",
        "impedance.py has no Jacobian: its column is Z plus a forward-difference Jacobian "
        "(P + 1 = 9 `predict` calls, what scipy `curve_fit` does).",
        "",
        "| evaluation | eis_pipeline | impedance.py | speed-up | note |",
        "|---|---|---|---|---|",
        row("Z, 1 spectrum", ours_z_1, ref_z_1, "prepared FrequencyGrid"),
        row("Z + Jacobian, 1 spectrum", ours_zj_1, ref_zj_1, "prepared FrequencyGrid"),
        row("Z + Jacobian, 1 spectrum", ours_zj_1_array, ref_zj_1,
            "frequency array (grid rebuilt per call)"),
        row("Z, 1000 spectra", ours_z_b, ref_z_b, batch_note),
        row("Z + Jacobian, 1000 spectra", ours_zj_b, ref_zj_b,
            "impedance.py: 1000 x the 1-spectrum time"),
        "",
        f"Per spectrum in a batch of 1000: Z + Jacobian {_fmt(ours_zj_b / 1000)}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(run(quick=True))
