"""scripts/same_results.py: the before/after check of speed work on a campaign's results."""

import importlib.util
from pathlib import Path

import h5py
import numpy as np

_SPEC = importlib.util.spec_from_file_location(
    "same_results", Path(__file__).resolve().parents[1] / "scripts" / "same_results.py")
assert _SPEC is not None and _SPEC.loader is not None
same_results = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(same_results)


def _write(path: Path, value: float, source: str, created: str) -> None:
    with h5py.File(path, "w") as h5:
        h5.attrs["created"] = created
        group = h5.create_group("pellet/fit")
        group["value"] = np.array([1.0, np.nan, value])
        group["source"] = np.array([source.encode()])
        group["value"].attrs["units"] = "ohm"


def test_same_values_despite_nan_stamps_and_checkout_paths(tmp_path: Path) -> None:
    _write(tmp_path / "a.h5", 3.0, "/old/x.mpt", "monday")
    _write(tmp_path / "b.h5", 3.0, "/new/x.mpt", "tuesday")
    assert same_results.differences(str(tmp_path / "a.h5"), str(tmp_path / "b.h5"),
                                    [("/old", "/new")]) == []
    assert same_results.differences(str(tmp_path / "a.h5"), str(tmp_path / "b.h5"),
                                    []) == ["pellet/fit/source: values differ"]


def test_a_last_bit_differs(tmp_path: Path) -> None:
    _write(tmp_path / "a.h5", 3.0, "x", "now")
    _write(tmp_path / "b.h5", float(np.nextafter(3.0, 4.0)), "x", "now")
    assert same_results.main([str(tmp_path / "a.h5"), str(tmp_path / "b.h5")]) == 1
