"""Equivalent circuits: grammar and parser, element table, compiled Z and Jacobian, presets.

>>> from eis_pipeline.circuits import compile_circuit, get_preset, PRESETS
>>> c = compile_circuit("bulk-gb-electrode")
>>> c.circuit
'p(R1,CPE1)-p(R2,CPE2)-CPE3'
>>> c.param_names[:3]
('R1', 'CPE1_0', 'CPE1_1')

Only numpy is imported here: never scipy, and impedance.py only inside ``to_impedance_py``.
"""

from __future__ import annotations

from eis_pipeline.circuits.cdc import cdc_to_circuit, circuit_to_cdc, parse_cdc
from eis_pipeline.circuits.compiled import CompiledCircuit, compile_circuit, normalise_circuit
from eis_pipeline.circuits.elements import ELEMENTS, circuit_elements
from eis_pipeline.circuits.grammar import parse_circuit
from eis_pipeline.circuits.grid import FrequencyGrid
from eis_pipeline.circuits.interop import to_impedance_py
from eis_pipeline.circuits.presets import PRESETS, Preset, get_preset

__all__ = [
    "ELEMENTS",
    "PRESETS",
    "CompiledCircuit",
    "FrequencyGrid",
    "Preset",
    "cdc_to_circuit",
    "circuit_elements",
    "circuit_to_cdc",
    "compile_circuit",
    "get_preset",
    "normalise_circuit",
    "parse_cdc",
    "parse_circuit",
    "to_impedance_py",
]
