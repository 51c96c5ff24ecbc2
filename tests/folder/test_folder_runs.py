"""Folder runs and `init`: inference from constructed folders, and the same results as the
config run that `init` writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from eis_pipeline.cli.main import cli
from eis_pipeline.config import load_config
from eis_pipeline.exceptions import ConfigError
from eis_pipeline.folder import plan_folders, read_sidecar

GEO = {"thickness_mm": 1, "diameter_mm": 10}

C = 273.15


def rc_csv(path: Path, r_ohm: float = 1e4, c_f: float = 1e-10, n: int = 31) -> Path:
    """A p(R,C)-C spectrum as f, Z', Z'' CSV."""
    f = np.logspace(6, 0, n)
    w = 2j * np.pi * f
    z = r_ohm / (1 + w * r_ohm * c_f) + 1 / (w * 1e-6)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = "\n".join(f"{a:.10e},{b.real:.10e},{b.imag:.10e}" for a, b in zip(f, z, strict=True))
    path.write_text("f,Z',Z''\n" + rows + "\n")
    return path


def campaign(root: Path) -> Path:
    for sample, r25 in (("millA", 1e4), ("millB", 3e4)):
        for t in (25, 50, 75):
            rc_csv(root / sample / f"{sample}_{t}C.csv", r_ohm=r25 * np.exp(-(t - 25) / 30))
    (root / "millA" / "notes.txt").write_text("pellet pressed at 370 MPa\n")
    return root


def test_plan_infers_samples_temperatures_and_reports_skipped(tmp_path):
    plan = plan_folders([campaign(tmp_path / "data")], geometry=GEO,
                        base_dir=tmp_path)
    assert [s.name for s in plan.samples] == ["millA", "millB"]
    temps = [f.temperature_K for f in plan.samples[0].files]
    assert temps == pytest.approx([25 + C, 50 + C, 75 + C])
    assert {f.importer for s in plan.samples for f in s.files} == {"generic-csv"}
    assert [p.name for p, _ in plan.skipped] == ["notes.txt"]
    text = plan.describe()
    assert "millA_50C.csv: generic-csv, T = 50 °C <- file name '50C'" in text
    assert "skipped" in text and "notes.txt" in text
    cfg = plan.config()
    assert cfg.samples[0].geometry.thickness_cm == pytest.approx(0.1)
    assert cfg.samples[1].file_temperatures_K()[cfg.samples[1].paths[2]] == pytest.approx(75 + C)


def test_temperature_from_folder_name_and_sidecar_geometry(tmp_path):
    root = tmp_path / "data"
    for t in ("-20C", "RT", "80C"):
        rc_csv(root / "pelletX" / t / "spectrum.csv")
    with pytest.raises(ConfigError, match="unique file names"):
        plan_folders([root], geometry=GEO)
    for i, t in enumerate(("-20C", "RT", "80C")):
        (root / "pelletX" / t / "spectrum.csv").rename(root / "pelletX" / t / f"s{i}.csv")
    (root / "samples.csv").write_text("sample,thickness_mm,diameter_mm,milling_time_min,jar\n"
                                      "pelletX,0.75,13,45,ZrO2\n")
    plan = plan_folders([root], base_dir=tmp_path)
    s = plan.samples[0]
    assert sorted(f.temperature_K for f in s.files) == pytest.approx([-20 + C, 25 + C, 80 + C])
    assert s.geometry == {"thickness_mm": 0.75, "diameter_mm": 13.0}
    assert s.geometry_source == "samples.csv"
    assert s.synthesis == {"milling_time_min": 45.0, "jar": "ZrO2"}
    assert plan.config().samples[0].synthesis["milling_time_min"] == 45.0
    # flags win over the sidecar
    flagged = plan_folders([root], geometry={"thickness_mm": 2, "area_cm2": 1}, base_dir=tmp_path)
    assert flagged.samples[0].geometry == {"thickness_mm": 2, "area_cm2": 1}


def test_header_geometry_and_temperature(tmp_path):
    body = "\n".join(f" {f:.7e}\t{1e4:.7e}\t{-1e3:.7e}" for f in np.logspace(6, 1, 11))
    path = tmp_path / "data" / "novo" / "run.txt"
    path.parent.mkdir(parents=True)
    path.write_text("s1, 26.02.2025, 15:11\nDiameter[mm]: 1.300e+01  Thickness[mm]: 7.500e-01\n"
                    "Fixed value(s) :  Temperature [°C]=4.0e+01\n"
                    "     Freq.[Hz]\t     Zs'[ohm]\t    Zs''[ohm]\n" + body + "\n")
    s = plan_folders([tmp_path / "data"]).samples[0]
    assert s.geometry == pytest.approx({"thickness_mm": 0.75, "diameter_mm": 13.0})
    assert s.geometry_source == "header of run.txt"
    assert s.temperature_kind == "column"  # the importer turns the header value into data


def test_missing_temperature_and_geometry_say_how_to_fix(tmp_path):
    rc_csv(tmp_path / "d" / "p" / "run01.csv")
    with pytest.raises(ConfigError, match=r"no temperature for run01\.csv"):
        plan_folders([tmp_path / "d"], geometry=GEO)
    rc_csv(tmp_path / "e" / "p" / "p_25C.csv")
    with pytest.raises(ConfigError, match="--thickness-mm"):
        plan_folders([tmp_path / "e"])


def test_implausible_temperature_is_a_warning_in_plan_and_config(tmp_path):
    rc_csv(tmp_path / "d" / "p" / "p_1395C.csv")
    plan = plan_folders([tmp_path / "d"], geometry=GEO, base_dir=tmp_path)
    assert "1395 °C is outside the plausible range" in plan.describe()
    assert "# warning: p_1395C.csv: 1395 °C" in plan.to_toml()


def test_sidecar_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "samples.csv"
    bad.write_text("sample,thickness_mm\na,0.8\nb,-1\n")
    with pytest.raises(ConfigError, match=r"samples.csv:3: ") as info:
        read_sidecar(bad)
    assert "thickness_mm of 'b'" in str(info.value)
    bad.write_text("pellet,thickness_mm\na,1\n")
    with pytest.raises(ConfigError, match="'sample' column"):
        read_sidecar(bad)


def test_sidecar_row_without_folder_is_an_error(tmp_path):
    root = campaign(tmp_path / "data")
    (root / "samples.csv").write_text("sample,thickness_mm,diameter_mm\nmillC,1,10\n")
    with pytest.raises(ConfigError, match="millC"):
        plan_folders([root], geometry=GEO)


def test_init_writes_the_config_the_folder_run_uses(tmp_path, monkeypatch):
    root = campaign(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    cfg_path = tmp_path / "configs" / "c.toml"
    cfg_path.parent.mkdir()
    r = CliRunner().invoke(cli, ["init", str(root), "--thickness-mm", "1", "--diameter-mm",
                                 "10", "-o", str(cfg_path)])
    assert r.exit_code == 0, r.output
    assert "millB_75C.csv: generic-csv" in r.output
    written = load_config(cfg_path)
    inferred = plan_folders([root], geometry=GEO).config()
    for a, b in zip(written.samples, inferred.samples, strict=True):
        assert (a.name, a.paths, a.geometry) == (b.name, b.paths, b.geometry)
        assert a.file_temperatures_K() == b.file_temperatures_K()
    r = CliRunner().invoke(cli, ["init", str(root), "-o", str(cfg_path)])
    assert r.exit_code == 2  # never overwrites


def test_run_folder_equals_run_of_init_config(tmp_path, monkeypatch):
    root = campaign(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    geometry = ["--thickness-mm", "1", "--diameter-mm", "10"]
    r = CliRunner().invoke(cli, ["init", str(root), *geometry, "-o", "c.toml"])
    assert r.exit_code == 0, r.output
    text = (tmp_path / "c.toml").read_text().replace('circuit = "auto"',
                                                     'circuit = "single-arc-electrode"')
    (tmp_path / "c.toml").write_text(text)
    r1 = CliRunner().invoke(cli, ["run", "c.toml", "-o", "a.h5", "--plots", "none"])
    assert r1.exit_code == 0, r1.output
    # the folder run with the same circuit: the only edit made to the written config
    monkeypatch.setattr("eis_pipeline.folder.DEFAULT_CIRCUIT", "single-arc-electrode")
    r2 = CliRunner().invoke(cli, ["run", str(root), *geometry, "-o", "b.h5", "--plots", "none"])
    assert r2.exit_code == 0, r2.output
    assert "inferred campaign 'data'" in r2.output
    a = (tmp_path / "a.csv").read_text().splitlines()
    b = (tmp_path / "b.csv").read_text().splitlines()
    assert a == b and len(a) == 3
