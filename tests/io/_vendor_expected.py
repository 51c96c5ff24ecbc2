"""Reference values the source projects assert, loaded from ../shared/formats/."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def control_spectrum(shared: Path) -> tuple[np.ndarray, np.ndarray]:
    """pyimpspec's 29-point control spectrum: (frequency Hz, complex impedance ohm)."""
    data = json.loads((shared / "pyimpspec" / "EXPECTED_control_data.json").read_text())
    return (np.asarray(data["frequency"], dtype=float),
            np.asarray(data["real"], dtype=float) + 1j * np.asarray(data["imaginary"], float))


def impedance_py_values(shared: Path, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """impedance.py's expected (f, Z) for ``name``, or None when it lists no values for it."""
    files = json.loads((shared / "impedance_py" / "EXPECTED_parsed_values.json").read_text())
    entry = files["files"].get(name)
    if entry is None:
        return None
    return (np.asarray(entry["f_Hz"], dtype=float),
            np.asarray(entry["Zreal_ohm"], dtype=float)
            + 1j * np.asarray(entry["Zimag_ohm"], dtype=float))
