"""The HTML report: self-contained (no network), every sample and figure present, and it
renders in headless Chromium without console errors."""

from __future__ import annotations

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


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (`.ci/run` installs "
                                               "Debian's chromium package when it can)")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = write_report(_tree(), tmp_path / "report.html")
    shot = tmp_path / "report.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    run = subprocess.run([str(CHROMIUM), *flags, "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True)
    dom = run.stdout
    assert "mill015" in dom and "mill045" in dom and "<table" in dom
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    subprocess.run([str(CHROMIUM), *flags, "--window-size=1200,2000",
                    f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, text=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000
