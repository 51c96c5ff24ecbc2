import numpy as np
import pytest
import xarray as xr

from eis_pipeline.exceptions import FormatError
from eis_pipeline.io.registry import read_spectra


@pytest.fixture
def two_sweeps(tmp_path):
    f = np.logspace(5, 0, 11)
    z = 10 + 100 / (1 + 1j * f / 1e3)
    rows = [f"{a:.17g},{b.real:.17g},{b.imag:.17g}" for a, b in zip(f, z, strict=True)]
    rows += [f"{a:.17g},{2 * b.real:.17g},{2 * b.imag:.17g}" for a, b in zip(f, z, strict=True)]
    path = tmp_path / "two.csv"
    path.write_text("f,Z',Z''\n" + "\n".join(rows) + "\n")
    return path


def test_open_dataset_engine_matches_read_spectra(two_sweeps):
    ds = xr.open_dataset(two_sweeps, engine="eis", sweep=1)
    xr.testing.assert_identical(ds, read_spectra(two_sweeps)[1])


def test_open_datatree_has_every_sweep(two_sweeps):
    tree = xr.open_datatree(two_sweeps, engine="eis")
    assert set(tree.children) == {"sweep_0", "sweep_1"}
    assert tree.attrs["n_sweeps"] == 2
    np.testing.assert_allclose(tree["sweep_1"].impedance, 2 * tree["sweep_0"].impedance)


def test_out_of_range_sweep_is_clear(two_sweeps):
    with pytest.raises(FormatError, match="has 2 sweep"):
        xr.open_dataset(two_sweeps, engine="eis", sweep=5)


def test_drop_variables_and_format_override(two_sweeps):
    ds = xr.open_dataset(two_sweeps, engine="eis", format="generic-csv",
                         drop_variables=["impedance"])
    assert "impedance" not in ds
