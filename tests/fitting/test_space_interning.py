"""ParameterSpace.build gives one object per distinct space (memo.by_identity then finds
what fitting derived from it on the next call)."""

from __future__ import annotations

import pytest

from eis_pipeline.fitting.transforms import ParameterSpace


def test_build_returns_one_object_per_space() -> None:
    names, kinds = ["R1", "CPE1_0", "CPE1_1"], ["positive", "positive", "exponent"]
    a = ParameterSpace.build(names, kinds, constants={"CPE1_1": 0.9})
    assert ParameterSpace.build(tuple(names), kinds, constants={"CPE1_1": 0.9}) is a
    assert ParameterSpace.build(names, kinds, constants={"CPE1_1": 0.8}) is not a
    assert ParameterSpace.build(names, kinds, bounds={"R1": (1.0, None)}) is not a
    assert ParameterSpace.build(["R2", "CPE1_0", "CPE1_1"], kinds,
                                constants={"CPE1_1": 0.9}) is not a
    with pytest.raises(ValueError):   # shared between fits: read-only
        a.lower[0] = 1.0
