"""``eis-pipeline report`` and ``export`` on a results file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner

from eis_pipeline.cli.main import cli
from eis_pipeline.io.hdf5 import read_results, write_results
from eis_pipeline.io.registry import read_spectra
from eis_pipeline.packing import sample_spectra
from tests.report.test_html import _tree


def test_report_and_export_commands(tmp_path: Path) -> None:
    results = write_results(_tree(), tmp_path / "r.h5")
    runner = CliRunner()
    out = runner.invoke(cli, ["report", str(results), "-o", str(tmp_path / "r.html")])
    assert out.exit_code == 0, out.output
    assert "mill045" in (tmp_path / "r.html").read_text(encoding="utf-8")
    out = runner.invoke(cli, ["export", str(results), str(tmp_path / "zv"), "--to", "zview"])
    assert out.exit_code == 0, out.output
    back = read_spectra(tmp_path / "zv" / "mill015" / "mill015_25C.z")[0]
    original = dict(sample_spectra(read_results(results)["mill015"]))["mill015_25C"]
    np.testing.assert_array_equal(back["impedance"].values, original["impedance"].values)


def test_report_refuses_to_overwrite_the_results(tmp_path: Path) -> None:
    results = write_results(_tree(), tmp_path / "r.h5")
    out = CliRunner().invoke(cli, ["report", str(results), "-o", str(results)])
    assert out.exit_code == 2
    assert "overwrite" in out.output
