"""``eis-pipeline compile``: the warm-up ``make install`` runs after ``pip install``."""

import subprocess
import sys

from click.testing import CliRunner

from eis_pipeline.circuits import PRESETS
from eis_pipeline.cli.main import cli


def test_compile_runs_a_campaign_and_every_preset() -> None:
    result = CliRunner().invoke(cli, ["compile"])
    assert result.exit_code == 0, result.output
    assert "model selection, Kramers-Kronig, DRT" in result.output
    for name in PRESETS:
        assert f"preset {name}\n" in result.output
    assert result.output.rstrip().endswith(" s")


def test_fit_command_does_not_import_matplotlib_or_scipy_signal() -> None:
    """`eis-pipeline fit` without --plots loads neither (about 1 s each of every cold start)."""
    code = ("import sys; from eis_pipeline.cli.main import COMMANDS; import importlib; "
            "importlib.import_module(COMMANDS['fit'].split(':')[0]); "
            "print(sorted(m for m in ('matplotlib', 'scipy.signal', 'scipy.stats') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
