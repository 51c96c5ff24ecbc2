"""Campaign config: schema, unit conversion, error positions, glob resolution."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from eis_pipeline.config import CampaignConfig, load_config, parse_config
from eis_pipeline.exceptions import ConfigError

ROOT = Path(__file__).resolve().parents[1]

BASE = """\
[campaign]
name = "test"

[defaults]
circuit = "p(R1,CPE1)-CPE2"
f_max_hz = 1e6
weighting = "modulus"

[[samples]]
name = "a"
files = ["a/*.mpt"]
temperature = {from = "filename", pattern = "(?P<celsius>-?\\\\d+)C"}
thickness_mm = 0.80
thickness_stderr_mm = 0.01
diameter_mm = 10.0
diameter_stderr_mm = 0.02
mass_mg = 60.0
theoretical_density_g_cm3 = 1.2
[samples.synthesis]
milling_time_min = 45
jar_material = "ZrO2"
operator = "AB"

[[samples]]
name = "b"
files = "b/*.dta"
temperature = {from = "column"}
thickness_mm = 1.0
area_cm2 = 0.5
weighting = "unit"
"""


@pytest.fixture
def campaign_dir(tmp_path: Path) -> Path:
    for rel in ("a/x_-20C.mpt", "a/x_25C.mpt", "a/x_80C.mpt", "b/r1.dta", "b/r2.dta"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("data")
    return tmp_path


def write(campaign_dir: Path, text: str) -> Path:
    path = campaign_dir / "campaign.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_units_converted_once_and_defaults_overridden(campaign_dir: Path) -> None:
    cfg = load_config(write(campaign_dir, BASE))
    a, b = cfg.samples
    assert a.geometry.thickness_cm == pytest.approx(0.08)
    assert a.geometry.thickness_stderr_cm == pytest.approx(0.001)
    assert a.geometry.diameter_cm == pytest.approx(1.0)
    assert a.geometry.area_cm2 == pytest.approx(math.pi / 4)
    # dA = (π d / 2) dd with d = 1 cm, dd = 0.002 cm
    assert a.geometry.area_stderr_cm2 == pytest.approx(math.pi / 2 * 0.002)
    assert a.geometry.mass_g == pytest.approx(0.060)
    assert a.geometry.relative_density == pytest.approx(0.060 / (math.pi / 4 * 0.08 * 1.2))
    assert b.geometry.diameter_cm is None and b.geometry.area_cm2 == 0.5
    assert "diameter_cm" in a.geometry.to_attrs() and "diameter_cm" not in b.geometry.to_attrs()
    assert a.settings.weighting == "modulus" and b.settings.weighting == "unit"
    assert a.settings.f_max_hz == 1e6 and b.settings.circuit == "p(R1,CPE1)-CPE2"
    assert a.synthesis == {"milling_time_min": 45.0, "jar_material": "ZrO2", "operator": "AB"}


def test_globs_sorted_and_temperatures_from_names(campaign_dir: Path) -> None:
    cfg = load_config(write(campaign_dir, BASE))
    a, b = cfg.samples
    assert [p.name for p in a.paths] == ["x_-20C.mpt", "x_25C.mpt", "x_80C.mpt"]
    assert [p.name for p in b.paths] == ["r1.dta", "r2.dta"]
    temps = {p.name: t for p, t in a.file_temperatures_K().items()}
    assert temps == pytest.approx({"x_-20C.mpt": 253.15, "x_25C.mpt": 298.15,
                                   "x_80C.mpt": 353.15})
    assert set(b.file_temperatures_K().values()) == {None}


def test_overlapping_globs_list_each_file_once_in_pattern_order(campaign_dir: Path) -> None:
    text = BASE.replace('files = ["a/*.mpt"]', 'files = ["a/x_8*.mpt", "a/*.mpt", "a/x_25C.mpt"]')
    a = load_config(write(campaign_dir, text)).samples[0]
    assert [p.name for p in a.paths] == ["x_80C.mpt", "x_-20C.mpt", "x_25C.mpt"]


def test_temperature_table(campaign_dir: Path) -> None:
    text = BASE.replace('temperature = {from = "column"}',
                        'temperature = {from = "table", celsius = {"r1.dta" = 25, '
                        '"r2.dta" = -10.5}}')
    b = load_config(write(campaign_dir, text)).samples[1]
    assert [b.file_temperatures_K()[p] for p in b.paths] == pytest.approx([298.15, 262.65])
    missing = text.replace(', "r2.dta" = -10.5', "")
    with pytest.raises(ConfigError, match=r"r2\.dta"):
        load_config(write(campaign_dir, missing))


def test_to_json_is_deterministic_and_complete(campaign_dir: Path) -> None:
    path = write(campaign_dir, BASE)
    first, second = load_config(path).to_json(), load_config(path).to_json()
    assert first == second
    data = json.loads(first)
    assert data["samples"][0]["paths"] == ["a/x_-20C.mpt", "a/x_25C.mpt", "a/x_80C.mpt"]
    assert data["samples"][0]["geometry"]["thickness_cm"] == pytest.approx(0.08)


@pytest.mark.parametrize(
    ("old", "new", "key", "line", "fragment"),
    [
        ("thickness_mm = 0.80", "thicknes_mm = 0.80", "samples[0].thicknes_mm", 13,
         "did you mean 'thickness_mm'"),
        ('weighting = "modulus"', 'weighting = "modulu"', "defaults.weighting", 7,
         "did you mean 'modulus'"),
        ("f_max_hz = 1e6", "f_max_hz = -1e6", "defaults.f_max_hz", 6, "positive"),
        ("area_cm2 = 0.5", "area_cm2 = 0.5\ndiameter_mm = 8", "samples[1].diameter_mm", 30,
         "exactly one"),
        ('{from = "column"}', '{from = "colum"}', "samples[1].temperature.from", 27,
         "did you mean 'column'"),
        ("thickness_mm = 1.0", 'thickness_mm = "1.0"', "samples[1].thickness_mm", 28,
         "must be a number"),
        ('files = "b/*.dta"', 'files = "b/*.DTA_missing"', "samples[1].files", 26,
         "matches no file"),
        ('name = "b"', 'name = "a"', "samples[1].name", 25, "duplicate"),
        ('[campaign]', '[campaign]\noutptu = "x.h5"', "campaign.outptu", 2, "did you mean"),
    ],
)
def test_errors_name_key_line_and_choices(campaign_dir: Path, old: str, new: str, key: str,
                                          line: int, fragment: str) -> None:
    assert old in BASE
    path = write(campaign_dir, BASE.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.key == key
    assert err.line == line, str(err)
    assert err.path == str(path)
    assert fragment in str(err)


def test_free_keys_only_in_synthesis(campaign_dir: Path) -> None:
    text = BASE.replace('name = "b"', 'name = "b"\noperator = "AB"')
    with pytest.raises(ConfigError, match="unknown key 'operator'"):
        load_config(write(campaign_dir, text))


def test_pattern_needs_named_group(campaign_dir: Path) -> None:
    text = BASE.replace("(?P<celsius>-?\\\\d+)C", "(-?\\\\d+)C")
    with pytest.raises(ConfigError, match="named group"):
        load_config(write(campaign_dir, text))


def test_file_name_not_matching_pattern(campaign_dir: Path) -> None:
    (campaign_dir / "a" / "x_room.mpt").write_text("data")
    with pytest.raises(ConfigError, match=r"x_room\.mpt"):
        load_config(write(campaign_dir, BASE))


def test_bad_toml_reports_line(campaign_dir: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(campaign_dir, BASE.replace('name = "test"', 'name = "test')))
    assert info.value.line == 2


def test_missing_file_and_no_samples(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="no samples"):
        parse_config("[campaign]\nname = 'x'\n", base_dir=tmp_path)


def test_config_error_is_value_error(campaign_dir: Path) -> None:
    with pytest.raises(ValueError):
        load_config(write(campaign_dir, BASE.replace("0.80", "0")))


def test_example_config_loads_against_sample_data() -> None:
    cfg = load_config(ROOT / "configs" / "example.toml")
    assert isinstance(cfg, CampaignConfig)
    truth = json.loads((ROOT / "sample_data" / "ground_truth.json").read_text())
    assert [s.name for s in cfg.samples] == sorted(truth["samples"])
    for s in cfg.samples:
        t = truth["samples"][s.name]
        assert len(s.paths) == len(t["spectra"])
        assert s.geometry.thickness_cm == pytest.approx(t["geometry"]["thickness_mm"] / 10)
        assert s.geometry.diameter_cm == pytest.approx(t["geometry"]["diameter_mm"] / 10)
        assert s.synthesis["milling_time_min"] == t["synthesis"]["milling_time_min"]
        assert s.temperature.kind == t["temperature_source"]
        if s.temperature.kind == "filename":
            by_file = {p.name: k for p, k in s.file_temperatures_K().items()}
            for spec in t["spectra"]:
                assert by_file[Path(spec["file"]).name] == pytest.approx(spec["temperature_K"])


def test_geometry_in_defaults_and_cell_constants(campaign_dir: Path) -> None:
    # a campaign-wide die diameter, per-sample thicknesses; a sample in a conductivity cell
    text = (BASE.replace('weighting = "modulus"\n', 'weighting = "modulus"\ndiameter_mm = 12.0\n')
            .replace("diameter_mm = 10.0\ndiameter_stderr_mm = 0.02\n", "")
            .replace("thickness_mm = 1.0\narea_cm2 = 0.5\n",
                     "cell_constant_per_cm = 1.5\ncell_constant_stderr_per_cm = 0.015\n"))
    a, b = load_config(write(campaign_dir, text)).samples
    assert a.geometry.diameter_cm == pytest.approx(1.2) and a.geometry.thickness_cm == 0.08
    assert b.geometry.thickness_cm is None and b.geometry.cell_constant_per_cm == 1.5
    assert math.sqrt(b.geometry.relative_variance) == pytest.approx(0.01)
    both = text.replace("cell_constant_per_cm = 1.5",
                        "cell_constant_per_cm = 1.5\nthickness_mm = 1")
    with pytest.raises(ConfigError, match="not both"):
        load_config(write(campaign_dir, both))
    # no geometry anywhere: None, taken from the files' headers at run time
    bare = BASE.replace("thickness_mm = 1.0\narea_cm2 = 0.5\n", "")
    assert load_config(write(campaign_dir, bare)).samples[1].geometry is None


def test_sample_attrs_for_results(campaign_dir: Path) -> None:
    a = load_config(write(campaign_dir, BASE)).samples[0]
    attrs = a.to_attrs()
    assert attrs["thickness_cm"] == pytest.approx(0.08)
    assert attrs["milling_time_min"] == 45.0 and attrs["temperature_source"] == "filename"
    assert 0 < float(attrs["relative_density"]) < 1
    b = load_config(write(campaign_dir, BASE)).samples[1]
    assert "diameter_cm" not in b.to_attrs() and "mass_g" not in b.to_attrs()


def test_format_checked_against_registry(campaign_dir: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from eis_pipeline.config import toml

    monkeypatch.setattr(toml, "importers", lambda: {"biologic-mpt": None,
                                                        "gamry-dta": None})
    ok = BASE.replace('weighting = "unit"', 'weighting = "unit"\nformat = "gamry-dta"')
    assert load_config(write(campaign_dir, ok)).samples[1].settings.format == "gamry-dta"
    with pytest.raises(ConfigError, match="did you mean 'gamry-dta'") as info:
        load_config(write(campaign_dir, ok.replace('"gamry-dta"', '"gamry_dta"')))
    assert info.value.line == 31


def test_series_fit_key(campaign_dir: Path) -> None:
    text = BASE.replace('weighting = "unit"', 'weighting = "unit"\nseries_fit = "global"')
    a, b = load_config(write(campaign_dir, text)).samples
    assert (a.settings.series_fit, b.settings.series_fit) == ("none", "global")
    with pytest.raises(ConfigError, match="series_fit = 'globl' is not a valid choice"):
        load_config(write(campaign_dir, text.replace('"global"', '"globl"')))


def test_arrhenius_weighting_and_reference_temperature_keys(campaign_dir: Path) -> None:
    text = BASE.replace('weighting = "unit"', 'weighting = "unit"\narrhenius_weighting = "none"'
                        '\nreference_temperature_celsius = 60')
    a, b = load_config(write(campaign_dir, text)).samples
    assert (a.settings.arrhenius_weighting, b.settings.arrhenius_weighting) == ("fit_stderr",
                                                                                "none")
    assert b.settings.reference_temperature_K == pytest.approx(333.15)
    assert a.settings.reference_temperature_K == pytest.approx(298.15)
    with pytest.raises(ConfigError, match="did you mean 'none'"):
        load_config(write(campaign_dir, text.replace('"none"', '"nope"')))
    with pytest.raises(ConfigError, match="below absolute zero"):
        load_config(write(campaign_dir, text.replace("celsius = 60", "celsius = -300")))


def test_vtf_form_key(campaign_dir: Path) -> None:
    """arrhenius_form = "vtf" is a choice; with a breakpoint or the (Arrhenius-only) global
    series fit it is refused, naming the key."""
    text = BASE.replace('weighting = "unit"', 'weighting = "unit"\narrhenius_form = "vtf"')
    a, b = load_config(write(campaign_dir, text)).samples
    assert (a.settings.arrhenius_form, b.settings.arrhenius_form) == ("sigma_T", "vtf")
    with pytest.raises(ConfigError, match="cannot be used with arrhenius_breakpoint_celsius"):
        load_config(write(campaign_dir, text + "arrhenius_breakpoint_celsius = 50\n"))
    with pytest.raises(ConfigError, match='cannot be used with series_fit = "global"'):
        load_config(write(campaign_dir, text + 'series_fit = "global"\n'))
    with pytest.raises(ConfigError, match="not a valid choice"):
        load_config(write(campaign_dir, text.replace('"vtf"', '"vft"')))
