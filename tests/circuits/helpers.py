"""Shared helpers of the circuit tests: random parameters and finite-difference Jacobians."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from eis_pipeline.circuits import ELEMENTS, compile_circuit
from eis_pipeline.circuits.grammar import Element, Node, Parallel, Series

FREQUENCY = np.logspace(-2, 7, 61)


def random_params(circuit: str, rng: np.random.Generator, batch: int | None = None) -> Any:
    """Plausible random parameters: log-uniform positives, exponents in [0.4, 1]."""
    c = compile_circuit(circuit)
    shape = (c.n_params,) if batch is None else (batch, c.n_params)
    out = np.empty(shape)
    for k, (name, kind) in enumerate(zip(c.param_names, c.param_kinds, strict=True)):
        n = out[..., k].shape
        if kind == "exponent":
            out[..., k] = rng.uniform(0.4, 1.0, n)
        elif name.startswith(("C", "CPE")) and not name.endswith("_1"):
            out[..., k] = 10 ** rng.uniform(-11, -5, n)
        elif name.startswith("L"):
            out[..., k] = 10 ** rng.uniform(-8, -5, n)
        elif name.startswith("T") and name[:-2].isalnum() and "LMQ" not in name:
            # Paasch A, B in ohm; a, b with |β| < 100 (impedance.py's sinh cut-off)
            low, high = {"_0": (0, 4), "_1": (0, 4), "_2": (-3, 0), "_3": (-9, -6)}[name[-2:]]
            out[..., k] = 10 ** rng.uniform(low, high, n)
        elif kind == "real":
            out[..., k] = rng.choice([-1.0, 1.0], n) * 10 ** rng.uniform(0, 4, n)
        elif name.endswith("_1") or name.endswith("_2"):  # time constants, phi
            out[..., k] = 10 ** rng.uniform(-5, 1, n)
        else:
            out[..., k] = 10 ** rng.uniform(0, 4, n)
    return out


def finite_difference_jacobian(fun: Callable[[Any], Any], params: Any,
                               rel_step: float = 1e-4) -> Any:
    """Fourth-order central differences, relative step per parameter: dZ/dp, shape (..., P).

    The five-point stencil (truncation ~h^4) allows a large step, which keeps rounding
    (~eps |Z| / h) small even where |Z| is much larger than the derivative times p.
    """
    params = np.asarray(params, dtype=float)
    cols = []
    for k in range(params.shape[-1]):
        h = rel_step * np.abs(params[k])

        def at(shift: float, k: int = k, h: float = h) -> Any:
            q = params.copy()
            q[k] += shift * h
            return fun(q)

        cols.append((8 * (at(1) - at(-1)) - (at(2) - at(-2))) / (12 * h))
    return np.stack(cols, axis=-1)


def assert_jacobian_close(jac: Any, ref: Any, rtol: float = 1e-6,
                          params: Any = None, z: Any = None, ref_error: Any = None) -> None:
    """Each column equal to ``rtol`` of its own largest entry (FD noise is per column).

    With ``params`` and ``z``, the sensitivities p_k dZ/dp_k are compared instead, allowing
    an extra 1e-10 |Z| per point: the finite differences cannot resolve a change of one
    term below the rounding of the whole sum (|Z| of a circuit spans many decades, and
    eps |Z| / h is then larger than the derivative of a small series term).

    ``ref_error`` (like ``ref``), when given, is the reference's own error estimate (the
    difference of two step sizes): near a pole (a negative K resistance almost cancelling a
    parallel R) a relative step of 1e-4 is already too long for any stencil.
    """
    if params is not None:
        jac = jac * params
        ref = ref * params
        if ref_error is not None:
            ref_error = ref_error * np.abs(params)
    scale = np.max(np.abs(ref), axis=tuple(range(ref.ndim - 1)), keepdims=True)
    allowed = rtol * scale
    if z is not None:
        allowed = allowed + 1e-10 * np.abs(z)[..., None]
    if ref_error is not None:
        allowed = allowed + 2 * np.abs(ref_error)
    err = np.abs(jac - ref) / allowed
    assert np.max(err) < 1, f"error up to {np.max(err):.2g} x the allowed"


_KINDS = sorted(ELEMENTS)


@st.composite
def circuits(draw: st.DrawFn, max_leaves: int = 12,
             kinds: Sequence[str] | None = None) -> Node:
    """Random circuit ASTs: elements of ``kinds`` (default: all), series and (nested)
    parallel blocks."""
    counter = iter(range(10_000))
    pool = sorted(kinds) if kinds is not None else _KINDS

    def element() -> st.SearchStrategy[Node]:
        return st.sampled_from(pool).map(lambda k: Element(k, f"{k}{next(counter)}"))

    def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        return st.one_of(
            st.lists(children, min_size=2, max_size=4).map(
                lambda cs: Series(tuple(x for c in cs for x in
                                        (c.children if isinstance(c, Series) else (c,))))),
            st.lists(children, min_size=2, max_size=4).map(lambda cs: Parallel(tuple(cs))),
        )

    return draw(st.recursive(st.deferred(element), extend, max_leaves=max_leaves))


def pure_evaluate(circuit: str, params: Any, frequency: Any) -> tuple[Any, Any]:
    """Z and dZ/dp from the pure-Python twin of the circuit's generated evaluator: the same
    source as the compiled one (tests/circuits/test_elements.py checks they agree), without
    compiling every random circuit of a property test."""
    from eis_pipeline.circuits import codegen

    module = codegen.evaluator(compile_circuit(circuit).ast, pure=True)
    p = np.asarray(params, dtype=float)
    f = np.asarray(frequency, dtype=float)
    z = np.empty(f.size, complex)
    jac = np.empty((f.size, p.size), complex)
    module.evaluate(p, 2 * np.pi * f, z, jac)
    return z, jac
