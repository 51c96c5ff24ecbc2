"""Boukamp CDC: translation, numbering, same Z as the impedance.py string, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eis_pipeline.circuits import (
    cdc_to_circuit,
    circuit_to_cdc,
    compile_circuit,
    to_impedance_py,
)
from eis_pipeline.circuits.cdc import CDC_ELEMENTS, looks_like_cdc
from eis_pipeline.circuits.grammar import Element, Node, Parallel, Series, render
from eis_pipeline.exceptions import CircuitError
from tests.circuits.helpers import FREQUENCY, circuits, pure_evaluate, random_params

TRANSLATIONS = [
    ("R", "R0"),
    ("RC", "R0-C0"),
    ("(RC)", "p(R0,C0)"),
    ("R(RQ)(RQ)Q", "R0-p(R1,CPE0)-p(R2,CPE1)-CPE2"),
    ("(RQ)(RQ)Q", "p(R0,CPE0)-p(R1,CPE1)-CPE2"),
    ("R(C(R(CW)))", "R0-p(C0,R1-p(C1,W0))"),
    ("R(C[R(CW)])", "R0-p(C0,R1-p(C1,W0))"),
    ("LR(RQ)O", "L0-R0-p(R1,CPE0)-Ws0"),
    ("R(QT)G", "R0-p(CPE0,Wo0)-G0"),
    ("[RC](RL)", "R0-C0-p(R1,L0)"),
    (" R ( R Q ) ", "R0-p(R1,CPE0)"),
    ("(R(RC)Q)", "p(R0,R1-C0,CPE0)"),
]


@pytest.mark.parametrize("cdc,circuit", TRANSLATIONS)
def test_translation(cdc: str, circuit: str) -> None:
    assert cdc_to_circuit(cdc) == circuit


@pytest.mark.parametrize("cdc,circuit", TRANSLATIONS)
def test_same_impedance_as_impedance_py(cdc: str, circuit: str,
                                        rng: np.random.Generator) -> None:
    compiled = compile_circuit(cdc)  # compile_circuit accepts CDC directly
    assert compiled is compile_circuit(circuit)
    params = random_params(circuit, rng)
    np.testing.assert_allclose(compiled.impedance(params, FREQUENCY),
                               to_impedance_py(circuit, params).predict(FREQUENCY), rtol=1e-12)


BAD = [
    ("R(RC", 1, "never closed"),
    ("R)C", 1, "without a matching"),
    ("R()", 1, "empty group"),
    ("R(RX)", 3, "unknown CDC element 'X'"),
    ("R[C)", 3, "mismatched"),
]


@pytest.mark.parametrize("cdc,position,message", BAD)
def test_errors(cdc: str, position: int, message: str) -> None:
    from eis_pipeline.circuits import parse_cdc

    with pytest.raises(CircuitError, match=message) as info:
        parse_cdc(cdc)
    assert info.value.position == position


def test_detection_does_not_capture_impedance_py_strings() -> None:
    assert looks_like_cdc("R(RQ)Q")
    assert not looks_like_cdc("R0-p(R1,CPE1)")
    assert not looks_like_cdc("bulk-gb-electrode")
    assert not looks_like_cdc("")


@pytest.mark.parametrize("cdc,circuit", TRANSLATIONS)
def test_back_translation(cdc: str, circuit: str) -> None:
    assert cdc_to_circuit(circuit_to_cdc(circuit)) == circuit


def test_back_translation_rejects_elements_without_a_letter() -> None:
    with pytest.raises(CircuitError, match="La1") as info:
        circuit_to_cdc("R0-La1")
    assert info.value.position == 3


_CDC_KINDS = sorted(CDC_ELEMENTS.values())


@settings(max_examples=100, deadline=None)
@given(ast=circuits(max_leaves=10), seed=st.integers(0, 2**32 - 1))
def test_random_round_trip_keeps_the_impedance(ast: Node, seed: int) -> None:
    # Replace kinds without a CDC letter, keep the shape of the tree.
    def recode(node: Node, counter: list[int]) -> Node:
        if isinstance(node, Element):
            counter[0] += 1
            kind = node.kind if node.kind in _CDC_KINDS else _CDC_KINDS[counter[0] % 8]
            return Element(kind, f"{kind}{counter[0]}")
        children = tuple(recode(c, counter) for c in node.children)
        return Series(children) if isinstance(node, Series) else Parallel(children)

    circuit = render(recode(ast, [0]))
    back = cdc_to_circuit(circuit_to_cdc(circuit))
    assert compile_circuit(back).n_params == compile_circuit(circuit).n_params
    params = random_params(circuit, np.random.default_rng(seed))
    np.testing.assert_allclose(pure_evaluate(back, params, FREQUENCY)[0],
                               pure_evaluate(circuit, params, FREQUENCY)[0], rtol=1e-12)
