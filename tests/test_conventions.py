import numpy as np
import pytest
import xarray as xr

from eis_pipeline.conventions import make_spectrum, validate_spectrum
from eis_pipeline.exceptions import EisError, SpectrumError


def test_make_spectrum_is_valid_and_carries_units():
    ds = make_spectrum([1e3, 1e2], [10 - 1j, 12 - 5j], temperature=[298.15, 298.2], sweep=2)
    validate_spectrum(ds)
    assert ds.impedance.dtype == np.complex128
    assert ds.frequency.attrs["units"] == "Hz"
    assert ds.impedance.attrs["units"] == "ohm"
    assert ds.temperature.attrs["units"] == "K"
    assert ds.attrs["sweep"] == 2


@pytest.mark.parametrize(
    ("frequency", "impedance", "message"),
    [
        ([1.0, -1.0], [1, 1], "positive"),
        ([1.0, np.nan], [1, 1], "positive"),
        ([1.0, 2.0], [1, np.inf], "finite"),
        ([], [], "no points"),
        ([1.0, 1e308], [1, 1], "below 1e\\+12 Hz"),
        ([0.0, 1.0], [1, 1], "positive"),
        ([10.0, 1.0, 10.0], [1, 2, 3], r"10\.0 Hz appears twice \(points 0 and 2\)"),
    ],
)
def test_validate_rejects_bad_values(frequency, impedance, message):
    with pytest.raises(SpectrumError, match=message):
        validate_spectrum(make_spectrum(frequency, impedance))


def test_validate_requires_attrs_when_asked():
    ds = make_spectrum([1.0], [1 - 1j])
    with pytest.raises(SpectrumError, match="source"):
        validate_spectrum(ds, require_attrs=True)


def test_validate_rejects_wrong_units_and_celsius():
    ds = make_spectrum([1.0], [1 - 1j])
    ds.impedance.attrs["units"] = "kohm"
    with pytest.raises(SpectrumError, match="units"):
        validate_spectrum(ds)
    with pytest.raises(SpectrumError, match="kelvin"):
        validate_spectrum(make_spectrum([1.0], [1 - 1j], temperature=[-5.0]))


def test_unknown_variable_is_a_type_error():
    with pytest.raises(TypeError, match="unknown spectrum variable"):
        make_spectrum([1.0], [1 - 1j], voltage=[1.0])


def test_errors_inherit_builtins():
    assert issubclass(SpectrumError, ValueError)
    assert issubclass(SpectrumError, EisError)


def test_non_dataset_is_a_spectrum_error():
    with pytest.raises(SpectrumError, match=r"expected an xarray\.Dataset"):
        validate_spectrum([1, 2, 3])  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["time", "potential", "current", "temperature"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_validate_rejects_non_finite_optional_variables(name, bad):
    if name == "temperature" and np.isnan(bad):
        # NaN temperature = not recorded at that point (the series stages report it)
        validate_spectrum(make_spectrum([100.0, 10.0], [1 - 1j, 2 - 1j], temperature=[300, bad]))
        return
    ds = make_spectrum([100.0, 10.0], [1 - 1j, 2 - 1j], **{name: [300.0, bad]})
    with pytest.raises(SpectrumError, match=rf"{name} must be finite; point 1 \(at 10\.0 Hz\)"):
        validate_spectrum(ds)


def test_validate_min_points_and_where():
    ds = make_spectrum([100.0, 10.0], [1 - 1j, 2 - 1j], sweep=3)
    ds.attrs["source"] = "cell.mpt"
    assert validate_spectrum(ds, min_points=2) is ds
    with pytest.raises(SpectrumError, match=r"^cell\.mpt \(sweep 3\): spectrum has 2 point"):
        validate_spectrum(ds, min_points=3)


@pytest.mark.parametrize("direct", [True, False])
def test_with_spectrum_variable_is_assign(direct, monkeypatch):
    from eis_pipeline import conventions

    if not direct:   # the public-API fallback, for an xarray without _construct_direct
        monkeypatch.setattr(conventions, "_CONSTRUCT_DIRECT", None)
    ds = make_spectrum([1e3, 1e2, 10.0], [10 - 1j, 12 - 5j, 20 - 9j], sweep=1,
                       attrs={"source": "x.mpt"})
    before = ds.copy(deep=True)
    attrs = {"units": "K", "long_name": "sample temperature"}
    out = conventions.with_spectrum_variable(ds, "temperature", np.full(3, 300.0), attrs)
    expected = ds.assign(temperature=("frequency", np.full(3, 300.0), attrs))
    xr.testing.assert_identical(out, expected)
    assert list(out.variables) == list(expected.variables)
    assert list(out.xindexes) == ["frequency"]
    out.attrs["spectrum_id"] = "a"            # the result is its own dataset
    out["impedance"].attrs["units"] = "kohm"
    xr.testing.assert_identical(ds, before)
    with pytest.raises(ValueError, match="same length"):
        conventions.with_spectrum_variable(ds, "temperature", np.ones(2), attrs)
