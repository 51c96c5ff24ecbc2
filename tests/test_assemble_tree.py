"""The results tree is assembled from the sample nodes without copying them, and without
taking a node out of a tree it already belongs to."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from eis_pipeline.config import load_config
from eis_pipeline.pipeline import assemble_tree

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "example.toml"


def sample_node(name: str) -> xr.DataTree:
    node = xr.DataTree(xr.Dataset(attrs={"circuit": "p(R1,CPE1)"}), name=name)
    node.children = {"fit": xr.DataTree(xr.Dataset(
        {"converged": ("spectrum", np.array([True, False]))},
        coords={"spectrum": np.arange(2)}))}
    return node


def test_sample_nodes_attached_in_config_order_and_other_trees_left_alone() -> None:
    config = load_config(CONFIG)
    names = [s.name for s in config.samples]
    samples = {name: sample_node(name) for name in names}
    elsewhere = xr.DataTree(children={"kept": sample_node(names[0])})
    samples[names[0]] = elsewhere["kept"]   # a node of another tree: copied, not moved
    before = elsewhere.copy(deep=True)
    tree = assemble_tree(config, samples, [])
    assert list(tree.children) == [*names, "campaign", "failures"]
    xr.testing.assert_identical(elsewhere, before)
    for name in names:
        assert tree[name].name == name and tree[name].parent is tree
        xr.testing.assert_identical(tree[name]["fit"].to_dataset(),
                                    sample_node(name)["fit"].to_dataset())
    assert list(tree["campaign"].ds["n_converged"].values) == [1] * len(names)
