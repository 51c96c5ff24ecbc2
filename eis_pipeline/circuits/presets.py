"""Named circuits for solid-electrolyte pellets between ion-blocking electrodes, with roles.

A preset says which element is which (``roles``): the physics stage reads R_bulk, R_gb and
their CPEs from there instead of guessing from element names. Roles map a role (``bulk``,
``grain_boundary``, ``electrode``, ``inductance``) to element kinds (``resistance``,
``cpe``, ``capacitor``, ``inductor``) and element names; see docs/contracts.md.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from eis_pipeline.circuits.roles import Roles
from eis_pipeline.exceptions import CircuitError

__all__ = ["PRESETS", "Preset", "get_preset"]



@dataclass(frozen=True, slots=True)
class Preset:
    """A named circuit with the physical role of its elements.

    Attributes
    ----------
    name : str
    circuit : str
        impedance.py notation.
    description : str
    roles : Roles
        role -> {element kind -> element name}.
    bulk_from_intercept : bool
        True when the bulk arc lies above the measured range and R_bulk is the series
        (high-frequency intercept) resistance.
    """

    name: str
    circuit: str
    description: str
    roles: Roles = field(default_factory=Roles)
    bulk_from_intercept: bool = False


_BULK = {"resistance": "R1", "cpe": "CPE1"}
_GB = {"resistance": "R2", "cpe": "CPE2"}
_L0 = {"inductor": "L0"}


def _preset(name: str, circuit: str, description: str, roles: dict[str, dict[str, str]],
            bulk_from_intercept: bool = False) -> Preset:
    return Preset(name, circuit, description, Roles(roles), bulk_from_intercept)


PRESETS: Mapping[str, Preset] = MappingProxyType({p.name: p for p in (
    _preset("bulk-gb-electrode", "p(R1,CPE1)-p(R2,CPE2)-CPE3",
            "bulk arc, grain-boundary arc and blocking-electrode spike",
            {"bulk": _BULK, "grain_boundary": _GB, "electrode": {"cpe": "CPE3"}}),
    _preset("bulk-gb-electrode-inductance", "L0-p(R1,CPE1)-p(R2,CPE2)-CPE3",
            "bulk-gb-electrode plus the stray inductance of cables and cell",
            {"bulk": _BULK, "grain_boundary": _GB, "electrode": {"cpe": "CPE3"},
             "inductance": _L0}),
    _preset("hf-intercept-gb-electrode", "L0-R1-p(R2,CPE2)-CPE3",
            "bulk arc above the measured range: R_bulk is the high-frequency intercept; "
            "grain-boundary arc, electrode spike, stray inductance",
            {"bulk": {"resistance": "R1"}, "grain_boundary": _GB,
             "electrode": {"cpe": "CPE3"}, "inductance": _L0},
            bulk_from_intercept=True),
    _preset("hf-intercept-gb-electrode-no-inductance", "R1-p(R2,CPE2)-CPE3",
            "hf-intercept-gb-electrode without the stray inductance",
            {"bulk": {"resistance": "R1"}, "grain_boundary": _GB,
             "electrode": {"cpe": "CPE3"}},
            bulk_from_intercept=True),
    _preset("single-arc-electrode", "p(R1,CPE1)-CPE2",
            "one arc (bulk, or bulk and grain boundary unresolved) and the electrode spike",
            {"bulk": _BULK, "electrode": {"cpe": "CPE2"}}),
    _preset("single-arc-electrode-inductance", "L0-p(R1,CPE1)-CPE2",
            "single-arc-electrode plus the stray inductance",
            {"bulk": _BULK, "electrode": {"cpe": "CPE2"}, "inductance": _L0}),
)})


def get_preset(name: str) -> Preset:
    """The preset called ``name``.

    Raises
    ------
    CircuitError
        For an unknown name, listing the known ones.

    Examples
    --------
    >>> get_preset("bulk-gb-electrode").circuit
    'p(R1,CPE1)-p(R2,CPE2)-CPE3'
    """
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), list(PRESETS), n=2)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise CircuitError(f"unknown circuit preset {name!r}{hint} Known presets: "
                           f"{', '.join(PRESETS)}") from None
