"""Compare a demo run's results with the simulator's ground truth; exit 1 if off target.

    python scripts/check_demo.py results/nacb11h12_milling.h5 sample_data/ground_truth.json

Targets (issue: demo campaign): E_a within 0.01 eV, σ(25 °C) within 5 % for every sample and
component that has a true value.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from eis_pipeline.io.hdf5 import read_results
from eis_pipeline.report.tables import compare_with_ground_truth, format_comparison

EA_TOLERANCE_EV = 0.01
SIGMA_TOLERANCE = 0.05


def main(results: str, truth: str) -> int:
    rows = compare_with_ground_truth(read_results(results), json.loads(Path(truth).read_text()))
    print(format_comparison(rows))
    bad = [r for r in rows
           if (r["Ea_error_eV"] is not None and not abs(r["Ea_error_eV"]) <= EA_TOLERANCE_EV)
           or (r["sigma25_relative_error"] is not None
               and not abs(r["sigma25_relative_error"]) <= SIGMA_TOLERANCE)]
    verdict = "within" if not bad else "OUTSIDE"
    print(f"\nground truth: {len(rows) - len(bad)}/{len(rows)} values {verdict} targets "
          f"(|ΔEa| <= {EA_TOLERANCE_EV} eV, |Δσ25| <= {SIGMA_TOLERANCE:.0%})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
