"""`eis-pipeline run` error paths through click's CliRunner (the pipeline itself is patched)."""

from __future__ import annotations

from click.testing import CliRunner

from eis_pipeline.cli.main import cli
from eis_pipeline.cli.run import plural, without_prefix


def test_typo_in_config_is_exit_2_with_suggestion(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[defaults]\ncirciut = "auto"\n')
    r = CliRunner().invoke(cli, ["run", str(cfg)])
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error: ") and "did you mean 'circuit'" in r.output


def test_os_error_during_run_is_an_error_line(tmp_path, monkeypatch):
    data = tmp_path / "p_25C.txt"
    data.write_text("x\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[samples]]\nname = "a"\nfiles = ["p_*.txt"]\n'
                   'temperature = {from = "column"}\nthickness_mm = 1\ndiameter_mm = 10\n')

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "out.h5"))

    monkeypatch.setattr("eis_pipeline.cli.run.run_campaign", refuse)
    r = CliRunner().invoke(cli, ["run", str(cfg), "-o", str(tmp_path / "out.h5")])
    assert r.exit_code == 1 and "error: " in r.output and "Permission denied" in r.output
    assert "1 sample, 1 file" in r.output
    assert isinstance(r.exception, SystemExit)


def test_failure_reason_does_not_repeat_the_file():
    f = "/data/bad_99C.mpt"
    assert without_prefix(f"{f}: no importer recognises it", f) == "no importer recognises it"
    assert without_prefix(f"{f}:64: expected 18 columns\nmore", f) == "line 64: expected 18 columns"
    assert without_prefix("fit did not converge", f) == "fit did not converge"
    assert plural(1, "plot") == "1 plot" and plural(3, "plot") == "3 plots"
