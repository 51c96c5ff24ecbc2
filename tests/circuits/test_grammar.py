"""The impedance.py-notation parser: round trips, the AST, and errors at the right character."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings

from eis_pipeline.circuits import parse_circuit
from eis_pipeline.circuits.grammar import Node, Parallel, Series, iter_elements, render
from eis_pipeline.exceptions import CircuitError, EisError
from tests.circuits.helpers import circuits

CANONICAL = [
    "R0",
    "R0-C1",
    "p(R1,C1)",
    "R0-p(R1,CPE1)-CPE2",
    "p(R1,CPE1)-p(R2,CPE2)-CPE3",
    "L0-R1-p(R2,CPE2)-CPE3",
    "p(p(R1,C1),R2-C2)",
    "R0-p(C1,R1-p(C2,Wo1))-La12",
    "p(R1,C1,L1,W1)",
]


@pytest.mark.parametrize("circuit", CANONICAL)
def test_canonical_strings_round_trip(circuit: str) -> None:
    assert render(parse_circuit(circuit)) == circuit


def test_whitespace_is_ignored() -> None:
    assert render(parse_circuit("  R0 -\tp( R1 ,CPE1 )\n- CPE2 ")) == "R0-p(R1,CPE1)-CPE2"


def test_ast_shape_and_element_order() -> None:
    ast = parse_circuit("R0-p(R1,CPE1)-CPE2")
    assert isinstance(ast, Series)
    assert isinstance(ast.children[1], Parallel)
    assert [(e.kind, e.name, e.position) for e in iter_elements(ast)] == [
        ("R", "R0", 0), ("R", "R1", 5), ("CPE", "CPE1", 8), ("CPE", "CPE2", 14)]


def test_multi_letter_kinds_are_not_split() -> None:
    kinds = [e.kind for e in iter_elements(parse_circuit("Wo1-Ws2-W3-La4-L5-Gs6-G7-Zarc8"))]
    assert kinds == ["Wo", "Ws", "W", "La", "L", "Gs", "G", "Zarc"]


# (bad string, position of the error, part of the message)
BAD = [
    ("", 0, "empty circuit"),
    ("   ", 0, "empty circuit"),
    ("R1-", 3, "ends where an element"),
    ("R1--C1", 3, "expected an element"),
    ("R1-X1", 3, "unknown element 'X'"),
    ("R1-Cpe1", 3, "did you mean CPE"),
    ("R", 0, "needs an index"),
    ("R0-p(R1,CPE1", 3, "never closed"),
    ("R1)", 2, "without a matching"),
    ("R0-p(R1,C1))", 11, "without a matching"),
    ("R1-p(R2,C2)-R1", 12, "duplicate element name 'R1'"),
    ("p()", 0, "empty parallel"),
    ("R0-p(R1)", 3, "single branch"),
    ("R1 C1", 3, "unexpected 'C1'"),
    ("R1,C1", 2, "outside a parallel"),
    ("(R1-C1)", 0, "must follow 'p'"),
    ("R1-#", 3, "unexpected character '#'"),
    ("p(R1,)", 5, "expected an element"),
    ("p(R1 C1)", 5, "expected ',' or ')'"),
    ("CPE1(R1)", 4, "must follow 'p'"),
]


@pytest.mark.parametrize("circuit,position,message", BAD)
def test_errors_point_at_the_character(circuit: str, position: int, message: str) -> None:
    with pytest.raises(CircuitError, match=re.escape(message)) as info:
        parse_circuit(circuit)
    assert info.value.position == position
    assert info.value.circuit == circuit
    assert isinstance(info.value, EisError) and isinstance(info.value, ValueError)
    # the caret line of the message sits under the offending character
    lines = str(info.value).splitlines()
    assert lines[-1].index("^") - 2 == position


@settings(max_examples=200, deadline=None)
@given(circuits())
def test_random_circuits_round_trip(ast: Node) -> None:
    text = render(ast)
    assert render(parse_circuit(text)) == text
    spaced = text.replace("-", " - ").replace(",", " , ")
    assert render(parse_circuit(spaced)) == text


def test_no_eval_in_the_package() -> None:
    from pathlib import Path

    import eis_pipeline.circuits as pkg

    for path in Path(pkg.__file__).parent.glob("*.py"):
        source = path.read_text()
        assert "eval(" not in source and "exec(" not in source, path.name


def test_mistyped_preset_name_suggests_presets():
    from eis_pipeline.circuits import compile_circuit
    from eis_pipeline.exceptions import CircuitError

    with pytest.raises(CircuitError, match="unknown preset 'bulk-gb'; did you mean "
                                           "bulk-gb-electrode"):
        compile_circuit("bulk-gb")


@pytest.mark.parametrize("depth", [33, 400, 5000])
def test_deep_nesting_is_a_circuit_error_not_a_recursion_error(depth):
    from eis_pipeline.circuits.grammar import MAX_DEPTH, parse_circuit

    text = "".join(f"p(R{i}," for i in range(depth)) + "C0" + ")" * depth
    with pytest.raises(CircuitError, match="nested more than") as info:
        parse_circuit(text)
    # at the first p( too deep
    assert info.value.position == sum(len(f"p(R{i},") for i in range(MAX_DEPTH))


def test_nesting_up_to_the_limit_parses():
    from eis_pipeline.circuits.grammar import MAX_DEPTH, parse_circuit, render

    text = "".join(f"p(R{i}," for i in range(MAX_DEPTH)) + "C0" + ")" * MAX_DEPTH
    assert render(parse_circuit(text)).replace(" ", "") == text
