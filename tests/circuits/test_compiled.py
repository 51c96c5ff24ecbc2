"""Whole circuits: Z against impedance.py, the Jacobian against finite differences, shapes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eis_pipeline.circuits import (
    PRESETS,
    CompiledCircuit,
    FrequencyGrid,
    compile_circuit,
    get_preset,
    to_impedance_py,
)
from eis_pipeline.circuits.grammar import Node, render
from eis_pipeline.exceptions import CircuitError
from tests.circuits.helpers import (
    FREQUENCY,
    assert_jacobian_close,
    circuits,
    finite_difference_jacobian,
    pure_evaluate,
    random_params,
)

CIRCUITS = [
    "R0",
    "p(R1,C1)",
    "R0-p(R1,CPE1)-CPE2",
    "p(R1,CPE1)-p(R2,CPE2)-CPE3",
    "L0-R1-p(R2,CPE2)-CPE3",
    "p(p(R1,C1),R2-C2)",
    "R0-p(R1-p(R2,CPE2),CPE1)-W1",
    "p(R1,C1,L1)",
    "p(R1-Wo1,CPE1)-Ws1-La1",
    "R0-p(C1,R1-p(C2,W1))",
    "p(R1,p(C1,R2-p(R3,CPE3)))-G1",
    "p(Gs1,K1)-Zarc1-TLMQ1",
    "R1-R2-C1-R3",
    "p(R1,R2)",
]


@pytest.mark.parametrize("circuit", CIRCUITS + list(PRESETS))
def test_impedance_matches_impedance_py(circuit: str, rng: np.random.Generator) -> None:
    c = compile_circuit(circuit)
    for _ in range(5):
        params = random_params(circuit, rng)
        ours = c.impedance(params, FREQUENCY)
        theirs = to_impedance_py(circuit, params).predict(FREQUENCY)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


@pytest.mark.parametrize("circuit", CIRCUITS + list(PRESETS))
def test_jacobian_matches_finite_differences(circuit: str, rng: np.random.Generator) -> None:
    c = compile_circuit(circuit)
    for _ in range(5):
        params = random_params(circuit, rng)
        z, jac = c.impedance_and_jacobian(params, FREQUENCY)
        assert z.shape == FREQUENCY.shape and jac.shape == (*FREQUENCY.shape, c.n_params)
        np.testing.assert_allclose(z, c.impedance(params, FREQUENCY), rtol=1e-13)
        ref = finite_difference_jacobian(lambda p: c.impedance(p, FREQUENCY), params)
        assert_jacobian_close(jac, ref, rtol=1e-6, params=params, z=z)


@pytest.mark.parametrize("circuit", ["p(R1,CPE1)-p(R2,CPE2)-CPE3", "R1-R2", "p(R1,R2)-W1"])
def test_batch_equals_one_by_one(circuit: str, rng: np.random.Generator) -> None:
    c = compile_circuit(circuit)
    params = random_params(circuit, rng, batch=7)
    z, jac = c.impedance_and_jacobian(params, FREQUENCY)
    assert z.shape == (7, FREQUENCY.size) and jac.shape == (7, FREQUENCY.size, c.n_params)
    assert z.dtype == jac.dtype == np.complex128
    np.testing.assert_array_equal(c.impedance(params, FREQUENCY), z)
    for b in range(7):
        zb, jb = c.impedance_and_jacobian(params[b], FREQUENCY)
        np.testing.assert_allclose(z[b], zb, rtol=1e-15)
        np.testing.assert_allclose(jac[b], jb, rtol=1e-15)


@pytest.mark.parametrize("circuit", CIRCUITS)
def test_one_parameter_vector_scalar_path_equals_the_batch(circuit: str,
                                                          rng: np.random.Generator) -> None:
    """One parameter vector is evaluated with numpy scalars, a batch with (B, 1) columns:
    same values, shapes and dtypes (frequency-independent circuits included)."""
    c = compile_circuit(circuit)
    params = random_params(circuit, rng, batch=3)
    z, jac = c.impedance_and_jacobian(params, FREQUENCY)
    grid = FrequencyGrid(FREQUENCY)
    for b in range(3):
        for p in (params[b], params[b:b + 1]):
            z1, j1 = c.impedance_and_jacobian(p, grid)
            zz = c.impedance(p, grid)
            shape = (FREQUENCY.size,) if p.ndim == 1 else (1, FREQUENCY.size)
            assert z1.shape == zz.shape == shape and j1.shape == (*shape, c.n_params)
            assert z1.dtype == zz.dtype == j1.dtype == np.complex128
            np.testing.assert_allclose(z1.reshape(-1), z[b], rtol=1e-14, atol=0)
            np.testing.assert_allclose(zz.reshape(-1), z[b], rtol=1e-14, atol=0)
            np.testing.assert_allclose(j1.reshape(FREQUENCY.size, -1), jac[b], rtol=1e-13,
                                       atol=1e-300)
    # one vector on a (B, F) grid serves every row
    f2 = np.stack([FREQUENCY, FREQUENCY * 2.0])
    z2, j2 = c.impedance_and_jacobian(params[:1], f2)
    assert z2.shape == (2, FREQUENCY.size) and j2.shape == (2, FREQUENCY.size, c.n_params)
    np.testing.assert_allclose(z2[0], z[0], rtol=1e-14)


def test_zero_parameter_gives_inf_not_an_exception() -> None:
    c = compile_circuit("p(R1,C1)")
    with np.errstate(divide="ignore", invalid="ignore"):
        z = c.impedance([0.0, 1e-6], FREQUENCY)
    assert z.shape == FREQUENCY.shape   # numpy semantics, no ZeroDivisionError


def test_two_dimensional_frequency_gives_each_spectrum_its_grid(
        rng: np.random.Generator) -> None:
    c = compile_circuit("bulk-gb-electrode")
    params = random_params(c.circuit, rng, batch=3)
    freq = np.stack([FREQUENCY, FREQUENCY * 2, FREQUENCY[::-1]])
    z, jac = c.impedance_and_jacobian(params, freq)
    for b in range(3):
        zb, jb = c.impedance_and_jacobian(params[b], freq[b])
        np.testing.assert_allclose(z[b], zb, rtol=1e-14)
        np.testing.assert_allclose(jac[b], jb, rtol=1e-14)
    # one parameter vector broadcast over several grids
    z1 = c.impedance(params[0], freq)
    assert z1.shape == freq.shape
    np.testing.assert_allclose(z1[1], c.impedance(params[0], freq[1]), rtol=1e-14)


def test_frequency_grid_is_reusable_and_equivalent(rng: np.random.Generator) -> None:
    c = compile_circuit("L0-R1-p(R2,CPE2)-CPE3")
    grid = FrequencyGrid(FREQUENCY)
    for _ in range(3):
        params = random_params(c.circuit, rng)
        z, jac = c.impedance_and_jacobian(params, grid)
        z_ref, jac_ref = c.impedance_and_jacobian(params, FREQUENCY)
        np.testing.assert_array_equal(z, z_ref)
        np.testing.assert_array_equal(jac, jac_ref)


def test_cache_returns_the_same_object_for_every_spelling() -> None:
    a = compile_circuit("p(R1,CPE1)-p(R2,CPE2)-CPE3")
    assert compile_circuit(" p( R1 , CPE1 ) - p(R2,CPE2)-CPE3 ") is a
    assert compile_circuit("bulk-gb-electrode") is a
    assert compile_circuit(get_preset("bulk-gb-electrode")) is a
    assert compile_circuit(a) is a


def test_every_spelling_gives_one_object_after_the_cache_evicted_it() -> None:
    """A spelling cached as text kept its compiled object after the compiled-object cache
    (256 circuits) had evicted it: the spelling and the normalised string gave two objects
    (test_cache_returns_the_same_object_for_every_spelling failed after the fitting tests
    had compiled more than 256 circuits)."""
    spelled = " R0 - p(R1,C1) - L9 "
    compile_circuit(spelled)
    for i in range(300):
        compile_circuit(f"R{i}-C{i}")
    assert compile_circuit(spelled) is compile_circuit("R0-p(R1,C1)-L9")


def test_metadata_of_the_contract() -> None:
    c = compile_circuit("bulk-gb-electrode")
    assert c.circuit == "p(R1,CPE1)-p(R2,CPE2)-CPE3"
    assert c.param_names == ("R1", "CPE1_0", "CPE1_1", "R2", "CPE2_0", "CPE2_1",
                             "CPE3_0", "CPE3_1")
    assert c.param_units[:3] == ("ohm", "F s^(n-1)", "")
    assert c.param_kinds == ("positive", "positive", "exponent") * 2 + ("positive", "exponent")
    np.testing.assert_array_equal(c.lower_bounds, [0, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(c.upper_bounds, [np.inf, np.inf, 1] * 2 + [np.inf, 1])
    assert c.element_names == ("R1", "CPE1", "R2", "CPE2", "CPE3")
    assert c.element_slices["CPE2"] == slice(4, 6)


def test_pickles_through_the_cache() -> None:
    c = compile_circuit("R0-p(R1,C1)")
    assert pickle.loads(pickle.dumps(c)) is c


def test_wrong_parameter_count_names_the_expected_order() -> None:
    c = compile_circuit("R0-p(R1,C1)")
    with pytest.raises(CircuitError, match="R0, R1, C1"):
        c.impedance([1.0, 2.0], FREQUENCY)
    with pytest.raises(CircuitError, match="shape"):
        c.impedance_and_jacobian(np.ones((2, 2, 3)), FREQUENCY)


@pytest.mark.parametrize("bad", [[0.0, 1.0], [-1.0, 2.0], [np.nan, 1.0], []])
def test_bad_frequencies_are_rejected(bad: list[float]) -> None:
    with pytest.raises(CircuitError, match="frequency"):
        compile_circuit("R0").impedance([1.0], bad)


def test_non_string_circuit_is_rejected() -> None:
    with pytest.raises(CircuitError, match="string"):
        compile_circuit(42)  # type: ignore[arg-type]
    assert isinstance(compile_circuit("R0"), CompiledCircuit)


def test_to_impedance_py_accepts_a_mapping_and_checks_lengths() -> None:
    model = to_impedance_py("R0-p(R1,C1)", {"C1": 1e-6, "R1": 100.0, "R0": 10.0})
    assert list(model.initial_guess) == [10.0, 100.0, 1e-6]
    np.testing.assert_allclose(model.predict(FREQUENCY),
                               compile_circuit("R0-p(R1,C1)").impedance([10, 100, 1e-6],
                                                                        FREQUENCY), rtol=1e-12)
    with pytest.raises(CircuitError, match="missing for C1"):
        to_impedance_py("R0-p(R1,C1)", {"R0": 1.0, "R1": 2.0})
    with pytest.raises(CircuitError, match="needs 3"):
        to_impedance_py("R0-p(R1,C1)", [1.0, 2.0])


@settings(max_examples=60, deadline=None)
@given(ast=circuits(max_leaves=8), seed=st.integers(0, 2**32 - 1))
def test_random_circuits_match_impedance_py_and_finite_differences(ast: Node,
                                                                     seed: int) -> None:
    # the generated code's pure twin (same source; compiled == pure: test_elements.py)
    circuit = render(ast)
    params = random_params(circuit, np.random.default_rng(seed))
    z, jac = pure_evaluate(circuit, params, FREQUENCY)
    theirs = to_impedance_py(circuit, params).predict(FREQUENCY)
    np.testing.assert_allclose(z, theirs, rtol=1e-11, atol=0)

    def value(p: np.ndarray) -> np.ndarray:
        return pure_evaluate(circuit, p, FREQUENCY)[0]

    ref = finite_difference_jacobian(value, params)
    finer = finite_difference_jacobian(value, params, rel_step=1e-5)
    assert_jacobian_close(jac, ref, rtol=1e-6, params=params, z=z, ref_error=ref - finer)


def test_jacobian_near_a_pole_needs_the_finer_step() -> None:
    """The case hypothesis found: K3's negative resistance almost cancels R4 in parallel.
    The analytic Jacobian is right (it is what ever finer differences converge to); the
    1e-4 step is not, so its error estimate widens the tolerance there."""
    circuit = "C0-CPE1-CPE2-p(K3,R4)"
    c = compile_circuit(circuit)
    params = random_params(circuit, np.random.default_rng(784))
    _, jac = c.impedance_and_jacobian(params, FREQUENCY)
    fine = finite_difference_jacobian(lambda p: c.impedance(p, FREQUENCY), params,
                                      rel_step=1e-6)
    np.testing.assert_allclose(jac[..., -1] * params[-1], fine[..., -1] * params[-1],
                               rtol=1e-6, atol=1e-6 * np.abs(fine[..., -1] * params[-1]).max())


@pytest.mark.parametrize("two_d", [False, True])
def test_large_batches_give_the_same_result_row_by_row(
        two_d: bool, rng: np.random.Generator) -> None:
    c = compile_circuit("L0-p(R1,CPE1)-p(R2,CPE2)-CPE3")
    batch = 205
    params = random_params(c.circuit, rng, batch=batch)
    freq = FREQUENCY * rng.uniform(0.5, 2.0, (batch, 1)) if two_d else FREQUENCY
    grid = FrequencyGrid(freq)
    z, jac = c.impedance_and_jacobian(params, grid)
    np.testing.assert_array_equal(c.impedance(params, grid), z)
    for b in (0, batch // 2, batch - 1):
        zb, jb = c.impedance_and_jacobian(params[b], freq[b] if two_d else freq)
        np.testing.assert_allclose(z[b], zb, rtol=1e-14)
        np.testing.assert_allclose(jac[b], jb, rtol=1e-14)
    if two_d:  # one parameter vector over many grids
        z1 = c.impedance(params[0], grid)
        np.testing.assert_allclose(z1[-1], c.impedance(params[0], freq[-1]), rtol=1e-14)
