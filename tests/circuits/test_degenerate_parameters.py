"""A zero capacitance or CPE Q (exp(ln Q) underflowed in a trial step of the global series
fit, issue 10) must give non-finite values, quietly: numba's complex division raised inside
the evaluator called through a function pointer, which printed "Exception ignored ...
complex division by zero" to stderr and left Z unwritten (memory garbage)."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.circuits.compiled import compile_circuit

F = np.logspace(6, -1, 8)


@pytest.mark.parametrize(("circuit", "row"), [
    ("R0-p(R1,CPE1)-CPE2", [10.0, 100.0, float(np.exp(-800.0)), 0.9, 1e-6, 0.8]),  # Q -> 0
    ("R0-p(R1,CPE1)-CPE2", [10.0, 100.0, 1e-5, 0.9, 0.0, 0.8]),
    ("R0-p(R1,C1)", [10.0, 100.0, 0.0]),
])
def test_zero_q_or_c_is_non_finite_and_silent(capfd: pytest.CaptureFixture[str],
                                               circuit: str, row: list[float]) -> None:
    c = compile_circuit(circuit)
    good = np.array(row)
    good[good == 0.0] = 1e-6
    params = np.array([good, row])
    z = c.impedance(params, F)
    z2, jac = c.impedance_and_jacobian(params, F)
    out, err = capfd.readouterr()
    assert err == "" and out == ""
    # the degenerate row is not a number (a bad trial step), never left-over memory
    assert not np.any(np.isfinite(z[1])) and not np.any(np.isfinite(z2[1]))
    # the valid row beside it is untouched: equal to its own evaluation alone
    np.testing.assert_allclose(z[0], c.impedance(good, F), rtol=1e-14)
    np.testing.assert_allclose(jac[0], c.impedance_and_jacobian(good, F)[1], rtol=1e-14)
