"""Campaign runs under hostile configs: inputs never overwritten, unsafe names refused,
outputs readable by colleagues, one sample's or figure's failure recorded, not fatal."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import xarray as xr

from eis_pipeline.config import load_config
from eis_pipeline.exceptions import ConfigError, OutputError
from eis_pipeline.io.hdf5 import read_results
from eis_pipeline.pipeline import run

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "sample_data" / "mill045min"
PATTERN = '{from = "filename", pattern = "_(?P<celsius>-?\\\\d+)C"}'


def campaign(tmp: Path, *, name: str = "a", files: int = 3, output: str = "out/r.h5",
             temperature: str = PATTERN, extra: str = "", circuit: str = "auto") -> Path:
    """A one-sample campaign over ``files`` of the demo's EC-Lab files, copied to ``tmp``."""
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    for src in sorted(DEMO.glob("*.mpt"))[:files]:
        shutil.copy(src, data / src.name)
    config = tmp / "c.toml"
    config.write_text(
        f'[campaign]\nname = "t"\noutput = "{output}"\nplots = true\n\n'
        f'[defaults]\ncircuit = "{circuit}"\nf_min_hz = 1.0\ndrt = false\n\n'
        f'[[samples]]\nname = "{name}"\nfiles = ["data/*.mpt"]\ntemperature = {temperature}\n'
        f"thickness_mm = 0.64\ndiameter_mm = 10\n{extra}")
    return config


# --------------------------------------------------------------------------- inputs are sacred

@pytest.mark.parametrize("output", ["data/mill045_0C.mpt", "c.toml", "data/../c.toml"])
def test_output_naming_an_input_or_the_config_is_refused(tmp_path, output):
    config = campaign(tmp_path, output=output)
    before = {p: p.read_bytes() for p in [config, *(tmp_path / "data").iterdir()]}
    with pytest.raises(OutputError, match="input file"):
        run(config, progress=False, plots="none")
    assert {p: p.read_bytes() for p in before} == before


def test_output_through_a_symlink_to_an_input_is_refused(tmp_path):
    config = campaign(tmp_path, output="link.h5")
    (tmp_path / "link.h5").symlink_to(tmp_path / "data" / "mill045_0C.mpt")
    with pytest.raises(OutputError, match=r"mill045_0C\.mpt"):
        run(config, progress=False, plots="none")


def test_csv_beside_the_output_may_not_replace_an_input(tmp_path):
    config = campaign(tmp_path, output="data/mill045_0C.h5")
    (tmp_path / "data" / "mill045_0C.csv").write_text("raw,data\n")
    config.write_text(config.read_text().replace('"data/*.mpt"', '"data/*.mpt", "data/*.csv"'))
    with pytest.raises((OutputError, ConfigError)):
        run(load_config(config), progress=False, plots="none")
    assert (tmp_path / "data" / "mill045_0C.csv").read_text() == "raw,data\n"


def test_existing_file_that_is_not_hdf5_is_not_replaced(tmp_path):
    config = campaign(tmp_path, output="notes.txt")
    (tmp_path / "notes.txt").write_text("my notes\n")
    with pytest.raises(OutputError, match="not a results"):
        run(config, progress=False, plots="none")
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"


def test_plots_folder_holding_inputs_is_refused(tmp_path):
    config = campaign(tmp_path, output="da.h5")
    (tmp_path / "data").rename(tmp_path / "da_plots")
    config.write_text(config.read_text().replace("data/*.mpt", "da_plots/*.mpt"))
    with pytest.raises(OutputError, match="folder holds the input"):
        run(config, progress=False, plots="summary")


@pytest.mark.parametrize("name", ["..", ".", "a/b", "a\\\\b", "x" * 5000, " a", "a:b",
                                  "failures"])
def test_unsafe_sample_names_are_refused_with_the_key(tmp_path, name):
    config = campaign(tmp_path, name=name)
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert info.value.key == "samples[0].name" and info.value.line is not None
    assert len(str(info.value)) < 400


def test_outputs_are_readable_by_the_group(tmp_path):
    config = campaign(tmp_path, files=2)
    old = os.umask(0o022)
    try:
        run(config, progress=False, plots="summary")
    finally:
        os.umask(old)
    out = tmp_path / "out"
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {p.suffix for p in written} >= {".h5", ".csv", ".png"}
    assert {p.stat().st_mode & 0o777 for p in written} == {0o644}


# --------------------------------------------------------------------------- failure isolation

def _failures(out: Path) -> list[dict[str, str]]:
    ds = read_results(out)["failures"].ds
    return [{k: str(ds[k].values[i]) for k in ds.data_vars} for i in range(ds.sizes["failure"])]


def test_one_unfittable_spectrum_fails_only_its_file_with_auto(tmp_path):
    config = campaign(tmp_path, files=4)
    bad = tmp_path / "data" / "mill045_25C.mpt"
    lines = bad.read_text(encoding="latin-1").splitlines(keepends=True)
    header = int(lines[1].split(":")[1])
    bad.write_text("".join(lines[:header + 2]), encoding="latin-1")   # 2 points left
    tree = run(config, progress=False, plots="none")
    assert tree["a"]["fit"].ds.sizes["spectrum"] == 3
    failures = _failures(tmp_path / "out" / "r.h5")
    assert [(Path(f["file"]).name, f["stage"], f["error"]) for f in failures] == [
        ("mill045_25C.mpt", "fit", "FitError")]


def test_batch_error_is_isolated_to_the_spectrum_at_fault(tmp_path, monkeypatch):
    from eis_pipeline import tasks

    real = tasks.fit_task_spectra

    def flaky(spectra, settings, **kwargs):
        if any("_0C" in ds.attrs["spectrum_id"] for ds in spectra):
            raise ZeroDivisionError("boom")
        return real(spectra, settings, **kwargs)

    monkeypatch.setattr(tasks, "fit_task_spectra", flaky)
    tree = run(campaign(tmp_path, files=3, circuit="bulk-gb-electrode"), progress=False,
               plots="none")
    assert tree["a"]["fit"].ds.sizes["spectrum"] == 2
    [failure] = _failures(tmp_path / "out" / "r.h5")
    assert failure["error"] == "ZeroDivisionError" and failure["stage"] == "fit"
    assert Path(failure["file"]).name == "mill045_0C.mpt" and "boom" in failure["reason"]


def test_a_file_gone_during_a_parallel_run_is_recorded_and_the_rest_finish(tmp_path):
    # the worker's failure record (its exception included) travels to the parent pickled:
    # an error that could not be rebuilt there stopped the whole run
    cfg = load_config(_two_samples(tmp_path))                # two tasks: run in workers
    gone = sorted((tmp_path / "data").glob("*.mpt"))[0]
    gone.unlink()                                            # after planning found it
    tree = run(cfg, progress=False, plots="none", jobs=2)
    assert tree["a"]["fit"].ds.sizes["spectrum"] == 1
    assert tree["b"]["fit"].ds.sizes["spectrum"] == 2
    failures = _failures(tmp_path / "out" / "r.h5")
    assert [(Path(f["file"]).name, f["stage"], f["error"]) for f in failures] == [
        (gone.name, "read", "MissingFileError")]


def test_missing_metadata_temperatures_are_recorded_and_fits_kept(tmp_path):
    config = campaign(tmp_path, files=3, temperature='{from = "metadata"}')
    tree = run(config, progress=False, plots="summary")
    out = tmp_path / "out" / "r.h5"
    assert read_results(out)["a"]["fit"].ds.sizes["spectrum"] == 3
    assert "arrhenius" not in tree["a"].children
    failures = _failures(out)
    assert {f["stage"] for f in failures} == {"temperature"} and len(failures) == 3
    assert "no temperature" in failures[0]["reason"]


def test_a_failing_figure_loses_no_fit(tmp_path, monkeypatch):
    from eis_pipeline.report import figures as plotting

    def broken(*args, **kwargs):
        raise ValueError("Axis limits cannot be NaN or Inf")

    monkeypatch.setattr(plotting, "arrhenius_plot", broken)
    run(campaign(tmp_path, files=3), progress=False, plots="summary")
    out = tmp_path / "out" / "r.h5"
    assert read_results(out)["a"]["arrhenius"].ds.sizes["component"] > 0
    [failure] = _failures(out)
    assert failure["stage"] == "plot" and failure["sample"] == "a"
    assert xr.open_datatree(out, engine="h5netcdf")["a"]["fit"].ds.sizes["spectrum"] == 3


def test_strict_raises_the_original_exception(tmp_path, monkeypatch):
    from eis_pipeline.report import figures as plotting

    monkeypatch.setattr(plotting, "arrhenius_plot",
                        lambda *a, **k: (_ for _ in ()).throw(KeyError("original")))
    with pytest.raises(KeyError, match="original"):
        run(campaign(tmp_path, files=2), progress=False, plots="summary", strict=True)
    assert not (tmp_path / "out" / "r.h5").exists()


# --------------------------------------------------------------------------- resume

def _numbers(tree: xr.DataTree) -> dict[str, object]:
    return {f"{g}/{v}": tree["a"][g].ds[v].values for g in ("fit", "conductivity", "arrhenius")
            for v in tree["a"][g].ds.data_vars if tree["a"][g].ds[v].dtype.kind == "f"}


def test_resume_after_adding_and_changing_files_equals_a_clean_run(tmp_path):
    import numpy as np

    config = campaign(tmp_path, files=3)
    out = tmp_path / "out" / "r.h5"
    run(config, progress=False, plots="none")
    shutil.copy(sorted(DEMO.glob("*.mpt"))[3], tmp_path / "data")           # a new file
    added = run(config, progress=False, plots="none", resume=True)
    assert added.attrs["reused_files"] == 3 and not _failures(out)
    changed = tmp_path / "data" / "mill045_0C.mpt"
    changed.write_bytes(changed.read_bytes().replace(b"\n", b"\r\n"))       # same data
    again = run(config, progress=False, plots="none", resume=True)
    assert again.attrs["reused_files"] == 3 and not _failures(out)
    clean = run(config, progress=False, plots="none", write=False)
    assert again["a"]["fit"].ds.sizes["spectrum"] == 4
    for key, value in _numbers(clean).items():
        np.testing.assert_allclose(_numbers(again)[key], value, rtol=1e-9, err_msg=key)


# --------------------------------------------------------------------------- config errors

@pytest.mark.parametrize(("edit", "key", "words"), [
    (('temperature = {from = "filename", pattern = "_(?P<celsius>-?\\\\d+)C"}',
      'temperature = {from = "filename", pattern = "(?P<celsius>mill)"}'),
     "samples[0].temperature", "not a number"),
    (("thickness_mm = 0.64", "thickness_mm = 1e308"), "samples[0].thickness_mm", "at most"),
    (("diameter_mm = 10", "diameter_mm = 10\n[samples.synthesis]\nsigma_25C = 1"),
     "samples[0].synthesis.sigma_25C", "summary"),
    (("thickness_mm = 0.64", "thickness_mm = 0.64\nx = " + "[" * 2000 + "]" * 2000),
     None, "nested too deeply"),
    (("thickness_mm = 0.64", 'thickness_mm = "0.64"'), "samples[0].thickness_mm",
     "must be a number, got '0.64'"),
    (("thickness_mm = 0.64", "thickness_mm = 0.64\nthicknes_stderr_mm = 0.01"),
     "samples[0].thicknes_stderr_mm", "did you mean 'thickness_stderr_mm'"),
])
def test_config_mistakes_name_the_key_the_value_and_what_is_expected(tmp_path, edit, key,
                                                                     words):
    config = campaign(tmp_path)
    text = config.read_text()
    assert edit[0] in text
    config.write_text(text.replace(edit[0], edit[1]))
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert info.value.key == key and words in str(info.value)


def test_same_file_names_in_two_folders_keep_every_spectrum(tmp_path):
    config = campaign(tmp_path, files=2)
    (tmp_path / "data2").mkdir()
    for src in sorted((tmp_path / "data").glob("*.mpt")):
        shutil.copy(src, tmp_path / "data2" / src.name)
    config.write_text(config.read_text().replace('"data/*.mpt"', '"data/*.mpt", "data2/*.mpt"'))
    run(config, progress=False, plots="none")
    node = read_results(tmp_path / "out" / "r.h5")["a"]
    ids = node["fit"].ds["spectrum_id"].values.astype(str)
    assert len(set(ids)) == 4 and set(node["spectra"].ds["spectrum_id"].values) == set(ids)


# --------------------------------------------------------------------------- internal errors

def _two_samples(tmp: Path) -> Path:
    config = campaign(tmp, files=2, circuit="bulk-gb-electrode")
    shutil.copytree(tmp / "data", tmp / "data_b")
    config.write_text(config.read_text() + '\n[[samples]]\nname = "b"\nfiles = ["data_b/*.mpt"]\n'
                      f"temperature = {PATTERN}\nthickness_mm = 0.64\ndiameter_mm = 10\n")
    return config


def test_an_internal_error_while_assembling_keeps_spectra_and_fits(tmp_path, monkeypatch):
    from eis_pipeline import pipeline

    real = pipeline.stack

    def broken(parts, **kwargs):
        if parts and parts[0] is not None and "kk_passed" in parts[0]:
            raise IndexError("internal")
        return real(parts, **kwargs)

    monkeypatch.setattr(pipeline, "stack", broken)
    run(campaign(tmp_path, files=3, circuit="bulk-gb-electrode"), progress=False,
        plots="none")
    node = read_results(tmp_path / "out" / "r.h5")["a"]
    assert node["spectra"].ds.sizes["spectrum"] == 3 and node["fit"].ds.sizes["spectrum"] == 3
    assert "conductivity" in node.children and "arrhenius" in node.children
    [failure] = _failures(tmp_path / "out" / "r.h5")
    assert (failure["stage"], failure["error"]) == ("assemble validation", "IndexError")


def test_an_error_escaping_every_stage_keeps_what_was_built(tmp_path, monkeypatch):
    from eis_pipeline.fitting.chosen import ChosenFits

    # a fits table xarray refuses: the error escapes the stages
    monkeypatch.setattr(ChosenFits, "table", lambda self: "not a dataset")
    run(campaign(tmp_path, files=3, circuit="bulk-gb-electrode"), progress=False,
        plots="none")
    node = read_results(tmp_path / "out" / "r.h5")["a"]
    assert node["spectra"].ds.sizes["spectrum"] == 3 and "fit" not in node.children
    # the escaping error, and the fit group that could not become a node (left out, recorded)
    stages = {(f["sample"], f["stage"]) for f in _failures(tmp_path / "out" / "r.h5")}
    assert {("a", "assemble fit"), ("a", "physics")} <= stages


def test_a_sample_that_cannot_be_written_loses_no_other_sample(tmp_path, monkeypatch):
    from eis_pipeline.io.hdf5 import write

    real = write.encode_tree

    def broken(tree, *args, **kwargs):
        if tree.name == "b":
            raise TypeError("cannot encode attribute")
        return real(tree, *args, **kwargs)

    monkeypatch.setattr(write, "encode_tree", broken)
    run(_two_samples(tmp_path), progress=False, plots="none")
    tree = read_results(tmp_path / "out" / "r.h5")
    assert tree["a"]["fit"].ds.sizes["spectrum"] == 2 and "b" not in tree.children
    [failure] = _failures(tmp_path / "out" / "r.h5")
    assert (failure["sample"], failure["stage"], failure["error"]) == ("b", "write",
                                                                      "ResultsError")


# --------------------------------------------------------------------------- time limit

def test_a_file_whose_read_hangs_is_recorded_and_the_rest_finishes(tmp_path, monkeypatch):
    import time

    from eis_pipeline import tasks

    real = tasks.read_spectra

    def slow(path, format=None):   # a plugin importer stuck on one file (a network drive)
        if "_0C" in str(path):
            time.sleep(600)
        return real(path, format=format)

    monkeypatch.setattr(tasks, "read_spectra", slow)
    started = time.monotonic()
    # the limit leaves room for a cold start (imports, compiled kernels loaded by the first file)
    run(campaign(tmp_path, files=3, circuit="bulk-gb-electrode"), progress=False,
        plots="none", time_limit_s=10.0)
    assert time.monotonic() - started < 120
    assert read_results(tmp_path / "out" / "r.h5")["a"]["fit"].ds.sizes["spectrum"] == 2
    [failure] = _failures(tmp_path / "out" / "r.h5")
    assert (Path(failure["file"]).name, failure["stage"], failure["error"]) == (
        "mill045_0C.mpt", "read", "TimeLimitError")
    assert "time limit of 10 s per file" in failure["reason"]


@pytest.mark.parametrize("jobs", [pytest.param(1, marks=pytest.mark.slow), 2])
def test_a_file_whose_fit_hangs_is_recorded_and_the_rest_finishes(tmp_path, monkeypatch,
                                                                   jobs):
    import time

    from eis_pipeline import tasks

    real = tasks.fit_task_spectra

    def slow(spectra, settings, **kwargs):
        if any("_0C" in ds.attrs["spectrum_id"] for ds in spectra):
            time.sleep(600)
        return real(spectra, settings, **kwargs)

    monkeypatch.setattr(tasks, "fit_task_spectra", slow)
    monkeypatch.setattr(tasks, "FILES_PER_TASK", 1)
    run(campaign(tmp_path, files=3, circuit="bulk-gb-electrode"), progress=False,
        plots="none", time_limit_s=10.0, jobs=jobs)
    assert read_results(tmp_path / "out" / "r.h5")["a"]["fit"].ds.sizes["spectrum"] == 2
    [failure] = _failures(tmp_path / "out" / "r.h5")
    assert (Path(failure["file"]).name, failure["stage"], failure["error"]) == (
        "mill045_0C.mpt", "fit", "TimeLimitError")
    assert "fitting and checking took longer than the time limit of 10 s" in failure["reason"]
