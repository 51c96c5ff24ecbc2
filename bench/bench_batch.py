"""Per-spectrum stages batched (issue 15): Kramers-Kronig, fit_spectra memory, cold start.

Rows, each measured in this run:

- Kramers-Kronig: :func:`kramers_kronig` called spectrum by spectrum against
  :func:`kramers_kronig_batch` on the same spectra: the demo campaign (sample_data/, 24
  spectra on two grids) and a demo-like campaign of 240 synthetic spectra on one 73-point grid
  (two arcs and a spike, 0.2-0.6 % noise). CPU seconds (the machine is shared, so wall time
  mostly measures the others), and the largest difference between the two routes.
- fit_spectra memory: a fresh subprocess builds N spectra (make_spectrum, 61 points) and fits
  the two-arc pellet circuit; peak RSS of the process (ru_maxrss), its RSS before the spectra,
  the spectra's own RSS, and throughput in spectra per CPU second, chunked (the default) and in
  one batch (``FIT_CHUNK`` raised past N).
- Cold start: ``eis-pipeline --help`` and ``import eis_pipeline`` in fresh subprocesses (best
  of 3 wall times).

The load average is printed beside the figures: 8 engineers share this 2-core machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CIRCUIT = "R0-p(R1,CPE1)-p(R2,CPE2)"


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


# --- Kramers-Kronig -----------------------------------------------------------------------

def _demo_like(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from tests.validation import synthetic as syn

    rng = np.random.default_rng(15)
    f = syn.sweep(1e7, 0.1)
    return [(f, syn.add_noise(syn.two_arcs_and_spike(f) * (1 + 0.5 * rng.random()), rng,
                              0.002 * (1 + k % 3))) for k in range(n)]


def _demo() -> list[tuple[np.ndarray, np.ndarray]]:
    from eis_pipeline import read_spectra

    files = sorted(p for p in (ROOT / "sample_data").glob("*/*") if p.suffix in (".DTA", ".mpt"))
    return [(ds["frequency"].values, ds["impedance"].values) for p in files
            for ds in read_spectra(p)]


def _kk_row(name: str, spectra: list[tuple[np.ndarray, np.ndarray]]) -> str:
    from eis_pipeline.validation.kramers_kronig import kramers_kronig, kramers_kronig_batch

    freqs, imps = [f for f, _ in spectra], [z for _, z in spectra]
    kramers_kronig_batch(freqs[:2], imps[:2])   # warm-up
    start = time.process_time()
    one = [kramers_kronig(f, z) for f, z in spectra]
    t_one = time.process_time() - start
    start = time.process_time()
    many = kramers_kronig_batch(freqs, imps)
    t_many = time.process_time() - start
    diff = max(float(np.max(np.abs(a.residual_real - b.residual_real)
                            + np.abs(a.residual_imag - b.residual_imag))) for a, b in
               zip(one, many, strict=True))
    same = all((a.passed, a.n_elements) == (b.passed, b.n_elements)
               for a, b in zip(one, many, strict=True))
    n = len(spectra)
    return (f"| {name} | {n} | {1e3 * t_one / n:.2f} | {1e3 * t_many / n:.2f} | "
            f"{t_one / t_many:.1f}× | {'yes' if same else 'NO'} | {diff:.1e} |")


# --- fit_spectra memory (python -m bench.bench_batch memory N CHUNK) ------------------------

def _rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _memory(n: int, chunk: int) -> dict[str, float]:
    import resource

    from eis_pipeline.conventions import make_spectrum
    from eis_pipeline.fitting import batch
    from eis_pipeline.fitting.model import CircuitModel

    batch.FIT_CHUNK = chunk
    f = np.logspace(6, -1, 61)
    truth = {"R0": 20.0, "R1": 1000.0, "CPE1_0": 1e-9, "CPE1_1": 0.9, "R2": 3000.0,
             "CPE2_0": 1e-6, "CPE2_1": 0.8}
    z0 = CircuitModel(CIRCUIT).set_params_(truth).predict(f)
    batch.fit_spectra([make_spectrum(f, z0)], circuit=CIRCUIT)   # imports, kernels loaded
    base = _rss_mib()
    rng = np.random.default_rng(1)
    spectra = [make_spectrum(f, z0 * (1 + 0.005 * rng.standard_normal(f.size))
                             * (1 + 0.3 * rng.random())) for _ in range(n)]
    inputs = _rss_mib() - base
    start = time.process_time()
    out = batch.fit_spectra(spectra, circuit=CIRCUIT, errors="ignore")
    cpu = time.process_time() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"base": base, "inputs": inputs, "peak": peak, "rate": n / cpu,
            "out": out.nbytes / 2**20, "converged": int(out["converged"].sum())}


def _memory_row(n: int, chunk: int, label: str) -> str:
    code = ("import json, sys; from bench.bench_batch import _memory; "
            f"print(json.dumps(_memory({n}, {chunk})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(), cwd=ROOT, check=False)
    if proc.returncode != 0:
        return f"| {n:,} | {label} | failed: {proc.stderr.strip().splitlines()[-1]} ||||||"
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    own = m["peak"] - m["base"] - m["inputs"]
    return (f"| {n:,} | {label} | {m['peak']:.0f} | {m['base']:.0f} | {m['inputs']:.0f} | "
            f"{own:.0f} ({1024 * own / n:.0f} KB/spectrum) | {m['out']:.0f} | "
            f"{m['rate']:,.0f} | {m['converged']:,} |")


# --- cold start -------------------------------------------------------------------------------

def _wall(argv: list[str], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=_env(), cwd=ROOT, check=True)
        times.append(time.perf_counter() - start)
    return min(times)


def run(quick: bool = False) -> str:
    from eis_pipeline.fitting.batch import FIT_CHUNK

    n_fit = 2000 if quick else 20_000
    lines = ["## Per-spectrum stages batched (issue 15: Kramers-Kronig, fit memory, cold start)",
             "", f"Load average (1/5/15 min) at the start: {_load()} on "
             f"{os.cpu_count()} cores shared by 8 engineers: CPU seconds are the figures to "
             "read, wall times include waiting.", "",
             "### Kramers-Kronig: one call per spectrum vs `kramers_kronig_batch`", "",
             "| spectra | count | per spectrum, CPU ms | batched, CPU ms | speed-up | "
             "same verdicts and M | max residual difference |",
             "|---|---:|---:|---:|---:|---|---:|",
             _kk_row("demo campaign (sample_data/)", _demo()),
             _kk_row("demo-like, one 73-point grid", _demo_like(60 if quick else 240)), ""]
    lines += ["### fit_spectra peak memory (fresh subprocess per row)", "",
              f"Two-arc pellet circuit, 61 points, 0.5 % noise; chunk = `FIT_CHUNK` "
              f"({FIT_CHUNK}). RSS in MiB: *process before* = imports, kernels and one warm-up "
              "fit; *spectra* = the input datasets; *fit_spectra's own* = peak minus both "
              "(solver working set plus the returned dataset).", "",
              "| spectra | chunking | peak RSS | process before | spectra | fit_spectra's own | "
              "result dataset | spectra per CPU s | converged |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
              _memory_row(n_fit, FIT_CHUNK, f"chunks of {FIT_CHUNK}"),
              _memory_row(n_fit // 5, FIT_CHUNK, f"chunks of {FIT_CHUNK}"),
              _memory_row(n_fit // 5, 10**9, "one batch (before)"), ""]
    exe = Path(sys.executable).with_name("eis-pipeline")
    lines += ["### Cold start (fresh subprocesses, best of 3 wall times)", "",
              "| command | wall s |", "|---|---:|",
              f"| `eis-pipeline --help` | {_wall([str(exe), '--help']):.2f} |",
              f"| `python -c 'import eis_pipeline'` | "
              f"{_wall([sys.executable, '-c', 'import eis_pipeline']):.2f} |",
              f"| `python -c 'pass'` (interpreter alone) | "
              f"{_wall([sys.executable, '-c', 'pass']):.2f} |", "",
              f"Load average at the end: {_load()}."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
