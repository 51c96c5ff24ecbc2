"""Free/fixed split, bounds and coordinate maps."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.exceptions import FitError
from eis_pipeline.fitting.transforms import EXPONENT_LOWER, ParameterSpace

NAMES = ["R1", "CPE1_0", "CPE1_1", "X"]
KINDS = ["positive", "positive", "exponent", "real"]


def test_round_trip_and_derivative():
    space = ParameterSpace.build(NAMES, KINDS)
    p = np.array([[120.0, 3e-9, 0.87, -2.5]])
    u = space.to_internal(p)
    np.testing.assert_allclose(u, [[np.log(120.0), np.log(3e-9), 0.87, -2.5]])
    np.testing.assert_allclose(space.to_natural(u), p)
    # d p / d u by finite differences
    h = 1e-7
    num = (space.to_natural(u + h) - space.to_natural(u - h)) / (2 * h)
    np.testing.assert_allclose(space.natural_derivative(u), num, rtol=1e-6)


def test_constants_are_removed_and_restored():
    space = ParameterSpace.build(NAMES, KINDS, constants={"CPE1_1": 1.0})
    assert space.free_names == ("R1", "CPE1_0", "X")
    p = space.to_natural(np.zeros((2, 3)))
    np.testing.assert_array_equal(p[:, 2], [1.0, 1.0])


def test_exponent_box_and_user_bounds():
    space = ParameterSpace.build(NAMES, KINDS, bounds={"R1": (10.0, 1e4), "X": (None, 0.0)})
    lo, hi = space.internal_bounds()
    np.testing.assert_allclose(lo, [np.log(10.0), -np.inf, EXPONENT_LOWER, -np.inf])
    np.testing.assert_allclose(hi, [np.log(1e4), np.inf, 1.0, 0.0])
    # starting values outside the box are moved into it
    u = space.to_internal(np.array([1e6, 1e-9, 1.3, 5.0]))
    assert u[0] == pytest.approx(np.log(1e4)) and u[2] == 1.0 and u[3] == 0.0


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"bounds": {"R9": (1, 2)}}, "unknown parameter 'R9'"),
    ({"bounds": {"R1": (-1.0, 2.0)}}, "outside its domain"),
    ({"bounds": {"CPE1_1": (0.5, 1.2)}}, "exceeds 1"),
    ({"bounds": {"R1": (5.0, 1.0)}}, "empty or inverted"),
    ({"bounds": {"R1": 3.0}}, "must be a pair"),
    ({"constants": {"R1": -3.0}}, "not a valid positive"),
    ({"constants": {"Q": 1.0}}, "unknown parameter 'Q'"),
    ({"constants": dict.fromkeys(NAMES, 0.5)}, "nothing left to fit"),
])
def test_bad_specifications_raise_fit_error(kwargs, match):
    with pytest.raises(FitError, match=match):
        ParameterSpace.build(NAMES, KINDS, **kwargs)
