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

import difflib
import re
from functools import lru_cache

from eis_pipeline.circuits.cdc import cdc_to_circuit, circuit_to_cdc, looks_like_cdc, parse_cdc
from eis_pipeline.circuits.compiled import CompiledCircuit, compile_normalised
from eis_pipeline.circuits.elements import ELEMENTS, circuit_elements
from eis_pipeline.circuits.grammar import parse_circuit, render
from eis_pipeline.circuits.grid import FrequencyGrid
from eis_pipeline.circuits.presets import PRESETS, Preset, get_preset
from eis_pipeline.exceptions import CircuitError

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


def compile_circuit(circuit: str | Preset | CompiledCircuit) -> CompiledCircuit:
    """Compile a circuit into a fast evaluator of Z and its Jacobian (cached).

    Parameters
    ----------
    circuit
        An impedance.py string (``"R0-p(R1,CPE1)-CPE2"``), a preset name
        (``"bulk-gb-electrode"``), a Boukamp CDC string without indices (``"R(RQ)Q"``, see
        :mod:`eis_pipeline.circuits.cdc`), a :class:`Preset` or an already compiled circuit.

    Returns
    -------
    CompiledCircuit
        The same object for every spelling of the same normalised circuit.

    Raises
    ------
    CircuitError
        When the string is not a valid circuit; ``position`` points at the character.
    """
    if isinstance(circuit, CompiledCircuit):
        return circuit
    if isinstance(circuit, Preset):
        circuit = circuit.circuit
    if not isinstance(circuit, str):
        raise CircuitError(f"a circuit must be a string, a Preset or a CompiledCircuit, "
                           f"got {type(circuit).__name__}")
    return _compile_text(circuit)


@lru_cache(maxsize=512)
def _compile_text(text: str) -> CompiledCircuit:
    return compile_normalised(normalise_circuit(text))


def normalise_circuit(circuit: str) -> str:
    """The normalised impedance.py string of a circuit string, preset name or CDC string.

    >>> normalise_circuit(" R0 - p(R1, C1) ")
    'R0-p(R1,C1)'
    >>> normalise_circuit("single-arc-electrode")
    'p(R1,CPE1)-CPE2'
    """
    if circuit in PRESETS:
        return PRESETS[circuit].circuit
    if re.fullmatch(r"[a-z]+(?:-[a-z]+)+", circuit.strip()):
        # Lower-case words joined by hyphens: a preset name, mistyped.
        close = difflib.get_close_matches(circuit.strip(), list(PRESETS), n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise CircuitError(f"unknown preset {circuit.strip()!r}; {hint}presets: "
                           f"{', '.join(PRESETS)} (run `eis-pipeline circuits`)")
    if looks_like_cdc(circuit):
        return render(parse_cdc(circuit))
    return render(parse_circuit(circuit))


def to_impedance_py(circuit: str | Preset | CompiledCircuit, params: object) -> object:
    """An impedance.py ``CustomCircuit`` for the same circuit and parameters (lazy import).

    See :func:`eis_pipeline.circuits.interop.to_impedance_py`.
    """
    from eis_pipeline.circuits.interop import to_impedance_py as _to

    return _to(circuit, params)
