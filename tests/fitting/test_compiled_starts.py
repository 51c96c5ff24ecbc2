"""The numba-compiled starting points of one spectrum against the numpy ones (skipped without
numba): the same starts, to round-off, for every preset and awkward spectra."""

from __future__ import annotations

import numpy as np
import pytest

from bench.synthetic_fitting import CIRCUIT_A, CIRCUIT_B, add_noise, grid, params_a, params_b
from eis_pipeline.circuits import PRESETS, compile_circuit
from eis_pipeline.fitting import compiled_lm, compiled_starts, initial
from eis_pipeline.fitting.model import CircuitModel, resolve_circuit

pytest.importorskip("numba")


def _both(monkeypatch: pytest.MonkeyPatch, f: np.ndarray, z: np.ndarray, preset: str,
          names: tuple[str, ...] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(numpy starts, compiled starts or None) of one spectrum."""
    r = resolve_circuit(preset)
    names = names or r.compiled.param_names
    monkeypatch.setattr(compiled_lm, "ENABLED", False)
    slow = initial.initial_guesses(f[None], z[None], names, r.roles, r.bulk_from_intercept)[0]
    monkeypatch.setattr(compiled_lm, "ENABLED", True)
    fast = compiled_starts.role_starts(f, z, names, r.roles, r.bulk_from_intercept)
    return slow, fast


def _pellet_spectra(n: int, noise: float, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for gen, f, circuit in ((params_a, grid(7e6, 1.0), CIRCUIT_A),
                            (params_b, grid(1e6, 0.1), CIRCUIT_B)):
        z = add_noise(rng, compile_circuit(circuit).impedance(gen(rng, n), f), noise)
        out += [(f, zi) for zi in z]
    return out


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("noise", [0.0, 0.02])
def test_same_starts_as_numpy(monkeypatch: pytest.MonkeyPatch, preset: str,
                              noise: float) -> None:
    """Every preset on both benchmark families (two arcs; intercept, arc, spike, L)."""
    for f, z in _pellet_spectra(25, noise, seed=11):
        slow, fast = _both(monkeypatch, f, z, preset)
        assert fast is not None
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=0)


@pytest.mark.parametrize("case", ["ascending", "shuffled", "no-peak", "no-spike", "short",
                                  "inductive"])
def test_awkward_spectra(monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """Unsorted points, a featureless spectrum, no electrode spike, few points, and an
    inductive tail: the branches of the feature search agree too."""
    rng = np.random.default_rng(5)
    f = grid(1e6, 1.0)
    z = compile_circuit(CIRCUIT_A).impedance(
        np.array([1e3, 2e-11, 0.9, 3e3, 1e-9, 0.8, 1e-6, 0.85]), f).ravel()
    if case == "ascending":
        f, z = f[::-1], z[::-1]
    elif case == "shuffled":
        order = rng.permutation(f.size)
        f, z = f[order], z[order]
    elif case == "no-peak":
        z = compile_circuit("R0-CPE1").impedance(np.array([50.0, 1e-6, 0.8]), f).ravel()
    elif case == "no-spike":
        z = compile_circuit("p(R1,C1)-p(R2,C2)").impedance(
            np.array([1e3, 1e-11, 3e3, 1e-9]), f).ravel()
    elif case == "short":
        f, z = f[::12], z[::12]
    else:
        z = z + 1j * 2 * np.pi * f * 1e-5
    for preset in PRESETS:
        slow, fast = _both(monkeypatch, f, z, preset)
        assert fast is not None
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=0, err_msg=f"{case} {preset}")


def test_generic_parameters_and_bad_data_use_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A parameter no role covers needs the generic guess, and NaN data the padded path:
    the compiled path declines and initial_guesses still answers (numpy)."""
    f, z = _pellet_spectra(1, 0.0, seed=2)[0]
    names = ("L0", "R1", "CPE1_0", "CPE1_1", "CPE2_0", "CPE2_1")   # L0: no role here
    slow, fast = _both(monkeypatch, f, z, "single-arc-electrode", names)
    assert fast is None
    r = resolve_circuit("single-arc-electrode")
    both = initial.initial_guesses(f[None], z[None], names, r.roles, False)[0]
    np.testing.assert_array_equal(both, slow)
    z_bad = z.copy()
    z_bad[3] = np.nan
    assert compiled_starts.role_starts(f, z_bad, r.compiled.param_names, r.roles,
                                       False) is None


def test_circuit_model_uses_compiled_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Guard against a silent fallback: with numba, a one-spectrum preset fit never runs the
    numpy feature search."""
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("numpy starts used")

    f, z = _pellet_spectra(1, 0.005, seed=4)[0]
    monkeypatch.setattr(compiled_lm, "ENABLED", True)
    monkeypatch.setattr(initial, "_from_roles", forbidden)
    assert CircuitModel("bulk-gb-electrode").fit(f, z).result_.converged
