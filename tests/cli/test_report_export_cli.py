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
    before = results.read_bytes()
    out = CliRunner().invoke(cli, ["report", str(results), "-o", str(results)])
    assert out.exit_code == 1
    assert "input file" in out.output and results.read_bytes() == before


def test_report_output_may_not_be_an_input_or_a_results_file(tmp_path: Path) -> None:
    """report -o naming a raw file, another results file or someone's file is refused; a
    previous report is replaced."""
    results = write_results(_tree(), tmp_path / "r.h5")
    other = write_results(_tree(), tmp_path / "other.h5")
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>")
    runner = CliRunner()
    for target in (other, notes):
        before = target.read_bytes()
        out = runner.invoke(cli, ["report", str(results), "-o", str(target)])
        assert out.exit_code == 1, out.output
        assert "not a report" in out.output
        assert target.read_bytes() == before
    from eis_pipeline.report.html import GENERATOR

    page = tmp_path / "r.html"
    page.write_text(f"<!DOCTYPE html><html><head>{GENERATOR}</head></html>")   # a report
    out = runner.invoke(cli, ["report", str(results), "-o", str(page), "-j", "1"])
    assert out.exit_code == 0, out.output
    assert "mill045" in page.read_text(encoding="utf-8")


def test_report_and_export_never_replace_a_raw_file(tmp_path: Path) -> None:
    from eis_pipeline.pipeline import run
    from tests.test_run_safety import campaign

    run(campaign(tmp_path, files=2), progress=False, plots="none")
    results = tmp_path / "out" / "r.h5"
    raw = sorted((tmp_path / "data").iterdir())
    before = {p: p.read_bytes() for p in raw}
    runner = CliRunner()
    out = runner.invoke(cli, ["report", str(results), "-o", str(raw[0])])
    assert out.exit_code == 1 and "input file" in out.output, out.output
    out = runner.invoke(cli, ["export", str(results), str(tmp_path / "data"), "--to", "csv"])
    assert out.exit_code == 1 and "input file" in out.output, out.output
    out = runner.invoke(cli, ["export", str(results), str(results), "--to", "csv"])
    assert out.exit_code == 1, out.output
    assert {p: p.read_bytes() for p in raw} == before
