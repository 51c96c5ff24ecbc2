"""Element indices are ASCII digits (issue 10: Unicode digits were accepted as indices)."""

from __future__ import annotations

import pytest

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.exceptions import CircuitError


@pytest.mark.parametrize(("text", "position"), [("R\u0661-p(R2,CPE2)", 1),
                                                ("R1-p(R\u00b2,C2)", 6),
                                                ("R1-p(R2,C\uff12)", 9)])
def test_non_ascii_index_digits_are_refused_at_their_position(text, position) -> None:
    with pytest.raises(CircuitError, match="not one of 0-9") as info:
        compile_circuit(text)
    assert info.value.position == position
