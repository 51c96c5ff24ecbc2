"""The canonical spelling of a circuit: one per circuit, whatever the names, order, notation."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.circuits import PRESETS, compile_circuit
from eis_pipeline.circuits.canonical import canonical_form


def _form(circuit: str):
    return canonical_form(compile_circuit(circuit).ast)


@pytest.mark.parametrize("spellings", [
    ["p(R1,CPE1)-CPE2", "p(CPE1,R1)-CPE2", "CPE2-p(R1,CPE1)", "CPE0-p(CPE5,R5)", "(RQ)Q",
     "Q(RQ)"],
    ["p(R1,CPE1)-p(R2,CPE2)-CPE3", "CPE3-p(R2,CPE2)-p(CPE1,R1)", "(RQ)(RQ)Q",
     "p(R0,CPE0)-CPE9-p(R1,CPE1)"],
    ["L0-R1-p(R2,CPE2)-CPE3", "CPE3-p(CPE2,R2)-R1-L0", "LR(RQ)Q"],
    ["p(R1,C1)-p(R2,CPE2)", "p(CPE2,R2)-p(C1,R1)"],
    ["R0-p(CPE1,R1-W1)", "p(W1-R1,CPE1)-R0"],
])
def test_every_spelling_has_one_canonical_form(spellings):
    forms = {_form(c).circuit for c in spellings}
    assert len(forms) == 1, forms


@pytest.mark.parametrize("circuit", ["CPE3-p(R2,CPE2)-p(CPE1,R1)", "p(W1-R1,CPE1)-R0-L4",
                                     "Q(RQ)(RC)"])
def test_parameter_map_gives_the_same_impedance(circuit):
    """The canonical circuit with the user's parameters permuted is the user's circuit."""
    user = compile_circuit(circuit)
    form = _form(circuit)
    canon = compile_circuit(form.circuit)
    rng = np.random.default_rng(0)
    p = np.where(np.array(user.param_kinds) == "exponent", rng.uniform(0.6, 1.0, user.n_params),
                 10.0 ** rng.uniform(-9, 4, user.n_params))
    f = np.logspace(6, -1, 29)
    np.testing.assert_allclose(canon.impedance(p[list(form.param_order)], f),
                               user.impedance(p, f), rtol=1e-12)
    # every element renamed, each kind kept
    assert sorted(form.element_names) == sorted(user.element_names)
    assert all(c.rstrip("0123456789") == u.rstrip("0123456789")
               for u, c in form.element_names.items())


@pytest.mark.parametrize("preset", list(PRESETS))
def test_presets_keep_their_parameter_order(preset):
    """Fitting a preset in its canonical form changes names only, not the order."""
    assert _form(preset).is_identity


def test_interchangeable_blocks_keep_their_written_order():
    form = _form("p(R7,CPE7)-CPE1-p(R3,CPE3)")
    assert form.element_names["R7"] == "R0"
    assert form.element_names["R3"] == "R2"
