"""``eis-pipeline compile``: the warm-up ``make install`` runs after ``pip install``."""

import subprocess
import sys

import pytest
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


@pytest.mark.parametrize("command", ["fit", "run"])
def test_command_does_not_import_matplotlib_or_scipy_signal(command: str) -> None:
    """`eis-pipeline fit` without --plots and `run` without --report load neither matplotlib
    nor scipy.signal/scipy.stats (about 1 s each of every cold start), and neither does a
    DRT (its peaks are found in numpy): a run with --plots none never pays them, in any
    worker."""
    code = ("import sys, importlib, numpy as np; from eis_pipeline.cli.main import COMMANDS; "
            f"importlib.import_module(COMMANDS[{command!r}].split(':')[0]); "
            "from eis_pipeline.validation.drt import drt; f = np.geomspace(1e6, 0.1, 50); "
            "assert drt(f, 1e3 / (1 + 2j * np.pi * f * 1e-4)).peaks; "
            "print(sorted(m for m in ('matplotlib', 'scipy.signal', 'scipy.stats', "
            "'eis_pipeline.report.html') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
