"""Boukamp CDC: translation, numbering, same Z as the impedance.py string, errors."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.circuits import cdc_to_circuit, compile_circuit, to_impedance_py
from eis_pipeline.circuits.cdc import looks_like_cdc
from eis_pipeline.exceptions import CircuitError
from tests.circuits.helpers import FREQUENCY, random_params

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
