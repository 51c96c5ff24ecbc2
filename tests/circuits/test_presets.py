"""Presets: valid circuits, roles that name real elements of the right kind, lookup errors."""

from __future__ import annotations

import json

import pytest

from eis_pipeline.circuits import PRESETS, compile_circuit, get_preset
from eis_pipeline.exceptions import CircuitError

ROLE_NAMES = {"bulk", "grain_boundary", "electrode", "inductance"}
KIND_OF_ROLE_ELEMENT = {"resistance": "R", "cpe": "CPE", "capacitor": "C", "inductor": "L"}


@pytest.mark.parametrize("name", list(PRESETS))
def test_roles_name_elements_of_the_right_kind(name: str) -> None:
    preset = get_preset(name)
    assert preset.name == name and preset.description
    compiled = compile_circuit(preset.circuit)
    assert compiled.circuit == preset.circuit  # presets are stored normalised
    kinds = dict(zip(compiled.element_names, compiled.element_kinds, strict=True))
    assert set(preset.roles) <= ROLE_NAMES
    assert "bulk" in preset.roles
    for elements in preset.roles.values():
        for kind, element in elements.items():
            assert kinds[element] == KIND_OF_ROLE_ELEMENT[kind]
    assert ("inductance" in preset.roles) == ("L0" in kinds)
    json.dumps(preset.roles.to_dict())


def test_contract_presets() -> None:
    p = get_preset("bulk-gb-electrode")
    assert p.circuit == "p(R1,CPE1)-p(R2,CPE2)-CPE3"
    assert p.roles == {"bulk": {"resistance": "R1", "cpe": "CPE1"},
                              "grain_boundary": {"resistance": "R2", "cpe": "CPE2"},
                              "electrode": {"cpe": "CPE3"}}
    assert not p.bulk_from_intercept
    hf = get_preset("hf-intercept-gb-electrode")
    assert hf.circuit == "L0-R1-p(R2,CPE2)-CPE3" and hf.bulk_from_intercept
    assert hf.roles["bulk"] == {"resistance": "R1"}
    assert get_preset("hf-intercept-gb-electrode-no-inductance").circuit == "R1-p(R2,CPE2)-CPE3"
    assert get_preset("single-arc-electrode-inductance").circuit == "L0-p(R1,CPE1)-CPE2"


def test_presets_are_read_only() -> None:
    with pytest.raises(TypeError):
        PRESETS["mine"] = PRESETS["bulk-gb-electrode"]  # type: ignore[index]
    with pytest.raises(TypeError):
        PRESETS["bulk-gb-electrode"].roles["bulk"]["resistance"] = "R9"  # type: ignore[index]


def test_unknown_preset_suggests_a_name() -> None:
    with pytest.raises(CircuitError, match="did you mean bulk-gb-electrode"):
        get_preset("bulk-gb-electrod")
