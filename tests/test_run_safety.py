"""Campaign runs under hostile configs: inputs never overwritten, unsafe names refused,
outputs readable by colleagues, one sample's or figure's failure recorded, not fatal."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from eis_pipeline.config import load_config
from eis_pipeline.exceptions import ConfigError, OutputError
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
    with pytest.raises(OutputError, match="mill045_0C.mpt"):
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
