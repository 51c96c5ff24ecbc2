"""`eis-pipeline inspect` through click's CliRunner on a synthetic export (read_spectra patched)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from eis_pipeline.cli.main import cli
from eis_pipeline.conventions import make_spectrum


@pytest.fixture
def fake_file(tmp_path, monkeypatch):
    f = np.logspace(5, 0, 11)
    z = 1.0e4 / (1 + 1j * f / 1e3) + 100.0
    path = tmp_path / "a.fake"
    path.write_text("synthetic\n")

    def read_spectra(p, format=None):
        if p.name != "a.fake":
            raise OSError(13, "Permission denied", str(p))
        return [make_spectrum(f, z, attrs={"source": str(p), "source_format": "fake",
                                           "source_sha256": "0" * 64, "sweep": 0,
                                           "drift_corrected": 0, "cycle_number": 1})]

    monkeypatch.setattr("eis_pipeline.report.describe.read_spectra", read_spectra)
    return path


def test_long_attribute_names_keep_a_gap(fake_file):
    r = CliRunner().invoke(cli, ["inspect", str(fake_file)])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert any(ln.split() == ["drift_corrected", "0"] for ln in lines), r.output
    assert any(ln.split() == ["cycle_number", "1"] for ln in lines), r.output


def test_modulus_range_in_two_columns(fake_file):
    r = CliRunner().invoke(cli, ["inspect", str(fake_file)])
    header = next(ln for ln in r.output.splitlines() if "points" in ln)
    assert "|Z|min (ohm)" in header and "|Z|max (ohm)" in header
    row = next(ln for ln in r.output.splitlines() if ln.split()[:2] == ["0", "11"])
    zmin, zmax = (float(v) for v in row.split()[4:6])
    f = np.logspace(5, 0, 11)
    modulus = np.abs(1.0e4 / (1 + 1j * f / 1e3) + 100.0)
    assert zmin == pytest.approx(modulus.min(), rel=1e-3)
    assert zmax == pytest.approx(modulus.max(), rel=1e-3)


def test_os_error_is_an_error_line(fake_file, tmp_path):
    other = tmp_path / "b.fake"
    other.write_text("x\n")
    r = CliRunner().invoke(cli, ["inspect", str(other), str(fake_file)])
    assert r.exit_code == 1 and "error: " in r.output and "Permission denied" in r.output
    assert "a.fake" in r.output   # the other file is still described


def test_help_example_glob_matches_the_bundled_sample_data():
    from pathlib import Path

    r = CliRunner().invoke(cli, ["inspect", "--help"])
    pattern = next(w for w in r.output.split() if w.startswith("sample_data/"))
    root = Path(__file__).resolve().parents[2]
    if not (root / "sample_data").is_dir():
        pytest.skip("sample_data/ not present")
    assert list(root.glob(pattern)), pattern


def test_fit_output_file_is_described_as_results(fake_file, tmp_path, monkeypatch):
    from eis_pipeline.circuits import compile_circuit

    f = np.logspace(6, 0, 41)
    true = [2.0e5, 5.0e-12, 0.95, 4.0e5, 2.0e-9, 0.85, 1.0e-6, 0.90]
    z = compile_circuit("bulk-gb-electrode").impedance(np.array(true), f)
    monkeypatch.setattr("eis_pipeline.tasks.read_spectra",
                        lambda p, format=None: [make_spectrum(
                            f, z, attrs={"source": str(p), "source_sha256": "0" * 64})])
    out = tmp_path / "fits.h5"
    r = CliRunner().invoke(cli, ["fit", str(fake_file), "-o", str(out)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["inspect", str(out)])
    assert r.exit_code == 0, r.output
    # one layout: `fit -o` writes what `run` writes, described by the same reader
    lines = r.output.splitlines()
    assert any(ln.split()[:2] == ["campaign", "fit"] for ln in lines)
    assert any(ln.split()[:4] == ["fit", "1", "1", "0"] for ln in lines)


def test_a_fifo_or_a_symlink_loop_is_named_not_read(tmp_path):
    """inspect opened a FIFO to sniff it and blocked; a symlink loop said "does not exist"."""
    import os

    fifo = tmp_path / "pipe.mpt"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.mpt"
    loop.symlink_to(loop)
    r = CliRunner().invoke(cli, ["inspect", str(fifo), str(loop), str(tmp_path)])
    assert r.exit_code == 1
    assert "FIFO" in r.output and "symbolic link loop" in r.output
    assert "is a directory" in r.output
