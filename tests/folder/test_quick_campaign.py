"""One builder of quick campaigns (config/files.py): `fit FILES` and `run DIR` build the same
config objects, and the TOML `init DIR` writes parses back into exactly those objects."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from eis_pipeline.config import FitDefaults, parse_config
from eis_pipeline.config.files import QuickSample, campaign_from_files, quick_campaign
from eis_pipeline.config.schema import Geometry, TemperatureSource
from eis_pipeline.exceptions import ConfigError
from eis_pipeline.folder import plan_folders
from tests.folder.test_folder_runs import rc_csv


def _folder(root: Path, sidecar: str) -> Path:
    # temperatures in K and with decimals: 298 K is not an exact number of °C in binary
    for t in ("298K", "310.7K", "25p5C", "-20C"):
        rc_csv(root / "pellet" / f"p_{t}.csv")
    (root / "samples.csv").write_text(sidecar)
    return root


def test_init_toml_parses_back_into_the_folder_runs_config(tmp_path):
    root = _folder(tmp_path / "data",
                   "sample,thickness_mm,thickness_stderr_mm,diameter_mm,mass_mg,milling_min,jar\n"
                   "pellet,0.6437,0.01,9.87,151.3,45,ZrO2\n")
    plan = plan_folders([root], base_dir=tmp_path)
    built = plan.config()
    parsed = parse_config(plan.to_toml(), base_dir=tmp_path)
    assert [s.name for s in parsed.samples] == [s.name for s in built.samples]
    for a, b in zip(built.samples, parsed.samples, strict=True):
        assert a.paths == b.paths
        assert dict(a.temperature.table_K) == dict(b.temperature.table_K)   # exact
        assert a.file_temperatures_K() == b.file_temperatures_K()
        assert a.geometry == b.geometry
        assert dict(a.synthesis) == dict(b.synthesis)
        assert a.settings == b.settings
    assert built.samples[0].temperature.table_K["p_298K.csv"] == 298.0
    assert (built.output, built.name, built.defaults) == (parsed.output, parsed.name,
                                                          parsed.defaults)


def test_a_sidecar_geometry_out_of_range_is_refused_as_the_config_would(tmp_path):
    root = _folder(tmp_path / "data", "sample,thickness_mm,diameter_mm\npellet,0.6,5000\n")
    with pytest.raises(ConfigError, match=r"diameter_mm = 5000 from samples\.csv"):
        plan_folders([root], base_dir=tmp_path)


def test_fit_files_is_a_quick_campaign_with_optional_temperature_and_geometry(tmp_path):
    paths = [rc_csv(tmp_path / f"s{i}.csv") for i in range(2)]
    settings = FitDefaults(circuit="R0-p(R1,C1)")
    cfg = campaign_from_files([*paths, paths[0]], settings, output=tmp_path / "o.h5")
    (s,) = cfg.samples
    assert s.paths == tuple(p.resolve() for p in paths)
    assert s.geometry is None and not s.geometry_required
    assert s.temperature.kind == "metadata" and not s.temperature.required
    # the same builder, with temperatures and a geometry given: what a folder run passes
    geo = Geometry.from_mm(0.8, diameter_mm=10)
    table = TemperatureSource("table", table_K={"s0.csv": 300.0, "s1.csv": 320.0})
    cfg2 = quick_campaign([QuickSample("a", paths, temperature=table, geometry=geo,
                                       geometry_source="command line",
                                       geometry_required=True)],
                          settings, name="q", output="o.h5", base_dir=tmp_path)
    (s2,) = cfg2.samples
    assert s2.geometry == geo and s2.geometry_required
    assert s2.file_temperatures_K() == {paths[0].resolve(): 300.0, paths[1].resolve(): 320.0}
    assert cfg2.output == (tmp_path / "o.h5").resolve()
    assert dataclasses.replace(s2, temperature=s.temperature, geometry=None,
                               geometry_source="file header", geometry_required=False,
                               name="fit", files=s.files) == s


def test_an_error_of_a_config_built_in_code_names_no_config_file(tmp_path):
    rc_csv(tmp_path / "data" / "pellet" / "p_25C.csv")
    with pytest.raises(ConfigError) as info:
        plan_folders([tmp_path / "data"], base_dir=tmp_path)
    assert str(info.value).startswith("sample 'pellet': no pellet geometry")
    assert str(ConfigError("bad", "c.toml", 3, "x")) == "c.toml:3: key 'x': bad"
