"""The HTML report: self-contained (no network), every sample and figure present, and it
renders in headless Chromium without console errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.packing import pack_spectra
from eis_pipeline.report.html import render_report, write_report
from eis_pipeline.testing.simulate import log_frequencies, pellet_impedance

PARAMS = {"L0": 0.0, "R1": 1200.0, "CPE1_0": 3e-11, "CPE1_1": 0.93, "R2": 900.0,
          "CPE2_0": 2e-9, "CPE2_1": 0.81, "CPE3_0": 4e-6, "CPE3_1": 0.87}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _tree() -> xr.DataTree:
    f = log_frequencies(1e6, 1, 8)
    nodes: dict[str, xr.Dataset] = {}
    for sample, scale in (("mill015", 1.0), ("mill045", 0.2)):
        params = {k: v * scale if k.startswith("R") else v for k, v in PARAMS.items()}
        z = pellet_impedance(f, params)
        spectrum = make_spectrum(f, z * (1 + 0.002j))
        spectrum["impedance_fit"] = ("frequency", z)
        spectrum["temperature"] = ("frequency", np.full(f.size, 298.15))
        spectrum.attrs["spectrum_id"] = f"{sample}_25C"
        nodes[f"{sample}/spectra"] = pack_spectra([spectrum])
    campaign = xr.Dataset(
        {"sigma_25C": (("sample", "component"), [[1e-4, 2e-4, 6e-5], [5e-4, 1e-3, 3e-4]]),
         "sigma_25C_stderr": (("sample", "component"), np.full((2, 3), 1e-6)),
         "sigma_25C_extrapolated": (("sample", "component"), [[True] * 3, [False] * 3]),
         "activation_energy": (("sample", "component"), np.full((2, 3), 0.4)),
         "activation_energy_stderr": (("sample", "component"), np.full((2, 3), 0.01)),
         "milling_time_min": ("sample", [15.0, 45.0], {"synthesis_parameter": 1})},
        coords={"sample": ["mill015", "mill045"],
                "component": ["bulk", "grain_boundary", "total"]})
    nodes["campaign"] = campaign
    nodes["failures"] = xr.Dataset({"file": ("failure", ["broken.mpt"]),
                                    "reason": ("failure", ["line 12: expected 3 columns"])})
    return xr.DataTree.from_dict(nodes)


def test_report_is_self_contained() -> None:
    text = render_report(_tree(), command="eis-pipeline report r.h5")
    for sample in ("mill015", "mill045"):
        assert f'id="sample-{sample}"' in text
    assert "σ(25 °C) bulk (µS/cm)" in text
    assert 'class="extrapolated"' in text            # mill015's values are marked
    assert "broken.mpt" in text and "expected 3 columns" in text
    assert text.count("<svg") >= 1                     # the trend plot, inline
    assert text.count('src="data:image/png;base64,') == 2 * 2   # Nyquist + Bode per spectrum
    # nothing is fetched: no external scripts, styles, images or links
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<link" not in text


NO_CHROMIUM = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (`.ci/run` installs Debian's chromium "
                             "package when it can)")


def _chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Headless chromium on ``page`` with every network request made to fail (proxy and host
    resolver point nowhere): a request would show as a console error."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]
    return subprocess.run([str(CHROMIUM), *flags, *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=True)


def _console(run: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in run.stderr.splitlines() if "CONSOLE" in line]


def _screenshots(page: Path, folder: Path) -> list[Path]:
    """A laptop-sized screenshot of the top and a tall one of the whole page; also copied to
    $EIS_SCREENSHOTS when set, to look at."""
    shots = []
    for name, size in (("top", "1280,800"), ("full", "1280,6000")):
        shot = folder / f"report_{name}.png"
        _chromium(page, folder / "profile", f"--window-size={size}", f"--screenshot={shot}")
        assert shot.stat().st_size > 10_000
        shots.append(shot)
    target = os.environ.get("EIS_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copy(shot, Path(target) / shot.name)
    return shots


@NO_CHROMIUM
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = write_report(_tree(), tmp_path / "report.html")
    run = _chromium(page, tmp_path / "profile", "--dump-dom")
    dom = run.stdout
    assert "mill015" in dom and "mill045" in dom and "<table" in dom
    assert not _console(run), _console(run)
    _screenshots(page, tmp_path)


DEMO = Path(__file__).resolve().parents[2] / "sample_data"


@NO_CHROMIUM
@pytest.mark.skipif(not DEMO.is_dir(), reason="sample_data/ (the demo campaign) not present")
def test_demo_campaign_report_in_headless_chromium(tmp_path: Path) -> None:
    """A two-sample cut of the demo campaign (two temperatures each, KK and DRT on) through
    `run` and `report`: chromium finds every sample, spectrum, figure and table, logs nothing
    and requests nothing."""
    from click.testing import CliRunner

    from eis_pipeline.cli.main import cli

    samples = (("mill045", "mill045min", "*_[24]*C.mpt", 45, 0.64),
               ("mill120", "mill120min", "*_[24]*C.mpt", 120, 0.71))
    blocks = "".join(
        f'[[samples]]\nname = "{name}"\nfiles = ["{DEMO / folder}/{glob}"]\n'
        'temperature = {from = "filename", pattern = "_(?P<celsius>-?\\\\d+)C"}\n'
        f"thickness_mm = {t}\ndiameter_mm = 10\n[samples.synthesis]\n"
        f"milling_time_min = {minutes}\n\n" for name, folder, glob, minutes, t in samples)
    config = tmp_path / "demo.toml"
    config.write_text('[campaign]\nname = "demo cut"\noutput = "r.h5"\nplots = false\n\n'
                      '[defaults]\ncircuit = "bulk-gb-electrode"\nf_min_hz = 1.0\n\n' + blocks)
    out = CliRunner().invoke(cli, ["run", str(config), "--report", "--no-progress"])
    assert out.exit_code == 0, out.output
    page = tmp_path / "r.html"
    from eis_pipeline.io.hdf5 import read_results

    tree = read_results(tmp_path / "r.h5")
    spectra = {name: [str(i) for i in tree[name]["spectra"].ds["spectrum_id"].values]
               for name, *_ in samples}
    assert all(len(ids) == 2 for ids in spectra.values()), spectra
    run = _chromium(page, tmp_path / "profile", "--dump-dom")
    dom = run.stdout
    assert not _console(run), _console(run)
    for name, ids in spectra.items():
        assert f'id="sample-{name}"' in dom
        for sid in ids:
            assert f'id="spectrum-{name}-{sid}"' in dom
    assert dom.count('src="data:image/png;base64,') == 4 * 3   # Nyquist, Bode, KK/DRT
    # inline SVG: a trend per varied synthesis parameter and an Arrhenius plot per sample
    assert dom.count("<svg") >= 1 + 2
    assert "σ(25 °C) against milling_time_min" in dom
    # tables: summary, one per sample, failures or its note, provenance
    assert dom.count("<table") >= 1 + 2 + 1
    assert "Provenance" in dom and "sha256" in dom
    _screenshots(page, tmp_path)


def test_global_series_fit_in_the_summary_and_its_figures(tmp_path: Path) -> None:
    """With series_fit = "global" the summary shows the global E_a beside the per-spectrum
    one, and the sample section draws the global Arrhenius and conductivity-spectra figures."""
    from eis_pipeline.io.hdf5 import read_results
    from eis_pipeline.pipeline import run
    from eis_pipeline.report.html import render_report

    root = Path(__file__).resolve().parents[2] / "sample_data" / "mill120min"
    if not root.is_dir():
        pytest.skip("sample_data/ not present")
    data = tmp_path / "data"
    data.mkdir()
    for t in (-20, 25, 80):
        shutil.copy(root / f"mill120_{t}C.mpt", data)
    config = tmp_path / "c.toml"
    config.write_text('[campaign]\nname = "g"\noutput = "r.h5"\n[defaults]\n'
                      'circuit = "bulk-gb-electrode-inductance"\nseries_fit = "global"\n'
                      '[[samples]]\nname = "m"\nfiles = ["data/*.mpt"]\n'
                      'temperature = {from = "filename", pattern = "_(?P<celsius>-?\\\\d+)C"}\n'
                      "thickness_mm = 0.71\ndiameter_mm = 9.98\n")
    run(config, progress=False, plots="none")
    page = render_report(read_results(tmp_path / "r.h5"))
    assert "Ea bulk global (eV)" in page and "Ea gb global (eV)" in page
    assert "Global Arrhenius figure of m" in page and "Conductivity spectra figure of m" in page
