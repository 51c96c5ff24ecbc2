"""The Roles value object: validation, the one JSON decoder, and per-spectrum roles of "auto"."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import xarray as xr

from eis_pipeline.circuits import get_preset
from eis_pipeline.circuits.roles import Roles
from eis_pipeline.exceptions import CircuitError

BULK = {"bulk": {"resistance": "R1", "cpe": "CPE1"}}


def test_reads_like_the_mapping_it_stores() -> None:
    roles = Roles({**BULK, "electrode": {"cpe": "CPE3"}})
    assert roles == {**BULK, "electrode": {"cpe": "CPE3"}}
    assert roles["bulk"]["cpe"] == "CPE1"
    assert roles.element("electrode", "cpe") == "CPE3"
    assert roles.element("grain_boundary", "resistance") is None
    assert not Roles() and Roles() == {}
    with pytest.raises(TypeError):
        roles["bulk"]["cpe"] = "CPE9"  # type: ignore[index]


def test_json_round_trip_is_canonical() -> None:
    a = Roles({"electrode": {"cpe": "CPE3"}, **BULK})
    b = Roles({**BULK, "electrode": {"cpe": "CPE3"}})
    assert a.to_json() == b.to_json() and hash(a) == hash(b)
    assert Roles.from_json(a.to_json()) == a
    assert Roles.from_json("") == Roles.from_json("{}") == Roles()
    assert pickle.loads(pickle.dumps(a)) == a


@pytest.mark.parametrize(("text", "match"), [
    ('{"bulkk": {"resistance": "R1"}}', "unknown role"),
    ('{"bulk": {"resistor": "R1"}}', "element kind"),
    ('{"bulk": {"resistance": 1}}', "element kind"),
    ("{bulk", "not valid JSON"),
    ('["bulk"]', "JSON object"),
])
def test_malformed_roles_say_what_was_expected(text: str, match: str) -> None:
    with pytest.raises(CircuitError, match=match):
        Roles.from_json(text)


def test_presets_carry_roles_objects() -> None:
    preset = get_preset("bulk-gb-electrode")
    assert isinstance(preset.roles, Roles)
    assert preset.roles.element("grain_boundary", "resistance") == "R2"


def test_of_reads_a_fits_dataset_and_each_spectrum_of_auto() -> None:
    one = xr.Dataset(attrs={"roles": Roles(BULK).to_json()})
    assert Roles.of(one) == BULK
    intercept = get_preset("hf-intercept-gb-electrode")
    presets = {"bulk-gb-electrode": {"roles": get_preset("bulk-gb-electrode").roles.to_json()},
               intercept.name: {"roles": intercept.roles.to_json()}}
    auto = xr.Dataset({"preset": ("spectrum", np.array(["bulk-gb-electrode", intercept.name]))},
                      attrs={"roles": "{}", "presets": json.dumps(presets)})
    assert Roles.of(auto) == Roles()
    assert Roles.of(auto, 0).element("bulk", "cpe") == "CPE1"
    assert Roles.of(auto, 1) == intercept.roles
