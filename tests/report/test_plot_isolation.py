"""One figure that cannot be drawn is recorded on its own: the sample's other figures are
written, in a run and in the report."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import xarray as xr

from eis_pipeline.io.hdf5 import read_results
from eis_pipeline.pipeline import run
from eis_pipeline.report import figures
from eis_pipeline.report.html import render_report
from tests.test_run_safety import PATTERN, campaign


def _break_one_nyquist(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    """nyquist raises for the spectrum whose title names ``bad``."""
    original = figures.nyquist

    def nyquist(spectrum: Any, *args: Any, **kwargs: Any) -> Any:
        if bad in str(kwargs.get("title", "")):
            raise ValueError("synthetic drawing failure")
        return original(spectrum, *args, **kwargs)

    monkeypatch.setattr(figures, "nyquist", nyquist)


def test_a_failing_spectrum_figure_skips_only_itself(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    config = campaign(tmp_path, files=2)
    _break_one_nyquist(monkeypatch, "_0C")
    tree = run(config, progress=False, plots="all")
    plots = tmp_path / "out" / "r_plots"
    written = sorted(p.name for p in (plots / "a").iterdir())
    # 2 spectra x (nyquist, bode, checks) minus the one broken Nyquist
    assert len(written) == 2 * 3 - 1, written
    assert not any("_0C" in name and "nyquist" in name for name in written)
    assert (plots / "a_arrhenius.png").exists()
    failures = tree["failures"].ds
    stages = list(failures["stage"].values.astype(str))
    assert stages.count("plot") == 1
    i = stages.index("plot")
    assert "nyquist figure" in str(failures["file"].values[i])
    assert "synthetic drawing failure" in str(failures["reason"].values[i])
    assert "plot" in read_results(tmp_path / "out" / "r.h5")["failures"].ds["stage"].values


def test_report_says_where_a_figure_failed(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    run(campaign(tmp_path, files=2), progress=False, plots="none")
    tree: xr.DataTree = read_results(tmp_path / "out" / "r.h5")
    _break_one_nyquist(monkeypatch, "_0C")
    text = render_report(tree)
    assert text.count("figure not drawn") == 1
    assert "synthetic drawing failure" in text
    # the other spectrum's three figures and the broken one's Bode and checks are there
    assert text.count('src="data:image/png;base64,') == 2 * 3 - 1


def test_report_says_in_place_which_series_figure_failed(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """The report's series figures go through the same per-figure isolation as the plots
    folder (report.plots.isolated): the broken one is named with its error, the next drawn."""
    import matplotlib.pyplot as plt

    from eis_pipeline.report import html

    def broken() -> Any:
        raise ValueError("synthetic series failure")

    def fine() -> Any:
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        return fig

    monkeypatch.setattr(html, "series_figures", lambda node: [
        ("global Arrhenius figure", "a", broken), ("conductivity spectra", "b", fine)])
    text = html._sample_section("s", xr.DataTree(name="s"), {}, {})
    assert ("global Arrhenius figure not drawn: ValueError: synthetic series failure"
            in text)
    assert text.count("<svg") + text.count("<figure") >= 1
    assert "Conductivity spectra of s" in text


# --------------------------------------------------------------------------- figures of workers

def _two_samples(tmp: Path) -> Path:
    """Two samples of two files each: with workers, each is a whole-sample task."""
    second = ('\n[[samples]]\nname = "b"\nfiles = ["data_b/*.mpt"]\n'
              f"temperature = {PATTERN}\nthickness_mm = 0.7\ndiameter_mm = 10\n")
    config = campaign(tmp, files=2, extra=second)
    shutil.copytree(tmp / "data", tmp / "data_b")
    return config


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _failures(path: Path) -> list[tuple[str, ...]]:
    ds = read_results(path)["failures"].ds
    return sorted(zip(*(ds[k].values.astype(str) for k in ("sample", "file", "stage",
                                                              "reason")), strict=True))


def test_workers_render_the_figures_the_serial_run_writes(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """jobs=2: each worker draws its sample's figures (the parent draws none of them) and
    the parent writes the bytes a serial run writes, file for file."""
    import os

    from eis_pipeline import pipeline

    config = _two_samples(tmp_path)
    serial, jobs2 = tmp_path / "serial.h5", tmp_path / "jobs2.h5"
    run(config, output=serial, progress=False, plots="all")
    drawn_by: list[int] = []
    real = pipeline.render_plots
    monkeypatch.setattr(pipeline, "render_plots",
                        lambda *a, **k: drawn_by.append(os.getpid()) or real(*a, **k))
    run(config, output=jobs2, jobs=2, progress=False, plots="all")
    assert drawn_by == []   # (the workers' calls are recorded in their own memory)
    want, got = _files(tmp_path / "serial_plots"), _files(tmp_path / "jobs2_plots")
    # 2 samples x (2 spectra x 3 figures + Arrhenius), and the campaign's trend
    assert len([k for k in want if not k.startswith("campaign_")]) == 2 * (2 * 3 + 1)
    # (on a mismatch: which files, and what each run recorded)
    assert sorted(got) == sorted(want), (set(got) ^ set(want), _failures(jobs2),
                                         _failures(serial))
    for name, data in want.items():
        assert got[name] == data, name


def test_a_figure_that_fails_in_a_worker_is_recorded_and_the_rest_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _two_samples(tmp_path)
    _break_one_nyquist(monkeypatch, "a · ")   # sample a's Nyquist figures (the workers fork)
    serial, jobs2 = tmp_path / "serial.h5", tmp_path / "jobs2.h5"
    run(config, output=serial, progress=False, plots="all")
    tree = run(config, output=jobs2, jobs=2, progress=False, plots="all")
    failures = _failures(jobs2)
    assert [f[2] for f in failures] == ["plot", "plot"], failures
    assert all(f[0] == "a" and "nyquist figure" in f[1]
               and "synthetic drawing failure" in f[3] for f in failures)
    assert failures == _failures(serial)   # the records a serial run makes
    written = _files(tmp_path / "jobs2_plots")
    assert written == _files(tmp_path / "serial_plots")
    assert len([k for k in written if k.startswith("a/")]) == 2 * 2   # Bode and checks
    assert "a_arrhenius.png" in written and len([k for k in written if k.startswith("b/")]) == 6
    results = read_results(jobs2)
    for name in ("a", "b"):   # the sample's results are all there
        assert {"fit", "conductivity", "arrhenius"} <= set(results[name].children)
        xr.testing.assert_identical(results[name]["fit"].ds, read_results(serial)[name]["fit"].ds)
    assert list(tree["failures"].ds["stage"].values.astype(str)) == ["plot", "plot"]


def test_a_figure_that_cannot_be_written_is_recorded_and_the_rest_written(
        tmp_path: Path) -> None:
    config = campaign(tmp_path, files=2)
    plots = tmp_path / "out" / "r_plots"
    plots.mkdir(parents=True)
    (plots / "a").write_text("a file where the sample's spectrum figures go")
    tree = run(config, progress=False, plots="all")
    failures = tree["failures"].ds
    assert list(failures["stage"].values.astype(str)) == ["plot"] * 2 * 3
    assert all("figure)" in str(f) for f in failures["file"].values)
    assert (plots / "a_arrhenius.png").is_file()
    assert "fit" in read_results(tmp_path / "out" / "r.h5")["a"].children
