"""``eis-pipeline circuits`` lists every preset and element, as text and as JSON."""

from __future__ import annotations

import json

from click.testing import CliRunner

from eis_pipeline.circuits import ELEMENTS, PRESETS
from eis_pipeline.cli.main import cli


def test_text_listing_names_every_preset_and_element() -> None:
    result = CliRunner().invoke(cli, ["circuits"])
    assert result.exit_code == 0, result.output
    for preset in PRESETS.values():
        assert preset.name in result.output
        assert preset.circuit in result.output
    for kind in ELEMENTS:
        assert f"\n  {kind} " in result.output
    assert "CPE#_1   n" in result.output
    assert "grain_boundary = R2, CPE2" in result.output


def test_json_listing_is_complete_and_parseable() -> None:
    result = CliRunner().invoke(cli, ["circuits", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [p["name"] for p in data["presets"]] == list(PRESETS)
    bulk = next(p for p in data["presets"] if p["name"] == "bulk-gb-electrode")
    assert bulk["roles"]["bulk"] == {"resistance": "R1", "cpe": "CPE1"}
    assert bulk["bulk_from_intercept"] is False
    assert {e["name"] for e in data["elements"]} == set(ELEMENTS)


def test_listed_in_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert "circuits" in result.output


def test_text_listing_explains_auto() -> None:
    result = CliRunner().invoke(cli, ["circuits"])
    assert "\n  auto\n" in result.output and "lowest BIC" in result.output
