"""Packed spectra (/<sample>/spectra): pack/unpack round trips, joining task parts, the
earlier group-per-spectrum layout read back packed, and a generated campaign end to end."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.io.hdf5 import read_results, write_results
from eis_pipeline.io.registry import read_spectra
from eis_pipeline.packing import (
    concat_packed,
    pack_spectra,
    sample_spectra,
    spectrum_attrs,
    unpack_spectra,
)
from eis_pipeline.testing.simulate import log_frequencies
from eis_pipeline.testing.writers import write_mpt


def _spectrum(rng: np.random.Generator, n: int, **attrs: object) -> xr.Dataset:
    f = log_frequencies(1e6, 1, 10)[:n]
    ds = make_spectrum(f, 100 / (1 + 1j * f / 1e4) + rng.normal(size=n) * (1 + 1j),
                       time=np.cumsum(1 / f))
    ds.attrs.update({"source": f"/data/{n}.mpt", "sweep": 0, "spectrum_id": f"s{n}_s0",
                     **attrs})
    return ds


def test_uniform_spectra_round_trip_exactly(rng: np.random.Generator) -> None:
    spectra = [_spectrum(rng, 61, temperature_K=298.15 + i, note="x") for i in range(3)]
    packed = pack_spectra(spectra)
    assert packed["impedance"].dims == ("spectrum", "point")
    assert packed["impedance"].shape == (3, 61) and packed["sweep"].dtype == np.int64
    for original, back in zip(spectra, unpack_spectra(packed), strict=True):
        xr.testing.assert_identical(original, back)


def test_ragged_and_mixed_spectra(rng: np.random.Generator) -> None:
    a = _spectrum(rng, 61, cycle=1, settings={"E": 0.0}, flag=True)
    b = _spectrum(rng, 40, instrument="Gamry")
    b = b.drop_vars("time")
    packed = pack_spectra([a, b])
    assert packed.sizes == {"spectrum": 2, "point": 61}
    assert np.isnan(packed["impedance"].values[1, 40:]).all()
    back_a, back_b = unpack_spectra(packed)
    xr.testing.assert_equal(back_a, a)
    assert back_a.attrs["settings"] == json.dumps({"E": 0.0}) and back_a.attrs["flag"] == 1
    assert back_a.attrs["cycle"] == 1                     # as a float: b has no cycle
    np.testing.assert_array_equal(back_b["impedance"].values, b["impedance"].values)
    assert np.isnan(back_b["time"].values).all()         # absent in b, present in a
    # absent attributes stay absent, empty ones empty
    assert "cycle" not in back_b.attrs and "flag" not in back_b.attrs
    assert back_b.attrs["instrument"] == "Gamry" and back_a.attrs["instrument"] == ""


def test_attribute_named_as_a_variable_is_kept(rng: np.random.Generator) -> None:
    ds = _spectrum(rng, 20, impedance="a note", frequency=3)
    (back,) = unpack_spectra(pack_spectra([ds]))
    assert back.attrs["impedance"] == "a note" and back.attrs["frequency"] == 3
    xr.testing.assert_identical(back, ds)


def test_concat_packed_equals_packing_all(rng: np.random.Generator) -> None:
    spectra = [_spectrum(rng, 61, cycle=1), _spectrum(rng, 30, note="short"),
               _spectrum(rng, 45)]
    parts = [pack_spectra(spectra[:1]), None, pack_spectra(spectra[1:])]
    joined = concat_packed(parts)
    assert joined is not None
    xr.testing.assert_identical(joined, pack_spectra(spectra))
    assert spectrum_attrs(joined)[1]["note"] == "short"
    assert concat_packed([None]) is None


def test_earlier_layout_is_read_packed(tmp_path: Path, rng: np.random.Generator) -> None:
    """Files with a group per spectrum (/<sample>/spectra/<id>) read as today's layout."""
    spectra = [_spectrum(rng, 61), _spectrum(rng, 50)]
    old = xr.DataTree.from_dict({
        **{f"/s1/spectra/{ds.attrs['spectrum_id']}": ds for ds in spectra},
        "/s1/fit": xr.Dataset({"value": ("spectrum", [1.0, 2.0])})})
    path = write_results(old, tmp_path / "old.h5")
    node = read_results(path)["s1"]
    assert set(node.children) == {"spectra", "fit"}
    assert not node["spectra"].children
    xr.testing.assert_identical(node["spectra"].ds.drop_attrs(deep=False),
                                pack_spectra(spectra))
    assert [sid for sid, _ in sample_spectra(node)] == ["s61_s0", "s50_s0"]


CONFIG = """
[campaign]
name = "generated"
output = "results.h5"
plots = false

[defaults]
circuit = "bulk-gb-electrode"

[[samples]]
name = "pellet"
files = ["data/*.mpt"]
temperature = {from = "filename", pattern = "_(?P<celsius>-?\\\\d+)C\\\\.mpt$"}
thickness_mm = 1.0
diameter_mm = 10.0
"""


@pytest.fixture(scope="module")
def generated_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, xr.DataTree]:
    from eis_pipeline.pipeline import run
    from eis_pipeline.testing.simulate import ArrheniusLaw, PelletModel, add_proportional_noise

    folder = tmp_path_factory.mktemp("generated")
    model = PelletModel(0.1, 1.0, bulk=ArrheniusLaw.from_sigma_at(2e-6, 0.38),
                        grain_boundary=ArrheniusLaw.from_sigma_at(5e-7, 0.45))
    rng = np.random.default_rng(7)
    (folder / "data").mkdir()
    for celsius in (20, 40, 60):
        f = log_frequencies(7e6, 0.1 if celsius != 60 else 1.0, 10)   # two lengths
        z = add_proportional_noise(model.impedance(f, celsius + 273.15), 0.005, rng)
        write_mpt(folder / "data" / f"p_{celsius}C.mpt", f, z)
    (folder / "campaign.toml").write_text(CONFIG)
    tree = run(folder / "campaign.toml", progress=False, plots=False, keep_spectra=True)
    return folder / "results.h5", tree


def test_campaign_spectra_round_trip(generated_run: tuple[Path, xr.DataTree]) -> None:
    """What a run writes is the input files' data and the fits, for every spectrum."""
    path, tree = generated_run
    on_disk = read_results(path)["pellet"]
    xr.testing.assert_identical(on_disk["spectra"].ds, tree["pellet"]["spectra"].ds)
    fits = on_disk["fit"].ds
    for i, (sid, ds) in enumerate(sample_spectra(on_disk)):
        assert sid == str(fits["spectrum_id"].values[i])
        (raw,) = read_spectra(ds.attrs["source"])
        np.testing.assert_array_equal(ds["frequency"].values, raw["frequency"].values)
        np.testing.assert_array_equal(ds["impedance"].values, raw["impedance"].values)
        np.testing.assert_allclose(ds["impedance"] - ds["impedance_fit"],
                                   ds["impedance_residual"], rtol=0, atol=1e-9)
        assert ds.attrs["source_sha256"] == fits["source_sha256"].values[i]
    lengths = np.isfinite(on_disk["spectra"].ds["frequency"].values).sum(axis=1)
    assert sorted(lengths.tolist()) == [69, 79, 79]          # 7 MHz to 1 Hz and to 0.1 Hz


def test_campaign_file_is_plain_hdf5_and_netcdf(generated_run: tuple[Path, xr.DataTree]
                                               ) -> None:
    path, _ = generated_run
    with h5py.File(path, "r") as h5:
        z = h5["pellet/spectra/impedance"]
        assert z.shape == (3, 79) and z.dtype == np.complex128
        assert all(isinstance(v, h5py.Dataset) for v in h5["pellet/spectra"].values())
    ours = read_results(path)
    with xr.open_datatree(path, engine="h5netcdf") as theirs:
        for node in theirs.subtree:
            xr.testing.assert_identical(node.to_dataset(inherit=False).load().drop_attrs(),
                                        ours[node.path].to_dataset(inherit=False).drop_attrs())


def test_large_arrays_are_chunked_and_compressed(tmp_path: Path,
                                                 rng: np.random.Generator) -> None:
    spectra = [_spectrum(rng, 61) for _ in range(300)]
    tree = xr.DataTree.from_dict({"/s1/spectra": pack_spectra(spectra),
                                  "/s2/spectra": pack_spectra(spectra[:2])})
    path = write_results(tree, tmp_path / "r.h5")
    with h5py.File(path, "r") as h5:
        big, small = h5["s1/spectra/impedance"], h5["s2/spectra/impedance"]
        assert big.compression == "gzip" and big.shuffle
        assert big.chunks is not None and big.chunks[1:] == (61,)
        assert small.chunks is None and small.compression is None
        assert h5["s1/spectra/sweep"].chunks is None               # per-spectrum scalars
    back = read_results(path)["s1/spectra"].ds
    np.testing.assert_array_equal(back["impedance"].values,
                                  tree["s1/spectra"].ds["impedance"].values)
