"""Each element against impedance.py's function, its own gradient and physical limits."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline import _jit
from eis_pipeline.circuits import ELEMENTS, circuit_elements, codegen, compile_circuit
from eis_pipeline.circuits.grammar import parse_circuit
from tests.circuits.helpers import (
    FREQUENCY,
    assert_jacobian_close,
    finite_difference_jacobian,
    random_params,
)

impedance_elements = pytest.importorskip("impedance.models.circuits.elements")

ELEMENT_KINDS = sorted(ELEMENTS)


def _evaluate(kind: str, params: np.ndarray, frequency: np.ndarray) -> np.ndarray:
    return compile_circuit(f"{kind}1").impedance(params, frequency)


def _pure(circuit: str, params: np.ndarray, frequency: np.ndarray) -> tuple[np.ndarray, ...]:
    """Z and dZ/dp from the pure-Python twin of the same generated source."""
    module = codegen.evaluator(parse_circuit(circuit), pure=True)
    p = np.asarray(params, dtype=float)
    z = np.empty(frequency.size, complex)
    jac = np.empty((frequency.size, p.size), complex)
    module.evaluate(p, 2 * np.pi * frequency, z, jac)
    return z, jac


@pytest.mark.parametrize("kind", ELEMENT_KINDS)
def test_impedance_matches_impedance_py(kind: str, rng: np.random.Generator) -> None:
    reference = impedance_elements.circuit_elements[kind]
    for _ in range(20):
        params = random_params(f"{kind}1", rng)
        ours = _evaluate(kind, params, FREQUENCY)
        theirs = np.asarray(reference([float(p) for p in params], FREQUENCY.tolist()))
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


@pytest.mark.parametrize("kind", ELEMENT_KINDS)
def test_metadata_matches_impedance_py(kind: str) -> None:
    reference = impedance_elements.circuit_elements[kind]
    assert ELEMENTS[kind].n_params == reference.num_params
    c = compile_circuit(f"{kind}3")
    expected = ("3" if reference.num_params == 1 else
                [f"3_{i}" for i in range(reference.num_params)])
    assert list(c.param_names) == [kind + s for s in expected]


def test_every_element_of_impedance_py_is_in_the_table() -> None:
    # (its table also holds the series and parallel functions s and p)
    theirs = {k for k in impedance_elements.circuit_elements if k not in ("s", "p", "__builtins__")}
    assert theirs <= set(ELEMENTS)


@pytest.mark.parametrize("kind", ELEMENT_KINDS)
def test_gradient_matches_finite_differences(kind: str, rng: np.random.Generator) -> None:
    c = compile_circuit(f"{kind}1")
    for _ in range(10):
        params = random_params(f"{kind}1", rng)
        value, jac = c.impedance_and_jacobian(params, FREQUENCY)
        np.testing.assert_allclose(value, _evaluate(kind, params, FREQUENCY), rtol=1e-15)
        ref = finite_difference_jacobian(lambda p: _evaluate(kind, p, FREQUENCY), params)
        assert_jacobian_close(jac, ref, rtol=1e-6)


@pytest.mark.parametrize("kind", ELEMENT_KINDS)
def test_every_element_is_compiled(kind: str) -> None:
    # the circuit's evaluator is numba machine code, and its pure twin (the no-numba path)
    # runs the same source to the same numbers
    if not _jit.AVAILABLE:
        pytest.skip("numba is not installed")
    c = compile_circuit(f"p({kind}1,R9)-{kind}2")
    assert hasattr(c.kernels.evaluate, "nopython_signatures")
    assert c.kernels.evaluate.nopython_signatures
    params = random_params(c.circuit, np.random.default_rng(3))
    z, jac = c.impedance_and_jacobian(params, FREQUENCY)
    zp, jacp = _pure(c.circuit, params, FREQUENCY)
    np.testing.assert_allclose(z, zp, rtol=1e-13)
    np.testing.assert_allclose(jac, jacp, rtol=1e-12, atol=1e-300)


def test_cpe_with_unit_exponent_is_a_capacitor() -> None:
    c = compile_circuit("C1").impedance([2.2e-9], FREQUENCY)
    q = compile_circuit("CPE1").impedance([2.2e-9, 1.0], FREQUENCY)
    np.testing.assert_allclose(q, c, rtol=1e-13)


def test_la_with_unit_exponent_is_an_inductor() -> None:
    np.testing.assert_allclose(compile_circuit("La1").impedance([3e-7, 1.0], FREQUENCY),
                               compile_circuit("L1").impedance([3e-7], FREQUENCY), rtol=1e-13)


def test_finite_length_warburg_limits() -> None:
    r, tau = 50.0, 2.0
    low, high = np.array([1e-10, 1e-9]), np.array([1e5, 1e6])
    # Ws (tanh, transmissive) -> R at low frequency
    np.testing.assert_allclose(compile_circuit("Ws1").impedance([r, tau], low), r, rtol=1e-8)
    # Wo (coth, reflective) -> R/3 in series with C = tau/R at low frequency
    omega = 2 * np.pi * low
    wo = compile_circuit("Wo1").impedance([r, tau], low)
    np.testing.assert_allclose(wo - 1 / (1j * omega * tau / r), r / 3, rtol=1e-6)
    # both -> the semi-infinite Warburg with A_W = R / sqrt(2 tau) at high frequency
    w = compile_circuit("W1").impedance([r / np.sqrt(2 * tau)], high)
    for kind in ("Ws1", "Wo1"):
        np.testing.assert_allclose(compile_circuit(kind).impedance([r, tau], high), w,
                                   rtol=1e-12)


def test_warburg_has_minus_45_degree_phase() -> None:
    z = compile_circuit("W1").impedance([7.0], FREQUENCY)
    np.testing.assert_allclose(np.angle(z, deg=True), -45.0, atol=1e-12)


def test_rc_parallel_limits() -> None:
    z = compile_circuit("p(R1,C1)").impedance([1e3, 1e-9], [1e-4, 1e12])
    np.testing.assert_allclose(z[0], 1e3, rtol=1e-6)
    assert abs(z[1]) < 1e-3


def test_zarc_equals_r_parallel_cpe() -> None:
    r, q, n = 1e3, 1e-8, 0.8
    tau = (r * q) ** (1 / n)
    np.testing.assert_allclose(compile_circuit("Zarc1").impedance([r, tau, n], FREQUENCY),
                               compile_circuit("p(R1,CPE1)").impedance([r, q, n], FREQUENCY),
                               rtol=1e-12)


def test_zarc_with_unit_exponent_is_k_and_k_is_rc() -> None:
    r, tau = 400.0, 1e-4
    k = compile_circuit("K1").impedance([r, tau], FREQUENCY)
    np.testing.assert_allclose(compile_circuit("Zarc1").impedance([r, tau, 1.0], FREQUENCY), k,
                               rtol=1e-12)
    np.testing.assert_allclose(compile_circuit("p(R1,C1)").impedance([r, tau / r], FREQUENCY),
                               k, rtol=1e-12)


def test_gerischer_limits() -> None:
    np.testing.assert_allclose(compile_circuit("G1").impedance([20.0, 1e-3], [1e-7]), 20.0,
                               rtol=1e-8)
    np.testing.assert_allclose(compile_circuit("Gs1").impedance([20.0, 1e-3, 40.0], FREQUENCY),
                               compile_circuit("G1").impedance([20.0, 1e-3], FREQUENCY),
                               rtol=1e-12)


def test_tlmq_low_frequency_limit() -> None:
    # coth(b) ~ 1/b + b/3: Z -> Z_s + R/3 with Z_s the CPE's impedance.
    r, q, gamma = 30.0, 1e-3, 0.9
    f = np.array([1e-9, 1e-8])
    z = compile_circuit("TLMQ1").impedance([r, q, gamma], f)
    zs = compile_circuit("CPE1").impedance([q, gamma], f)
    np.testing.assert_allclose(z - zs, r / 3, rtol=1e-5)


def test_large_arguments_stay_finite() -> None:
    f = np.array([1e9, 1e12])
    for kind, p in [("Wo1", [10.0, 1e3]), ("Ws1", [10.0, 1e3]), ("Gs1", [5.0, 1e3, 10.0]),
                    ("TLMQ1", [10.0, 1.0, 1.0]), ("T1", [10.0, 5.0, 1.0, 1e3])]:
        z, jac = compile_circuit(kind).impedance_and_jacobian(p, f)
        assert np.all(np.isfinite(z)) and np.all(np.isfinite(jac)), kind


def test_circuit_elements_listing() -> None:
    listing = {e["name"]: e for e in circuit_elements()}
    assert set(listing) == set(ELEMENTS)
    cpe = listing["CPE"]
    assert [(p["index"], p["symbol"], p["kind"]) for p in cpe["parameters"]] == [
        (0, "Q", "positive"), (1, "n", "exponent")]
    assert listing["R"]["parameters"][0]["index"] is None
    for e in listing.values():
        assert e["formula"].startswith("Z = ")


def test_low_frequency_derivatives_use_the_cancellation_free_series() -> None:
    # Ws: dZ/dτ -> -jωR/3; TLMQ: dZ/dR -> 1/3, where the closed forms cancel to noise.
    f = np.array([1e-12, 1e-10, 1e-8])
    omega = 2 * np.pi * f
    _, jac = compile_circuit("Ws1").impedance_and_jacobian([50.0, 2.0], f)
    np.testing.assert_allclose(jac[:, 1], -1j * omega * 50.0 / 3, rtol=1e-6)
    _, jac = compile_circuit("TLMQ1").impedance_and_jacobian([30.0, 1e-3, 0.9], f)
    np.testing.assert_allclose(jac[:, 0], 1 / 3, rtol=1e-6)


@pytest.mark.parametrize("kind,params", [("Ws1", [50.0, 2.0]), ("TLMQ1", [30.0, 1e-3, 1.0])])
def test_series_and_closed_form_agree_near_the_switch(kind: str, params: list[float],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # |x| from 0.005 to 0.02 around the switch at 0.01: closed form (error ~eps/|x|^2) and
    # series (error ~|x|^6) must agree to far better than the fit will ever need. The pure
    # twin reads the threshold at run time, so it can be moved.
    pure_kernels = _jit.pure("eis_pipeline.circuits.element_kernels")
    x = np.linspace(0.005, 0.02, 7)
    f = x**2 / (2 * np.pi * (params[1] if kind == "Ws1" else params[0] * params[1]))
    monkeypatch.setattr(pure_kernels, "_SERIES_BELOW", 0.0)
    _, closed = _pure(kind, params, f)
    monkeypatch.setattr(pure_kernels, "_SERIES_BELOW", 1.0)
    _, series = _pure(kind, params, f)
    np.testing.assert_allclose(series, closed, rtol=1e-9)


def test_paasch_limits() -> None:
    # T with B = 0 is A coth(β)/β; at a -> 0, b -> 0 (β -> 0) Z -> (A + B)/β² + (A - B/2)/3
    a_, b_ = 10.0, 4.0
    f = np.array([1e-3, 1.0, 1e3])
    beta = np.sqrt(0.3 + 2j * np.pi * f * 1e-3)
    z = compile_circuit("T1").impedance([a_, 0.0 + 1e-300, 0.3, 1e-3], f)
    np.testing.assert_allclose(z, a_ / (beta * np.tanh(beta)), rtol=1e-12)
    small = np.array([1e-9])
    beta = np.sqrt(1e-8 + 2j * np.pi * small * 1e-6)
    z = compile_circuit("T1").impedance([a_, b_, 1e-8, 1e-6], small)
    np.testing.assert_allclose(z, (a_ + b_) / beta**2 + (a_ - b_ / 2) / 3, rtol=1e-6)
