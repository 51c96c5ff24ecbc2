"""``make_spectrum`` builds datasets from their parts (xarray's private ``_construct_direct``):
the result must be identical to the public ``xr.Dataset(...)`` constructor's, which is also
the fallback should xarray drop that API."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from eis_pipeline import conventions
from eis_pipeline.conventions import make_spectrum, validate_spectrum


def _both(monkeypatch: pytest.MonkeyPatch, *args: object,
          **kwargs: object) -> tuple[xr.Dataset, xr.Dataset]:
    fast = make_spectrum(*args, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(conventions, "_CONSTRUCT_DIRECT", None)
    public = make_spectrum(*args, **kwargs)  # type: ignore[arg-type]
    monkeypatch.undo()
    return fast, public


def test_fast_path_is_in_use() -> None:
    assert conventions._CONSTRUCT_DIRECT is not None  # else this file tests nothing new


def test_same_dataset_as_the_public_constructor(monkeypatch: pytest.MonkeyPatch,
                                                rng: np.random.Generator) -> None:
    f = np.logspace(5, -1, 37)
    z = rng.normal(size=37) + 1j * rng.normal(size=37)
    fast, public = _both(monkeypatch, f, z, sweep=3, instrument="X", metadata={"a": 1},
                         attrs={"thickness_cm": 0.1}, time=np.arange(37.0),
                         temperature=np.full(37, 300.0))
    xr.testing.assert_identical(fast, public)
    assert list(fast.variables) == list(public.variables)
    assert list(fast.attrs) == list(public.attrs)
    assert fast.xindexes["frequency"].equals(public.xindexes["frequency"])
    assert fast.indexes["frequency"].dtype == np.float64
    validate_spectrum(fast)
    # Behaves as a normal dataset: selection by label, concatenation, arithmetic.
    assert fast.sel(frequency=f[2]).impedance.item() == z[2]
    both = xr.concat([fast, public], dim="frequency")
    assert both.sizes["frequency"] == 74


def test_single_point_and_unsorted_frequencies(monkeypatch: pytest.MonkeyPatch) -> None:
    for f in ([5.0], [1.0, 100.0, 10.0, 10.0]):
        fast, public = _both(monkeypatch, f, np.ones(len(f), dtype=complex))
        xr.testing.assert_identical(fast, public)


@pytest.mark.parametrize("kwargs", [{"impedance": [1 - 1j]}, {"time": [1.0, 2.0, 3.0]}])
def test_length_mismatch_is_refused(kwargs: dict[str, list[complex]]) -> None:
    args = {"frequency": [1.0, 2.0], "impedance": [1 - 1j, 2 - 2j], **kwargs}
    with pytest.raises(ValueError, match="points but frequency has 2"):
        make_spectrum(**args)  # type: ignore[arg-type]


def test_arrays_that_are_not_1d_are_refused() -> None:
    with pytest.raises(ValueError):
        make_spectrum(np.ones((2, 2)), np.ones((2, 2), dtype=complex))
    with pytest.raises(ValueError):
        make_spectrum([1.0, 2.0], np.ones((2, 1), dtype=complex))
