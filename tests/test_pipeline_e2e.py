"""End to end: the CLI over the demo campaign and over folders with broken files."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from eis_pipeline.cli.main import cli
from eis_pipeline.io.hdf5 import read_results
from eis_pipeline.pipeline import run
from eis_pipeline.report.tables import compare_with_ground_truth

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = ROOT / "sample_data"


def _campaign_copy(tmp: Path, samples: tuple[str, ...] = ("mill045", "mill360")) -> Path:
    """The demo config and data, copied so a test may change files; only ``samples``."""
    shutil.copytree(SAMPLE_DATA, tmp / "sample_data")
    (tmp / "configs").mkdir()
    text = (ROOT / "configs" / "example.toml").read_text()
    blocks = text.split("[[samples]]")
    kept = [b for b in blocks[1:] if any(f'name = "{s}"' in b for s in samples)]
    (tmp / "configs" / "example.toml").write_text("[[samples]]".join([blocks[0], *kept]))
    return tmp / "configs" / "example.toml"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo campaign run once through the CLI (no plots), shared by the tests below."""
    out = tmp_path_factory.mktemp("demo") / "demo.h5"
    result = CliRunner().invoke(cli, ["run", str(ROOT / "configs" / "example.toml"),
                                      "-o", str(out), "--plots", "none", "--no-progress"])
    return result, out


def test_demo_run_succeeds_and_prints_summary(demo):
    result, out = demo
    assert result.exit_code == 0, result.output
    assert "best sample" in result.output
    for name in ("mill015", "mill045", "mill120", "mill360"):
        assert name in result.output
    assert out.is_file() and out.with_suffix(".csv").is_file()


def test_demo_recovers_ground_truth(demo):
    _, out = demo
    truth = json.loads((SAMPLE_DATA / "ground_truth.json").read_text())
    rows = compare_with_ground_truth(read_results(out), truth)
    assert rows
    for row in rows:
        if row["Ea_error_eV"] is not None:
            assert abs(row["Ea_error_eV"]) <= 0.01, row
        assert abs(row["sigma25_relative_error"]) <= 0.05, row


def test_results_open_with_h5py_and_xarray(demo):
    _, out = demo
    with h5py.File(out, "r") as f:
        assert {"campaign", "failures", "mill045"} <= set(f)
        assert {"spectra", "fit", "conductivity", "arrhenius", "validation", "drt"} <= set(
            f["mill045"])
        assert "config" in f.attrs and "eis_pipeline_version" in f.attrs
    tree = xr.open_datatree(out, engine="h5netcdf")
    assert "sigma_25C" in tree["campaign"].ds
    assert tree["mill045"]["fit"].ds.sizes["spectrum"] == 6


def test_inspect_results_file(demo):
    _, out = demo
    result = CliRunner().invoke(cli, ["inspect", str(out)])
    assert result.exit_code == 0, result.output
    assert "mill360" in result.output and "failures" in result.output


def test_broken_files_are_recorded_and_the_rest_is_processed(tmp_path):
    config = _campaign_copy(tmp_path, samples=("mill045",))
    folder = tmp_path / "sample_data" / "mill045min"
    good = sorted(folder.glob("*.mpt"))
    text = good[0].read_bytes()
    (folder / "mill045_30C.mpt").write_bytes(text[: len(text) // 2])       # truncated
    (folder / "mill045_35C.mpt").write_text("time/s,Ewe/V\n0,1\n1,2\n")   # not impedance
    (folder / "mill045_45C.mpt").write_bytes(b"")                           # empty
    out = tmp_path / "r.h5"
    result = CliRunner().invoke(cli, ["run", str(config), "-o", str(out), "--plots", "none"])
    assert result.exit_code == 1, result.output
    failures = read_results(out)["failures"].ds
    failed = {Path(f).name for f in failures["file"].values.astype(str)}
    assert failed == {"mill045_30C.mpt", "mill045_35C.mpt", "mill045_45C.mpt"}
    reasons = " ".join(failures["reason"].values.astype(str))
    assert "empty" in reasons
    assert read_results(out)["mill045"]["fit"].ds.sizes["spectrum"] == len(good)


def test_strict_stops_at_first_failure(tmp_path):
    config = _campaign_copy(tmp_path, samples=("mill045",))
    (tmp_path / "sample_data" / "mill045min" / "mill045_45C.mpt").write_bytes(b"")
    out = tmp_path / "r.h5"
    result = CliRunner().invoke(cli, ["run", str(config), "-o", str(out), "--strict",
                                      "--plots", "none"])
    assert result.exit_code == 1
    assert "empty" in result.output
    assert not out.exists()


def test_bad_config_names_key_and_exits_2(tmp_path):
    config = _campaign_copy(tmp_path, samples=("mill045",))
    config.write_text(config.read_text().replace("thickness_mm = 0.64", "thicknes_mm = 0.64"))
    result = CliRunner().invoke(cli, ["run", str(config)])
    assert result.exit_code == 2
    assert "thicknes_mm" in result.output and "thickness_mm" in result.output


def _values(tree: xr.DataTree) -> dict[str, np.ndarray]:
    out = {}
    for name in ("mill045", "mill360"):
        out[f"{name}/fit"] = tree[name]["fit"].ds["value"].values
        out[f"{name}/sigma"] = tree[name]["conductivity"].ds["conductivity"].values
        out[f"{name}/ea"] = tree[name]["arrhenius"].ds["activation_energy"].values
    return out


def test_dask_processes_and_serial_give_identical_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    config = _campaign_copy(tmp_path)
    serial = run(config, write=False, progress=False)
    parallel = run(config, write=False, progress=False, jobs=2)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        dask = run(config, write=False, progress=False, scheduler=client)
    for other in (parallel, dask):
        for key, value in _values(serial).items():
            np.testing.assert_array_equal(_values(other)[key], value, err_msg=key)


def test_resume_refits_only_changed_files(tmp_path):
    config = _campaign_copy(tmp_path)
    out = tmp_path / "r.h5"
    first = run(config, output=out, progress=False, plots=False)
    again = run(config, output=out, progress=False, plots=False, resume=True)
    assert again.attrs["reused_files"] == 12
    for name in ("mill045", "mill360"):   # "auto" evidence comes back with the reused fits
        assert (again[name]["selection"].ds.sizes["spectrum"]
                == again[name]["fit"].ds.sizes["spectrum"])
    for key, value in _values(first).items():
        np.testing.assert_array_equal(_values(again)[key], value, err_msg=key)
    changed = tmp_path / "sample_data" / "mill045min" / "mill045_25C.mpt"
    changed.write_bytes(changed.read_bytes() + b"\n")  # same data, new content hash
    third = run(config, output=out, progress=False, plots=False, resume=True)
    assert third.attrs["reused_files"] == 11


def test_makefile_rebuilds_results_only_when_inputs_change(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "example.toml").write_text("")
    (tmp_path / "sample_data").mkdir()
    (tmp_path / "sample_data" / "a.mpt").write_text("x")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    log = tmp_path / "calls.log"
    fake = bin_dir / "eis-pipeline"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\nmkdir -p results\n"
                    "touch results/nacb11h12_milling.h5\n")
    fake.chmod(0o755)
    (tmp_path / ".venv" / ".installed").touch()
    target = "results/nacb11h12_milling.h5"

    def make() -> None:
        subprocess.run(["make", "-s", target], cwd=tmp_path, check=True,
                       capture_output=True)

    make()
    make()
    assert len(log.read_text().splitlines()) == 1
    later = (tmp_path / target).stat().st_mtime + 5
    import os

    os.utime(tmp_path / "sample_data" / "a.mpt", (later, later))
    make()
    assert len(log.read_text().splitlines()) == 2


def test_config_breakpoint_splits_arrhenius(tmp_path):
    config = _campaign_copy(tmp_path, samples=("mill120",))
    text = config.read_text().replace('arrhenius_form = "sigma_T"',
                                      'arrhenius_form = "sigma_T"\n'
                                      "arrhenius_breakpoint_celsius = 30\n"
                                      "arrhenius_breakpoints = 1")
    config.write_text(text)
    tree = run(config, write=False, progress=False)
    arr = tree["mill120"]["arrhenius"].ds
    assert arr.sizes["segment"] == 2
    assert np.isfinite(arr["activation_energy"].sel(component="bulk")).all()


def test_written_run_streams_spectra_to_the_file(tmp_path):
    config = _campaign_copy(tmp_path, samples=("mill045",))
    out = tmp_path / "r.h5"
    tree = run(config, output=out, progress=False, plots="none")
    assert "spectra" not in tree["mill045"].children          # not kept in memory
    assert "fit" in tree["mill045"].children
    on_disk = read_results(out)
    assert on_disk["mill045"]["spectra"].sizes["spectrum"] == 6
    kept = run(config, output=out, progress=False, plots="none", keep_spectra=True)
    assert kept["mill045"]["spectra"].sizes["spectrum"] == 6


@pytest.mark.parametrize("spelling", ["p(R0,CPE0)-p(R1,CPE1)-CPE2", "CPE3-p(R2,CPE2)-p(CPE1,R1)",
                                      "(RQ)(RQ)Q"])
def test_spellings_of_a_preset_give_the_preset_summary(tmp_path, spelling):
    """A renamed, reordered or CDC spelling of bulk-gb-electrode is read by the physics stage
    as the preset (roles from its structure, issue 12): the same summary, number for number."""
    config = _campaign_copy(tmp_path, samples=("mill045",))
    text = config.read_text()
    csv = {}
    for name, circuit in (("preset", "bulk-gb-electrode"), ("spelling", spelling)):
        config.write_text(text.replace('circuit = "auto"', f'circuit = "{circuit}"'))
        out = tmp_path / f"{name}.h5"
        result = CliRunner().invoke(cli, ["run", str(config), "-o", str(out), "--plots",
                                          "none", "--no-progress"])
        assert result.exit_code == 0, result.output
        csv[name] = out.with_suffix(".csv").read_text()
    assert csv["spelling"] == csv["preset"]


def test_series_fit_flag_adds_global_ea_model_free_check_and_figures(tmp_path):
    """`run --series-fit global` on one demo sample: the global E_a beside the per-spectrum
    one (console and CSV), the model-free σ_dc check in the file, and both figures."""
    import csv

    config = _campaign_copy(tmp_path, samples=("mill360",))
    out = tmp_path / "res.h5"
    result = CliRunner().invoke(cli, ["run", str(config), "-o", str(out), "--series-fit",
                                      "global", "--plots", "summary", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "global series fit" in result.output
    row = next(csv.DictReader(out.with_suffix(".csv").open()))
    truth = json.loads((SAMPLE_DATA / "ground_truth.json").read_text())["samples"]["mill360"]
    for short, comp in (("bulk", "bulk"), ("gb", "grain_boundary")):
        expected = truth["components"][comp]["activation_energy_eV"]
        assert abs(float(row[f"Ea_{short}_global_eV"]) - expected) < 0.01
        assert row[f"Ea_{short}_disagree"] == "False"
    assert row["n_sigma_dc_disagree"] == "0"
    tree = read_results(out)
    assert {"series_fit", "model_free"} <= set(tree["mill360"].children)
    plots = out.with_name("res_plots")
    assert (plots / "mill360_arrhenius_global.png").is_file()
    assert (plots / "mill360_conductivity_spectra.png").is_file()


def test_parallel_workers_analyse_whole_samples_to_the_serial_tree(tmp_path, monkeypatch):
    """With workers, a sample held by one task is analysed in its worker (the parent only
    writes it): the tree is the serial one, node by node, and the parent analysed nothing."""
    import eis_pipeline.pipeline as pipeline

    config = _campaign_copy(tmp_path)
    serial = run(config, write=False, progress=False)
    in_parent = []
    real = pipeline.finish_sample
    monkeypatch.setattr(pipeline, "finish_sample",
                        lambda sample, *a, **k: in_parent.append(sample.name) or
                        real(sample, *a, **k))
    parallel = run(config, write=False, progress=False, jobs=2)
    assert in_parent == []
    assert [n.path for n in parallel.subtree] == [n.path for n in serial.subtree]
    for node in serial.subtree:
        xr.testing.assert_identical(parallel[node.path].to_dataset(inherit=False),
                                    node.to_dataset(inherit=False))
