"""Stacking per-file datasets along ``spectrum``: the numpy fast path equals xr.concat."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xarray as xr

from eis_pipeline import stacking


def part(n: int, points: int, ids: list[str], params: tuple[str, ...] = ("R1", "C1"),
         seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    return xr.Dataset(
        {"value": (("spectrum", "param"), rng.random((n, len(params))), {"units": "x"}),
         "impedance_fit": (("spectrum", "point"),
                           rng.random((n, points)) + 1j * rng.random((n, points))),
         "converged": ("spectrum", rng.random(n) > 0.5),
         "n_points": ("spectrum", np.full(n, points)),
         "spectrum_id": ("spectrum", np.array(ids)),
         "param_units": ("param", np.array(["ohm", "F"][:len(params)]))},
        coords={"spectrum": np.arange(n), "param": list(params)},
        attrs={"circuit": "R0-p(R1,C1)"})


def slow(parts: list[xr.Dataset], monkeypatch: pytest.MonkeyPatch) -> xr.Dataset | None:
    with monkeypatch.context() as m:
        m.setattr(stacking, "stack_alike", lambda parts: None)
        return stacking.stack(parts)


def test_alike_parts_take_the_fast_path_and_match(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = [part(2, 5, ["a_s0", "a_s1"], seed=1), part(1, 5, ["longer_name_s0"], seed=2),
             part(3, 5, ["b_s0", "b_s1", "b_s2"], seed=3)]
    assert stacking.stack_alike(parts) is not None
    fast = stacking.stack(parts)
    xr.testing.assert_identical(fast, slow(parts, monkeypatch))
    assert fast.spectrum_id.dtype == np.dtype("<U14")


def test_other_point_counts_are_padded_on_the_fast_path(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    parts = [part(2, 5, ["a_s0", "a_s1"]), part(1, 7, ["c_s0"], seed=4)]
    fast = stacking.stack_alike(parts)
    assert fast is not None and np.isnan(fast["impedance_fit"].values[:2, 5:]).all()
    xr.testing.assert_identical(stacking.stack(parts), slow(parts, monkeypatch))


@pytest.mark.parametrize("other", [
    part(1, 5, ["c_s0"], params=("R1", "R2")),             # other parameters: alignment
])
def test_unlike_parts_fall_back_to_xarray(monkeypatch: pytest.MonkeyPatch,
                                          other: xr.Dataset) -> None:
    parts = [part(2, 5, ["a_s0", "a_s1"]), other]
    assert stacking.stack_alike(parts) is None
    xr.testing.assert_identical(stacking.stack(parts), slow(parts, monkeypatch))


@pytest.mark.parametrize("renumber", [True, False])
def test_one_part_is_what_concat_makes_of_it(renumber: bool) -> None:
    # coordinates given before and between the data variables: concat puts them last
    one = part(3, 4, ["a_s0", "a_s1", "a_s2"]).assign_coords(
        source=("spectrum", np.array(["x", "y", "z"])))
    one = one.assign(late=("spectrum", np.arange(3.0), {"long_name": "after a coord"}))
    concat = xr.concat([one.drop_vars("spectrum") if renumber else one], dim="spectrum",
                       data_vars="minimal", coords="minimal", compat="override",
                       combine_attrs="override", join="outer")
    if renumber:
        concat = concat.assign_coords(spectrum=np.arange(3))
    alone = stacking.stack([one], renumber=renumber)
    assert alone is not None
    xr.testing.assert_identical(alone, concat)
    assert list(alone.variables) == list(concat.variables)
    assert alone.attrs is not one.attrs


@pytest.mark.parametrize("renumber", [True, False])
def test_one_part_is_rebuilt_as_xr_concat_orders_it(renumber: bool) -> None:
    """A sample read in one task: the one-construction rebuild equals xr.concat of that part
    (and assign_coords of the new labels), variables in the same order."""
    one = part(3, 5, ["a_s0", "a_s1", "a_s2"]).assign_coords(
        spectrum=[4, 7, 9], source=("spectrum", np.array(["f", "g", "h"])))
    def concat(parts: list[xr.Dataset]) -> xr.Dataset:
        return xr.concat(parts, dim="spectrum", data_vars="minimal", coords="minimal",
                         compat="override", combine_attrs="override", join="outer")

    expected = (concat([one.drop_vars("spectrum")]).assign_coords(spectrum=np.arange(3))
                if renumber else concat([one]))
    got = stacking.stack([None, one], renumber=renumber)
    assert got is not None
    xr.testing.assert_identical(got, expected)
    assert list(got.variables) == list(expected.variables)
    assert list(got.coords) == list(expected.coords)


def arcs(n: int, labels: list[str], seed: int = 0) -> xr.Dataset:
    """A conductivity-like part: per-arc floats on a labelled ``arc`` dimension."""
    rng = np.random.default_rng(seed)
    return xr.Dataset(
        {"resistance": (("spectrum", "component"), rng.random((n, 2)), {"units": "ohm"}),
         "arc_resistance": (("spectrum", "arc"), rng.random((n, len(labels)))),
         "arc_apex_frequency": (("spectrum", "arc"), rng.random((n, len(labels))) + 1j),
         "bulk_source": ("spectrum", np.array(["arc"] * n))},
        coords={"spectrum": np.arange(n) + 10 * seed, "component": ["bulk", "total"],
                "arc": np.array(labels, dtype=str),
                "source": ("spectrum", np.array([f"f{seed}"] * n))},
        attrs={"circuit": f"c{seed}"})


@pytest.mark.parametrize("renumber", [True, False])
@pytest.mark.parametrize("labels", [
    (["p(R1,C1)", "p(R2,C2)"], ["p(R2,C2)"]),          # an "auto" sample's two circuits
    (["b"], ["a", "b"]),                                # the union sorts: not the first's
    (["z", "a"], ["a", "z", "q"]),                      # unsorted labels
    ([], ["a"]),                                        # a circuit without arcs
    (["b"], ["a"]),                                     # disjoint: the union is longer
    (["c", "d"], ["b", "a"]),
])
def test_other_labels_of_float_variables_join_on_the_fast_path(
        monkeypatch: pytest.MonkeyPatch, labels: tuple[list[str], list[str]],
        renumber: bool) -> None:
    parts = [arcs(2, labels[0], seed=1), arcs(3, labels[1], seed=2)]
    for ordered in (parts, parts[::-1]):
        fast = stacking.stack_alike(ordered)
        assert fast is not None
        with monkeypatch.context() as m:
            m.setattr(stacking, "stack_alike", lambda parts: None)
            expected = stacking.stack(ordered, renumber=renumber)
        got = stacking.stack(ordered, renumber=renumber)
        xr.testing.assert_identical(got, expected)
        assert list(got.variables) == list(expected.variables)
        assert got["arc"].dtype == expected["arc"].dtype


@pytest.mark.parametrize("extra", [
    lambda p: ("arc", p["arc"].values),                        # strings: no NaN
    lambda p: ("arc", np.arange(p.sizes["arc"], dtype=float)),  # not per spectrum
])
def test_other_labels_of_other_variables_fall_back(monkeypatch: pytest.MonkeyPatch,
                                                   extra: Any) -> None:
    parts = [arcs(2, ["a"], seed=1), arcs(1, ["b"], seed=2)]
    parts = [p.assign(arc_extra=extra(p)) for p in parts]
    assert stacking.stack_alike(parts) is None
    xr.testing.assert_identical(stacking.stack(parts), slow(parts, monkeypatch))
