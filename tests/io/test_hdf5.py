"""Results file: round trip, plain-h5py readability, atomic replacement, inspect summary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

from eis_pipeline.io import hdf5
from eis_pipeline.io.hdf5 import (
    ResultsError,
    encode,
    read_results,
    write,
    write_results,
)
from eis_pipeline.packing import pack_spectra, unpack_spectra

ROOT = Path(__file__).resolve().parents[2]


def small_tree(rng: np.random.Generator, scale: float = 1.0) -> xr.DataTree:
    f = np.logspace(6, 0, 13)
    z = (100 * scale / (1 + 1j * f / 1e4)) + rng.normal(size=f.size) * 1j
    spectrum = xr.Dataset(
        {"impedance": ("frequency", z, {"units": "ohm"}),
         "impedance_fit": ("frequency", z * 1.001, {"units": "ohm"})},
        coords={"frequency": ("frequency", f, {"units": "Hz"})},
        attrs={"source": "mill045_25C.mpt", "sweep": 0, "flag": True},
    )
    fit = xr.Dataset(
        {"value": (("spectrum", "param"), rng.normal(size=(2, 3))),
         "status": ("spectrum", np.array([0, 2])),
         "converged": ("spectrum", np.array([True, False])),
         "message": ("spectrum", np.array(["ok", "iteration limit"]))},
        coords={"spectrum": [0, 1], "param": ["R1", "CPE1_0", "CPE1_1"]},
        attrs={"circuit": "p(R1,CPE1)", "roles": {"bulk": {"resistance": "R1"}}},
    )
    arr = xr.Dataset(
        {"sigma_25C": ("component", np.array([4.1e-3, 1.2e-2])),
         "sigma_25C_stderr": ("component", np.array([1e-4, 5e-4])),
         "activation_energy": ("component", np.array([0.24, 0.3]), {"units": "eV"})},
        coords={"component": ["bulk", "total"]}, attrs={"form": "sigma_T"},
    )
    failures = xr.Dataset({"source": ("failure", np.array(["bad.mpt"])),
                           "reason": ("failure", np.array(["no frequency column"]))})
    return xr.DataTree.from_dict({
        "/": xr.Dataset(attrs={"note": None, "tags": ["a", "b"]}),
        "/mill045": xr.Dataset(attrs={"thickness_cm": 0.064,
                                      "synthesis": {"milling_time_min": 45}}),
        "/mill045/spectra": pack_spectra([spectrum]),
        "/mill045/fit": fit,
        "/mill045/arrhenius": arr,
        "/campaign": xr.Dataset({"milling_time_min": ("sample", [45.0])},
                                coords={"sample": ["mill045"]}, attrs={"best_sample": "mill045"}),
        "/failures": failures,
    })


def test_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    tree = small_tree(rng)
    path = write_results(tree, tmp_path / "out" / "results.h5", config={"name": "demo"},
                         history="pytest")
    back = read_results(path)
    spec = back["mill045/spectra"].ds
    assert spec["impedance"].dtype == np.complex128
    np.testing.assert_array_equal(spec["impedance"].values,
                                  tree["mill045/spectra"].ds["impedance"].values)
    assert spec["flag"].values.tolist() == [1] and spec["impedance"].attrs["units"] == "ohm"
    fit = back["mill045/fit"].ds
    assert fit["converged"].dtype == bool
    assert list(fit["message"].values) == ["ok", "iteration limit"]
    assert json.loads(fit.attrs["roles"]) == {"bulk": {"resistance": "R1"}}
    assert back.attrs["eis_pipeline_version"]
    assert back.attrs["created"].endswith("Z")
    assert json.loads(back.attrs["config"]) == {"name": "demo"}
    assert "pytest" in back.attrs["history"]
    assert "note" not in back.attrs and json.loads(back.attrs["tags"]) == ["a", "b"]
    # the input tree was not modified
    assert tree["mill045/fit"].ds.attrs["roles"] == {"bulk": {"resistance": "R1"}}


def test_readable_by_plain_h5py_and_xarray(tmp_path: Path, rng: np.random.Generator) -> None:
    path = write_results(small_tree(rng), tmp_path / "r.h5")
    with h5py.File(path, "r") as h5:
        z = h5["mill045/spectra/impedance"][()]
        assert z.dtype == np.complex128 and z.shape == (1, 13)
        assert h5["mill045/arrhenius/sigma_25C"][0] == pytest.approx(4.1e-3)
        assert "eis_pipeline_version" in h5.attrs
    ours = read_results(path)
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        assert tree["mill045/spectra"].ds["impedance"].dtype == np.complex128
        # xarray's own reader sees exactly what read_results returns
        assert [n.path for n in tree.subtree] == [n.path for n in ours.subtree]
        for node in tree.subtree:
            theirs = node.to_dataset(inherit=False).load()
            mine = ours[node.path].to_dataset(inherit=False)
            xr.testing.assert_identical(theirs.drop_attrs(deep=False),
                                        mine.drop_attrs(deep=False))
            assert set(theirs.attrs) == set(mine.attrs)


def test_no_temp_files_after_success(tmp_path: Path, rng: np.random.Generator) -> None:
    write_results(small_tree(rng), tmp_path / "r.h5")
    write_results(small_tree(rng, 2.0), tmp_path / "r.h5")   # replace an existing file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5"]


def test_failure_midway_keeps_previous_file(tmp_path: Path, rng: np.random.Generator,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_results(small_tree(rng), tmp_path / "r.h5")
    before = path.read_bytes()

    write_node = write.write_node

    def partial_then_fail(writer: object, tree: object, at: str) -> None:
        if at != "/":        # the root is written, then the disk fills up
            raise OSError("disk full")
        write_node(writer, tree, at)

    monkeypatch.setattr(write, "write_node", partial_then_fail)
    with pytest.raises(ResultsError, match="previous file"):
        write_results(small_tree(rng, 3.0), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert read_results(path)["mill045/arrhenius"].ds["sigma_25C"].size == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5"]


def test_interrupt_is_not_swallowed(tmp_path: Path, rng: np.random.Generator,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    write_node = write.write_node

    def interrupted(writer: object, tree: object, at: str) -> None:
        if at != "/":
            raise KeyboardInterrupt
        write_node(writer, tree, at)

    monkeypatch.setattr(write, "write_node", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_results(small_tree(rng), tmp_path / "r.h5")
    assert list(tmp_path.iterdir()) == []


KILLED_WRITER = textwrap.dedent("""
    import sys
    import numpy as np, xarray as xr
    from eis_pipeline.io.hdf5 import write_results
    # Many groups of moderate size: slow enough to be killed while writing.
    nodes = {f"/s{i:04d}/spectra/000": xr.Dataset(
                 {"impedance": ("frequency", np.full(20000, 1 - 1j) * i)},
                 coords={"frequency": np.linspace(1, 2, 20000)})
             for i in range(400)}
    print("writing", flush=True)
    write_results(xr.DataTree.from_dict(nodes), sys.argv[1])
    print("done", flush=True)
""")


def test_sigkill_during_write_keeps_previous_file(tmp_path: Path,
                                                  rng: np.random.Generator) -> None:
    path = write_results(small_tree(rng), tmp_path / "r.h5")
    before = path.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)],
                            stdout=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 60
        # wait until the writer's temporary file has grown, then kill it mid-write
        while time.monotonic() < deadline and proc.poll() is None:
            temps = list(tmp_path.glob(".r.h5.*.tmp"))
            if temps and temps[0].stat().st_size > 2_000_000:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "writer finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    assert read_results(path)["mill045/spectra"].ds["impedance"].size == 13
    # the killed writer's temp file is cleaned up by the next write
    assert list(tmp_path.glob(".r.h5.*.tmp"))
    write_results(small_tree(rng), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.h5"]


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_results(tmp_path / "missing.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ResultsError, match="not a readable results file"):
        read_results(bad)


def test_readable_by_netcdf_c(tmp_path: Path, rng: np.random.Generator) -> None:
    """The reference netCDF-C library (through netCDF4-python, when installed) reads it."""
    netcdf4 = pytest.importorskip("netCDF4")
    tree = small_tree(rng)
    path = write_results(tree, tmp_path / "r.h5")
    with netcdf4.Dataset(path) as nc:
        group = nc["mill045/spectra"]
        assert list(group.dimensions) == ["spectrum", "point"]
        z = group["impedance"][:]
        if z.dtype.names:                       # nc-complex read as the raw {r, i} compound
            z = z["r"] + 1j * z["i"]
        np.testing.assert_allclose(z, tree["mill045/spectra"].ds["impedance"].values)
        assert list(nc["mill045/fit"]["message"][:]) == ["ok", "iteration limit"]
        assert "failure" in nc["failures"].dimensions


def test_incremental_writer_matches_whole_tree(tmp_path: Path, rng: np.random.Generator) -> None:
    tree = small_tree(rng)
    whole = read_results(write_results(tree, tmp_path / "whole.h5"))
    with hdf5.ResultsWriter(tmp_path / "parts.h5", config=tree.attrs.get("config"),
                            attrs={k: v for k, v in tree.attrs.items() if k != "config"}
                            ) as out:
        assert not (tmp_path / "parts.h5").exists()       # only the temporary file so far
        for name, child in tree.children.items():
            out.write(child, f"/{name}")
    parts = read_results(tmp_path / "parts.h5")
    for node in whole.subtree:
        xr.testing.assert_identical(node.to_dataset(inherit=False).drop_attrs(),
                                    parts[node.path].to_dataset(inherit=False).drop_attrs())


def netcdf_safe_tree(rng: np.random.Generator) -> xr.DataTree:
    """Every kind of variable a results file holds, with attributes netCDF stores as they are
    (so xarray's own writer accepts the tree unchanged)."""
    f = np.logspace(6, 0, 13)
    z = 100 / (1 + 1j * f / 1e4) + rng.normal(size=f.size) * 1j
    spectrum = xr.Dataset(
        {"impedance": ("frequency", z, {"units": "ohm", "long_name": "impedance"}),
         "temperature": ("frequency", np.full(f.size, 298.15), {"units": "K"}),
         "cycle": ("frequency", np.arange(f.size, dtype=np.int32))},
        coords={"frequency": ("frequency", f, {"units": "Hz"})},
        attrs={"source": "a.mpt", "sweep": 0, "scale": 1.5, "shape": np.array([1.0, 2.0])})
    fit = xr.Dataset(
        {"value": (("spectrum", "param"), rng.normal(size=(2, 3))),
         "stderr": (("spectrum", "param"), np.array([[np.nan, 1, 2], [3, 4, np.nan]])),
         "converged": ("spectrum", np.array([True, False])),
         "message": ("spectrum", np.array(["ok", "iteration limit"])),
         "n_starts": ((), 2),
         "ratio": ("spectrum", np.array([0.5, np.nan], np.float32))},
        coords={"spectrum": [0, 1], "param": ["R1", "CPE1_0", "CPE1_1"],
                "source": ("spectrum", ["a.mpt", "b.mpt"])},
        attrs={"circuit": "p(R1,CPE1)"})
    return xr.DataTree.from_dict({
        "/": xr.Dataset(attrs={"campaign": "demo"}),
        "/s1": xr.Dataset(attrs={"thickness_cm": 0.064}),
        "/s1/spectra": pack_spectra([spectrum, spectrum * 2]),
        "/s1/fit": fit,
        "/s1/drt": xr.Dataset({"gamma": (("spectrum", "tau_index"), rng.normal(size=(2, 4)))}),
        "/failures": xr.Dataset({"reason": ("failure", np.array([], dtype="<U1"))}),
    })


def test_content_matches_xarray_writer(tmp_path: Path, rng: np.random.Generator) -> None:
    """Our direct h5py writer and xarray's own ``to_netcdf`` (through h5netcdf) give files
    that xarray reads back identically: variables, dims, coords, attrs, dtypes, encodings."""
    tree = netcdf_safe_tree(rng)
    tree.to_netcdf(tmp_path / "xarray.h5", engine="h5netcdf")
    write_results(tree, tmp_path / "ours.h5")
    provenance = {"eis_pipeline_version", "created", "config", "history"}
    with (xr.open_datatree(tmp_path / "xarray.h5", engine="h5netcdf") as theirs,
          xr.open_datatree(tmp_path / "ours.h5", engine="h5netcdf") as ours):
        assert [n.path for n in theirs.subtree] == [n.path for n in ours.subtree]
        for node in theirs.subtree:
            expected = node.to_dataset(inherit=False).load()
            got = ours[node.path].to_dataset(inherit=False).load()
            if node.path == "/":
                assert set(got.attrs) - set(expected.attrs) == provenance
                got.attrs = {k: v for k, v in got.attrs.items() if k not in provenance}
            xr.testing.assert_identical(expected, got)
            assert list(expected.variables) == list(got.variables)          # same order
            for name, var in expected.variables.items():
                assert got[name].dtype == var.dtype
                theirs_enc = {k: v for k, v in var.encoding.items() if k != "source"}
                ours_enc = {k: v for k, v in got[name].encoding.items() if k != "source"}
                assert repr(ours_enc) == repr(theirs_enc), (node.path, name)  # NaN == NaN


@pytest.mark.parametrize("case", ["spectrum", "mixed", "fit", "bool", "object", "coords",
                                  "datetime", "fill", "encoding", "float16", "bytes",
                                  "spaced", "coordinates"])
def test_plain_encoding_matches_cf_encoder(case: str, rng: np.random.Generator) -> None:
    """The shortcut past xarray's CF coder chain gives exactly what the chain gives, and is
    taken only where it may be."""
    from xarray.conventions import cf_encoder, encode_dataset_coordinates

    tree = netcdf_safe_tree(rng)
    ds = {"spectrum": unpack_spectra(tree["s1/spectra"].to_dataset())[0],
          "mixed": xr.Dataset(
              {"f4": ("x", np.array([0.5, np.nan], np.float32), {"units": "S/cm"}),
               "c8": ("x", np.array([1j, 2], np.complex64)), "scalar": ((), 3.0),
               "label": ("x", ["a", "bc"]), "n": (("x", "y"), np.ones((2, 3), np.uint8))},
              coords={"x": ("x", [10, 20], {"long_name": "index"})},
              attrs={"note": "kept"}),
          "fit": tree["s1/fit"].to_dataset(),       # a non-dimension coordinate
          "bool": xr.Dataset({"ok": ("x", [True, False], {"long_name": "passed"})},
                             coords={"x": [1, 2], "where": ("x", ["a", "b"])}),
          "object": xr.Dataset({"v": ("x", np.array(["a", "é"], dtype=object))}),
          # coordinates of several variables, one of none (a group attribute), a scalar one,
          # and a 2-D one
          "coords": xr.Dataset(
              {"a": (("x", "y"), np.zeros((2, 3))), "b": ("x", [1.0, 2.0]),
               "c": ("y", np.array([True, False, True]))},
              coords={"x": [5, 6], "lx": ("x", ["p", "q"]), "ly": ("y", [0.1, 0.2, 0.3]),
                      "lxy": (("x", "y"), np.ones((2, 3), np.int32)), "s": ((), 1.5),
                      "lone": ("z", [1, 2, 3, 4])},
              attrs={"note": "kept", "flag": True}),
          "datetime": xr.Dataset({"t": ("x", np.array(["2026-01-01"], "datetime64[ns]"))}),
          "fill": xr.Dataset({"v": ("x", [1.0, np.nan], {"_FillValue": -1.0})}),
          "encoding": xr.Dataset({"v": ("x", [1.0, 2.0])}),
          "float16": xr.Dataset({"v": ("x", np.array([1.0], np.float16))}),
          "bytes": xr.Dataset({"v": ("x", np.array(["a", b"b"], dtype=object))}),
          "spaced": xr.Dataset({"v": ("x", [1.0])}, coords={"a b": ("x", [1])}),
          "coordinates": xr.Dataset({"v": ("y", [1.0])}, coords={"l": ("x", [1])},
                                    attrs={"coordinates": "mine"}),
          }[case]
    if case == "encoding":
        ds["v"].encoding["dtype"] = "int16"
    plain = encode.plain_cf_encoding(ds)
    if case not in ("spectrum", "mixed", "fit", "bool", "object", "coords"):
        assert plain is None            # needs the chain: times, fill values, ...
        return
    assert plain is not None
    variables, attrs = plain
    cleaned = ds.copy(deep=False)
    cleaned.attrs = encode.clean_attrs(ds.attrs)
    for var in cleaned.variables.values():
        var.attrs = encode.clean_attrs(var.attrs)
    reference, reference_attrs = cf_encoder(*encode_dataset_coordinates(cleaned))
    assert repr(attrs) == repr(dict(reference_attrs))
    assert list(variables) == list(reference)
    for name, var in reference.items():
        got = variables[name]
        assert got.dims == var.dims and got.dtype == var.dtype
        np.testing.assert_array_equal(got.values, var.values)
        assert repr(got.attrs) == repr(var.attrs)          # same keys, order, types, NaN
        assert got.encoding == var.encoding == {}
