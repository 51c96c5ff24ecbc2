"""One figure that cannot be drawn is recorded on its own: the sample's other figures are
written, in a run and in the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import xarray as xr

from eis_pipeline.io.hdf5 import read_results
from eis_pipeline.pipeline import run
from eis_pipeline.report import figures
from eis_pipeline.report.html import render_report
from tests.test_run_safety import campaign


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
