"""`eis-pipeline fit --preset auto` through click's CliRunner (read_spectra patched)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from eis_pipeline.cli.main import cli
from eis_pipeline.conventions import make_spectrum
from eis_pipeline.io.hdf5 import read_results
from eis_pipeline.testing.simulate import add_proportional_noise, log_frequencies, pellet_impedance

F = log_frequencies(7e6, 1.0, 10)
TWO_ARCS = {"L0": 0.0, "R1": 4000.0, "CPE1_0": 5.5e-11, "CPE1_1": 0.95, "R2": 5000.0,
            "CPE2_0": 8.5e-8, "CPE2_1": 0.85, "CPE3_0": 2e-6, "CPE3_1": 0.88}
# bulk arc far above 7 MHz (R1 is a series resistance), stray inductance 1 µH
INTERCEPT = {"L0": 1e-6, "R1": 50.0, "CPE1_0": 1e-11, "CPE1_1": 1.0, "R2": 300.0,
             "CPE2_0": 2.7e-7, "CPE2_1": 0.85, "CPE3_0": 2e-6, "CPE3_1": 0.88}


@pytest.fixture
def fake_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    spectra = {
        "two.fake": pellet_impedance(F, TWO_ARCS),
        "intercept.fake": pellet_impedance(F, INTERCEPT),
    }
    paths = []
    for name in spectra:
        (tmp_path / name).write_text("synthetic\n")
        paths.append(tmp_path / name)

    def read_spectra(path, format=None):
        z = add_proportional_noise(spectra[path.name], 0.005, rng)
        return [make_spectrum(F, z, temperature=np.full(F.size, 298.15),
                              attrs={"source": str(path), "source_format": "fake",
                                     "source_sha256": "0" * 64})]

    monkeypatch.setattr("eis_pipeline.tasks.read_spectra", read_spectra)
    return paths


def test_auto_prints_choice_evidence_and_parameters(fake_files):
    result = CliRunner().invoke(cli, ["fit", *map(str, fake_files), "--preset", "auto"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "model selection by BIC over 4 presets" in out   # the campaign's pellet presets
    assert "chosen bulk-gb-electrode\n" in out
    assert "chosen hf-intercept-gb-electrode\n" in out
    assert out.count("ΔBIC") == 2
    # each sweep: the chosen line is marked in its BIC table, then the parameter table
    assert sum(line.startswith("* ") for line in out.splitlines()) == 2
    assert out.count("status 0: converged") == 2
    assert "L0" in out and "H" in out


def test_auto_writes_evidence_and_groups(fake_files, tmp_path):
    out = tmp_path / "auto.h5"
    result = CliRunner().invoke(cli, ["fit", *map(str, fake_files), "--preset", "auto",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    tree = read_results(out)   # the layout of `eis-pipeline run`
    evidence = tree["fit/selection"].ds
    assert evidence.sizes["candidate"] == 4
    chosen = dict(zip(evidence.spectrum_id.values.astype(str), evidence.chosen.values.astype(str),
                      strict=True))
    assert chosen == {"two_s0": "bulk-gb-electrode", "intercept_s0": "hf-intercept-gb-electrode"}
    fits = tree["fit/fit"].ds
    row = int(np.flatnonzero(fits.spectrum_id.values.astype(str) == "intercept_s0")[0])
    assert str(fits.preset.values[row]) == "hf-intercept-gb-electrode"
    assert float(fits.value.sel(param="R1")[row]) == pytest.approx(50.0, rel=0.05)


def test_auto_with_circuit_string_is_not_auto(fake_files):
    result = CliRunner().invoke(cli, ["fit", str(fake_files[0]), "--circuit", "auto"])
    assert result.exit_code == 2
    assert "--preset auto" in result.output
