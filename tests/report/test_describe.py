"""``inspect``'s texts (report.describe): a results file and an instrument export."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eis_pipeline.io.hdf5 import write_results
from eis_pipeline.report.describe import describe_results, describe_spectra
from eis_pipeline.testing.simulate import rq_impedance
from eis_pipeline.testing.writers import write_mpt
from tests.io.test_hdf5 import small_tree


def test_describe_results(tmp_path: Path) -> None:
    path = write_results(small_tree(np.random.default_rng(0)), tmp_path / "r.h5",
                         config={"name": "NaCB11H12"})
    text = describe_results(path)
    assert "NaCB11H12" in text and "samples     1" in text
    lines = text.splitlines()
    head = next(line for line in lines if line.split()[:2] == ["sample", "spectra"])
    # one unit per σ column, chosen from its values (4.1e-3 S/cm -> mS/cm), as in the summary
    assert "σ25 bulk (mS/cm)" in head and "σ25 total (mS/cm)" in head
    row = next(line for line in lines if line.strip().startswith("mill045"))
    assert row.split()[1:4] == ["1", "1", "1"]       # spectra, fits ok, failed
    assert "4.10 ± 0.10" in row and "12.0 ± 0.5" in row
    assert "failures    1" in text and "bad.mpt | no frequency column" in text
    assert "best sample mill045" in text


def test_describe_spectra_rows_per_sweep(tmp_path: Path) -> None:
    f = np.logspace(6, -1, 36)
    z = rq_impedance(f, 1e5, 1e-10, 0.9)
    path = tmp_path / "p_25C.mpt"
    write_mpt(path, f, z)
    text = describe_spectra(path)
    assert "format      biologic-mpt" in text and "sweeps      1" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("0 "))
    cells = row.split()
    assert cells[1] == "36" and float(cells[2]) == 1e6 and float(cells[3]) == 0.1
    assert float(cells[5]) == float(f"{np.abs(z).max():.4g}")
