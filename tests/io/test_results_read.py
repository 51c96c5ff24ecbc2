"""read_results' own decoding of plain groups gives what xarray's CF chain gives, exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from eis_pipeline.io.hdf5 import read, read_results, write_results
from tests.io.test_hdf5 import small_tree


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same type (NaN equal to NaN; arrays by dtype, shape, values)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(
            a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, float | np.floating) and np.isnan(a):
        return bool(np.isnan(b))
    return bool(a == b)


def _assert_same_dict(a: dict[Any, Any], b: dict[Any, Any], where: str) -> None:
    assert list(a) == list(b), where                   # the same keys in the same order
    for key in a:
        assert _same(a[key], b[key]), f"{where}: {key}: {a[key]!r} != {b[key]!r}"


def assert_same_tree(ours: xr.DataTree, theirs: xr.DataTree) -> None:
    """Node by node: identical, and attributes and encodings with the same order and types."""
    assert [n.path for n in ours.subtree] == [n.path for n in theirs.subtree]
    for node in theirs.subtree:
        mine = ours[node.path] if node.path != "/" else ours
        for inherit in (False, True):
            a, b = mine.to_dataset(inherit=inherit), node.to_dataset(inherit=inherit)
            xr.testing.assert_identical(a, b)
            assert list(a.variables) == list(b.variables), node.path
            assert list(a.coords) == list(b.coords), node.path
            assert list(a.xindexes) == list(b.xindexes), node.path
        _assert_same_dict(dict(mine.attrs), dict(node.attrs), node.path)
        for name, var in node.variables.items():
            where = f"{node.path}/{name}"
            other = mine.variables[name]
            assert other.dtype == var.dtype, where
            _assert_same_dict(dict(other.attrs), dict(var.attrs), where)
            _assert_same_dict(dict(other.encoding), dict(var.encoding), where)


def _through_cf_chain(path: Path, monkeypatch: pytest.MonkeyPatch) -> xr.DataTree:
    """``read_results`` with every group decoded by ``xr.decode_cf``."""
    with monkeypatch.context() as patch:
        patch.setattr(read, "_plain_decoded", lambda *_: None)
        return read_results(path)


def _count_cf_groups(path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    calls = []
    original = xr.decode_cf
    with monkeypatch.context() as patch:
        patch.setattr(read.xr, "decode_cf", lambda *a, **k: calls.append(1) or original(*a, **k))
        read_results(path)
    return len(calls)


def test_our_files_decode_without_the_cf_chain(tmp_path: Path, rng: np.random.Generator,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_results(small_tree(rng), tmp_path / "r.h5", config={"a": 1}, history="t")
    assert _count_cf_groups(path, monkeypatch) == 0      # the fast path is the one tested
    ours = read_results(path)
    assert ours["mill045/fit"].ds["converged"].dtype == bool
    assert_same_tree(ours, _through_cf_chain(path, monkeypatch))


def _cf_file(path: Path) -> Path:
    """A file xarray writes, with what CF decoders act on beside what our writer sets."""
    n = 4
    root = xr.Dataset(
        {"plain": ("x", np.arange(n, dtype=np.float64), {"units": "ohm"}),
         "nan_filled": ("x", np.array([1.0, np.nan, 3.0, 4.0])),
         "masked_float": ("x", np.array([1.0, -9.0, 3.0, 4.0]), {"_FillValue": -9.0}),
         "masked_int": ("x", np.array([1, -1, 3, 4], dtype=np.int32), {"_FillValue": -1}),
         "packed": ("x", np.array([0.5, 1.0, 1.5, 2.0])),
         "flags": ("x", np.array([True, False, True, True])),
         "when": ("x", pd.date_range("2026-01-01", periods=n, freq="h").values),
         "elapsed": ("x", pd.to_timedelta(np.arange(n), unit="s").values),
         "label": ("x", np.array(["a", "bb", "", "é"], dtype=object)),
         "aux": ("x", np.arange(n) * 2.0)},
        coords={"x": np.arange(n) * 10.0, "station": ("x", np.array(["p", "q", "r", "s"]))},
        attrs={"title": "cf", "count": np.int64(3), "ratio": 0.5},
    )
    root["packed"].encoding.update({"dtype": "int16", "scale_factor": 0.5, "_FillValue": -1})
    child = xr.Dataset({"y": ("t", np.array([1.0, 2.0]), {"_FillValue": np.nan})},
                       coords={"t": [1, 2]}, attrs={"note": "child"})
    xr.DataTree.from_dict({"/": root, "/child": child}).to_netcdf(path, engine="h5netcdf")
    return path


def test_other_files_decode_as_the_cf_chain_decodes_them(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    path = _cf_file(tmp_path / "cf.nc")
    ours = read_results(path)
    assert ours.ds["when"].dtype.kind == "M" and ours.ds["elapsed"].dtype.kind == "m"
    assert np.isnan(ours.ds["masked_float"].values[1])
    assert "station" in ours.ds.coords
    assert_same_tree(ours, _through_cf_chain(path, monkeypatch))
    with xr.open_datatree(path, engine="h5netcdf") as theirs:   # (its group attributes
        for node in theirs.subtree:                             # differ: 1-element arrays)
            xr.testing.assert_identical(ours[node.path].to_dataset(inherit=False),
                                        node.to_dataset(inherit=False).load()
                                        .drop_attrs(deep=False)
                                        .assign_attrs(ours[node.path].attrs))
