"""A results file through xarray's ``engine="eis"``: what h5netcdf gives, from read_results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from eis_pipeline.io.hdf5 import read_results, write_results
from tests.io.test_hdf5 import small_tree


@pytest.fixture
def results(tmp_path: Path, rng: np.random.Generator) -> Path:
    return write_results(small_tree(rng), tmp_path / "results.h5", history="pytest")


def test_open_datatree_is_what_h5netcdf_gives(results: Path) -> None:
    ours = xr.open_datatree(results, engine="eis")
    with xr.open_datatree(results, engine="h5netcdf") as theirs:
        assert [n.path for n in ours.subtree] == [n.path for n in theirs.subtree]
        for node in theirs.subtree:
            xr.testing.assert_identical(ours[node.path].to_dataset(inherit=False),
                                        node.to_dataset(inherit=False).load())
    xr.testing.assert_identical(ours, read_results(results))


def test_group_selects_a_node(results: Path) -> None:
    fit = xr.open_dataset(results, engine="eis", group="/mill045/fit")
    xr.testing.assert_identical(fit, read_results(results)["mill045/fit"].to_dataset())
    sample = xr.open_datatree(results, engine="eis", group="mill045")
    assert sorted(sample.children) == ["arrhenius", "fit", "spectra"]
    assert sample.attrs["thickness_cm"] == pytest.approx(0.064)
    groups = xr.open_groups(results, engine="eis", group="mill045")
    assert sorted(groups) == ["/", "/arrhenius", "/fit", "/spectra"]


def test_drop_variables_and_a_missing_group(results: Path) -> None:
    tree = xr.open_datatree(results, engine="eis", drop_variables=["value", "impedance_fit"])
    assert "value" not in tree["mill045/fit"].ds and "status" in tree["mill045/fit"].ds
    assert "impedance_fit" not in tree["mill045/spectra"].ds
    with pytest.raises(KeyError, match=r"no group 'mill999'.*/mill045/fit"):
        xr.open_datatree(results, engine="eis", group="mill999")


def test_a_raw_export_still_reads_as_spectra(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    f = np.logspace(5, 0, 11)
    z = 10 + 100 / (1 + 1j * f / 1e3)
    path.write_text("f,Z',Z''\n" + "\n".join(f"{float(a)!r},{float(b.real)!r},{float(b.imag)!r}"
                                               for a, b in zip(f, z, strict=True)) + "\n")
    np.testing.assert_allclose(xr.open_dataset(path, engine="eis").impedance, z, rtol=1e-15)
