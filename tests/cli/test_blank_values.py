"""An empty or whitespace-only option value is a usage error naming the option (issue 10:
``--circuit ""`` silently used the default; ``-o ""`` meant the current folder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from eis_pipeline.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
FILE = str(ROOT / "sample_data" / "mill045min" / "mill045_25C.mpt")
CONFIG = str(ROOT / "configs" / "example.toml")


@pytest.mark.parametrize(("args", "option"), [
    (["fit", "--circuit", "", FILE], "--circuit"),
    (["fit", "--circuit", "   ", FILE], "--circuit"),
    (["fit", "--preset", "\t", FILE], "--preset"),
    (["fit", "--format", "", FILE], "--format"),
    (["fit", "-o", "", FILE], "--output"),
    (["fit", "--plots", " ", FILE], "--plots"),
    (["run", "-o", "", CONFIG], "--output"),
    (["run", "--scheduler", "", CONFIG], "--scheduler"),
    (["run", ""], "SOURCES"),
    (["inspect", "--format", " ", FILE], "--format"),
    (["init", "-o", "", str(ROOT / "sample_data")], "--output"),
    (["report", "-o", "", CONFIG], "--output"),
])
def test_blank_value_is_a_usage_error_naming_the_option(tmp_path, monkeypatch, args, option):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert option in result.output and "is empty; give a value" in result.output
    assert list(tmp_path.iterdir()) == []    # nothing written before the refusal


def test_help_is_unchanged_by_the_check():
    result = CliRunner().invoke(cli, ["fit", "--help"])
    assert result.exit_code == 0 and "--circuit TEXT" in result.output
