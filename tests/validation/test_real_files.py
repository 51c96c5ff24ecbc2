"""The validation functions on real exports from ../shared/formats/ (skipped when absent).

The arrays come from the JSON reference files that accompany the exports, so these tests do not
depend on the importers.
"""

from __future__ import annotations

import json

import numpy as np

from eis_pipeline.validation.drt import drt
from eis_pipeline.validation.kramers_kronig import kramers_kronig


def _control(shared_formats):
    data = json.loads((shared_formats / "pyimpspec" / "EXPECTED_control_data.json").read_text())
    f = np.asarray(data["frequency"], dtype=float)
    return f, np.asarray(data["real"]) + 1j * np.asarray(data["imaginary"])


def _impedance_py(shared_formats, name):
    files = json.loads((shared_formats / "impedance_py" / "EXPECTED_parsed_values.json")
                       .read_text())["files"]
    entry = files[name]
    f = np.asarray(entry["f_Hz"], dtype=float)
    return f, np.asarray(entry["Zreal_ohm"]) + 1j * np.asarray(entry["Zimag_ohm"])


def test_control_spectrum_is_compliant_and_described_by_its_drt(shared_formats):
    f, z = _control(shared_formats)
    result = kramers_kronig(f, z)
    assert result.passed and result.max_residual < 0.005
    d = drt(f, z)
    assert len(d.peaks) >= 1
    assert np.max(np.abs(d.impedance_fit - z) / np.abs(z)) < 0.02


def test_powersuite_high_frequency_artefacts_fail(shared_formats):
    # Z' turns negative at the top of the range: no causal passive system does that.
    f, z = _impedance_py(shared_formats, "exampleDataPowersuite.txt")
    assert np.any(z.real < 0)
    result = kramers_kronig(f, z)
    assert not result.passed
    worst = np.argmax(np.maximum(np.abs(result.residual_real), np.abs(result.residual_imag)))
    assert f[worst] > 1e5
