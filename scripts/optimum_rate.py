"""How often one ``CircuitModel.fit`` reaches a 50-start brute force's optimum, over a range
of numpy seeds: the measurement behind the seed rates in docs/fitting.md (issue 12).

    python scripts/optimum_rate.py 200 400      # seeds 200-399

Seed ``s`` is ``random_case(default_rng(s), 2 + s % 2)`` of tests/fitting/random_circuits.py
(two or three arcs, optional series R, L and electrode), 0.5 % noise; with ``--arcs N
--tail Wo`` (say) it is ``random_case(default_rng(OFFSET + s), N, tail="Wo")`` instead
(docs/fitting.md's Warburg figures: ``--arcs 3 --tail Wo --offset 10000 --starts 30``).
Prints one line per seed (ratio to the brute force, evaluations), then the rate, our fits'
CPU time and the misses (cost above the brute force's + 0.1 %).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eis_pipeline.exceptions import ConvergenceWarning
from eis_pipeline.fitting import CircuitModel
from tests.fitting.random_circuits import TAILS, F, brute_force_cost, random_case, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", type=int, help="first seed")
    parser.add_argument("stop", type=int, help="one past the last seed")
    parser.add_argument("--starts", type=int, default=50, help="brute-force starts (50)")
    parser.add_argument("--arcs", type=int, help="this many arcs for every seed")
    parser.add_argument("--tail", choices=TAILS, help="this low-frequency tail (with --arcs)")
    parser.add_argument("--offset", type=int, default=0, help="added to the seed (with --arcs)")
    args = parser.parse_args()
    fit_cpu, nfev, misses = 0.0, [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(args.first, args.stop):
            if args.arcs is None:
                rng = np.random.default_rng(seed)
                circuit, true = random_case(rng, 2 + seed % 2)
            else:
                rng = np.random.default_rng(args.offset + seed)
                circuit, true = random_case(rng, args.arcs, tail=args.tail)
            z = simulate(circuit, true, rng)
            t0 = time.process_time()
            result = CircuitModel(circuit).fit(F, z).result_
            fit_cpu += time.process_time() - t0
            nfev.append(result.nfev)
            ratio = result.cost / brute_force_cost(circuit, z, true, rng, args.starts)
            if ratio > 1 + 1e-3:
                misses.append(f"{seed}: {circuit} {ratio:.4g}x status {result.status} "
                              f"nfev {result.nfev}")
            print(seed, f"{ratio:.4g}", result.nfev, flush=True)
    n = args.stop - args.first
    print(f"rate {args.first}-{args.stop - 1}: {n - len(misses)}/{n} = "
          f"{100 * (1 - len(misses) / n):.1f} %; our fits {fit_cpu:.1f} s CPU, evaluations "
          f"median {np.median(nfev):.0f}, mean {np.mean(nfev):.0f}")
    print("\n".join(misses))


if __name__ == "__main__":
    main()
