"""`eis-pipeline fit` through click's CliRunner on synthetic files (read_spectra patched)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.cli.main import cli
from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import ParseError
from eis_pipeline.io.hdf5 import read_results

TRUE = [2.0e5, 5.0e-12, 0.95, 4.0e5, 2.0e-9, 0.85, 1.0e-6, 0.90]


@pytest.fixture
def fake_files(tmp_path, monkeypatch):
    """Two 'exports' (their content is irrelevant: read_spectra is replaced)."""
    f = np.logspace(np.log10(7e6), 0, 69)
    z = compile_circuit("bulk-gb-electrode").impedance(np.array(TRUE), f)
    paths = [tmp_path / "a.fake", tmp_path / "b.fake", tmp_path / "broken.fake"]
    for p in paths:
        p.write_text("synthetic\n")

    def read_spectra(path, format=None):
        if path.name == "broken.fake":
            raise ParseError("no impedance table", path=path, line=3)
        sweeps = 2 if path.name == "a.fake" else 1
        return [make_spectrum(f, z, sweep=i, temperature=np.full(f.size, 298.15),
                              attrs={"source": str(path), "source_format": "fake",
                                     "source_sha256": "0" * 64})
                for i in range(sweeps)]

    monkeypatch.setattr("eis_pipeline.tasks.read_spectra", read_spectra)
    return paths


def test_prints_table_for_every_sweep(fake_files):
    result = CliRunner().invoke(cli, ["fit", str(fake_files[0]), str(fake_files[1]),
                                      "--preset", "bulk-gb-electrode"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.count("sweep 0") == 2 and out.count("sweep 1") == 1
    assert "T = 25.00 °C" in out
    assert "R1" in out and "± " in out and "ohm" in out and "F s^(n-1)" in out
    assert out.count("status 0: converged") == 3
    assert "chi-square" in out
    assert "2e+05" in out or "200000" in out


def test_geometry_gives_labelled_conductivity_table(fake_files):
    result = CliRunner().invoke(cli, ["fit", str(fake_files[1]), "--thickness-mm", "1",
                                      "--diameter-mm", "10"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "conductivity (S/cm)" in out
    # σ = L / (R A) with L = 0.1 cm, A = π 0.25 cm², R_bulk = TRUE[0]
    sigma_bulk = 0.1 / (TRUE[0] * np.pi * 0.25)
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("bulk "))
    assert f"{sigma_bulk:.4g}"[:4] in line and "± " in line
    assert any(ln.strip().startswith("total ") for ln in out.splitlines())
    assert "[[" not in out   # no raw numpy array dumps


def test_writes_hdf5_atomically(fake_files, tmp_path):
    out = tmp_path / "fits.h5"
    result = CliRunner().invoke(cli, ["fit", str(fake_files[0]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and not list(tmp_path.glob("*.tmp"))
    # the layout of `eis-pipeline run`: one sample called "fit", read by read_results
    tree = read_results(out)
    ds = tree["fit/fit"].ds
    assert ds.sizes["spectrum"] == 2
    np.testing.assert_allclose(ds.value.values[0], TRUE, rtol=1e-6)
    assert ds.converged.dtype == bool and bool(ds.converged.all())
    assert ds.attrs["preset"] == "bulk-gb-electrode"
    spectrum = tree["fit/spectra"].children["a_s0"].ds
    assert np.iscomplexobj(spectrum.impedance_fit.values)
    assert tree["failures"].ds.sizes.get("failure", 0) == 0
    assert out.with_suffix(".csv").is_file()


def test_unreadable_file_is_reported_and_others_fitted(fake_files):
    result = CliRunner().invoke(cli, ["fit", str(fake_files[2]), str(fake_files[1])])
    assert result.exit_code == 1
    assert "broken.fake:3: no impedance table" in result.output
    assert "status 0: converged" in result.output


def test_unfittable_sweep_is_reported_others_fitted_exit_1(fake_files, monkeypatch):
    """A three-point sweep cannot be fitted: its row says why, the rest are fitted, the
    summary says 'failed' (not 'did not converge') and the exit status is 1."""
    import eis_pipeline.tasks as tasks

    whole = tasks.read_spectra

    def read_spectra(path, format=None):
        spectra = whole(path, format)
        if path.name == "b.fake":
            return [spectra[0].isel(frequency=slice(0, 3))]
        return spectra

    monkeypatch.setattr(tasks, "read_spectra", read_spectra)
    result = CliRunner().invoke(cli, ["fit", str(fake_files[0]), str(fake_files[1])])
    assert result.exit_code == 1, result.output
    assert "3 points, too few to fit 8 free parameters" in result.output
    assert result.output.count("status 0: converged") == 2
    assert "1 of 3 fits failed" in result.output and "did not converge" not in result.output


@pytest.mark.parametrize("preset", ["bulk-gb-electrode", "auto"])
def test_plots_of_every_sweep(fake_files, tmp_path, preset):
    """--plots DIR: a Nyquist, a Bode and a checks PNG per sweep in DIR/fit/, named by file
    and sweep, the Nyquist with each fitted arc."""
    folder = tmp_path / "plots" / "fit"
    result = CliRunner().invoke(cli, ["fit", str(fake_files[0]), str(fake_files[1]),
                                      "--preset", preset, "--plots", str(folder)])
    assert result.exit_code == 0, result.output
    written = folder / "fit"
    assert sorted(p.name for p in written.iterdir()) == [
        f"{stem}_{kind}.png" for stem in ("a_s0", "a_s1", "b_s0")
        for kind in ("bode", "checks", "nyquist")]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in written.iterdir())
    assert "wrote 9 plots" in result.output


def test_usage_errors(fake_files):
    r = CliRunner().invoke(cli, ["fit", str(fake_files[0]), "--preset", "bulk-gb-electrode",
                                 "--circuit", "R0-p(R1,C1)"])
    assert r.exit_code == 2 and "not both" in r.output
    r = CliRunner().invoke(cli, ["fit", str(fake_files[0]), "--thickness-mm", "1"])
    assert r.exit_code == 2 and "go together" in r.output
    r = CliRunner().invoke(cli, ["fit", str(fake_files[0]), "--circuit", "R0-p(R1,"])
    assert r.exit_code == 1 and "error: " in r.output and "Traceback" not in r.output


def test_unknown_preset_suggests_closest(fake_files):
    r = CliRunner().invoke(cli, ["fit", str(fake_files[0]), "--preset", "bulk-gb"])
    assert r.exit_code == 2
    assert "unknown preset 'bulk-gb'" in r.output and "did you mean 'bulk-gb-electrode'" in r.output


def test_unknown_format_is_a_usage_error(fake_files):
    r = CliRunner().invoke(cli, ["fit", str(fake_files[0]), "--format", "gamry"])
    assert r.exit_code == 2 and "did you mean 'gamry-dta'" in r.output


def test_output_in_missing_folder_fails_before_fitting(fake_files, tmp_path):
    out = tmp_path / "no" / "such" / "fits.h5"
    r = CliRunner().invoke(cli, ["fit", str(fake_files[0]), "-o", str(out)])
    assert r.exit_code == 2 and "does not exist" in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert "sweep 0" not in r.output


def test_write_error_is_reported_without_traceback(fake_files, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "fits.h5"))

    monkeypatch.setattr("eis_pipeline.pipeline.ResultsWriter", refuse)
    r = CliRunner().invoke(cli, ["fit", str(fake_files[0]), "-o", str(tmp_path / "fits.h5")])
    assert r.exit_code == 1 and "error: " in r.output and "Permission denied" in r.output
    assert isinstance(r.exception, SystemExit)


def test_no_readable_file_is_an_error_line(fake_files):
    r = CliRunner().invoke(cli, ["fit", str(fake_files[2])])
    assert r.exit_code == 1 and "error: no spectra could be read" in r.output


def test_geometry_from_the_file_header(shared_formats):
    path = shared_formats / "novocontrol" / "Example2a.txt"
    result = CliRunner().invoke(cli, ["fit", str(path), "--preset", "single-arc-electrode"])
    assert result.exit_code == 0, result.output
    assert "geometry from the file header: thickness 0.75 mm, diameter 13 mm" in result.output
    assert "conductivity (S/cm)" in result.output


def test_parameters_at_a_bound_are_marked_with_a_hint(fake_files, tmp_path):
    """The intercept preset forced on a spectrum whose bulk arc is visible: R1 has nothing
    to describe and ends on the resistance floor."""
    out_file = tmp_path / "fits.h5"
    result = CliRunner().invoke(cli, ["fit", str(fake_files[1]), "--preset",
                                      "hf-intercept-gb-electrode", "-o", str(out_file)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    r1 = next(ln for ln in lines if ln.strip().startswith("R1 "))
    assert r1.rstrip().endswith("(at bound) ohm")
    r2 = next(ln for ln in lines if ln.strip().startswith("R2 "))
    assert "(at bound)" not in r2
    note = next(ln for ln in lines if ln.strip().startswith("note:"))
    assert "R1" in note and "R2" not in note and "at a bound" in note
    assert "--preset auto" in note
    ds = read_results(out_file)["fit/fit"].ds
    assert ds.at_bound.dtype == bool and bool(ds.at_bound.sel(param="R1").all())


def test_a_normal_fit_has_no_bound_marks(fake_files):
    result = CliRunner().invoke(cli, ["fit", str(fake_files[1])])
    assert result.exit_code == 0, result.output
    assert "(at bound)" not in result.output and "note:" not in result.output


def test_format_value_marks():
    from eis_pipeline.report.fit_tables import format_value

    assert format_value(0.011, 3.6e3, at_bound=True) == "0.011 ± 3.6e+03 (at bound)"
    assert format_value(150.0, float("nan"), at_bound=True) == "150 (at bound)"
    assert format_value(150.0, 2.0) == "150 ± 2"
    assert format_value(0.011, 3.6e3) == "0.011 ± 3.6e+03 (undetermined)"
    assert format_value(1.0, 0.0, at_bound=True) == "1 (fixed)"


def test_frequency_window_limits_the_points_fitted(fake_files):
    """--f-min-hz/--f-max-hz keep the points inside the window (69 points from 7 MHz to
    1 Hz, 10 per decade: 1 kHz..1 MHz holds 30) and a reversed window is a usage error."""
    f = np.logspace(np.log10(7e6), 0, 69)
    inside = int(((f >= 1e3) & (f <= 1e6)).sum())
    result = CliRunner().invoke(cli, ["fit", str(fake_files[1]), "--f-min-hz", "1e3",
                                      "--f-max-hz", "1e6"])
    assert f"points {inside} " in result.output, result.output
    r = CliRunner().invoke(cli, ["fit", str(fake_files[1]), "--f-min-hz", "1e6",
                                 "--f-max-hz", "1e3"])
    assert r.exit_code == 2 and "must be below" in r.output
