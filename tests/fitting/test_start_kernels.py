"""The feature-search kernel of the starting points (fitting/_start_kernels.py): closed forms
it must recover, compiled = pure (one source), and padding that is never read."""

from __future__ import annotations

import numpy as np
import pytest

from bench.synthetic_fitting import CIRCUIT_A, CIRCUIT_B, add_noise, grid, params_a, params_b
from eis_pipeline import _jit
from eis_pipeline.circuits import PRESETS, compile_circuit
from eis_pipeline.fitting import compiled_lm, initial
from eis_pipeline.fitting.model import resolve_circuit

PURE = _jit.pure("eis_pipeline.fitting._start_kernels")


def _starts(f: np.ndarray, z: np.ndarray, preset: str) -> np.ndarray:
    r = resolve_circuit(preset)
    return initial.initial_guesses(np.atleast_2d(f), np.atleast_2d(z), r.compiled.param_names,
                                   r.roles, r.bulk_from_intercept)


@pytest.mark.parametrize("n", [0.6, 0.85, 1.0])
@pytest.mark.parametrize("with_l", [False, True])
def test_high_frequency_fit_recovers_its_closed_form(n, with_l):
    """R_s + jωL + (jω)^-n / Q on the top points, n on the grid: recovered exactly."""
    w = 2 * np.pi * np.logspace(7, 5, 8)
    r_s, ind, q = 42.0, 3e-7 if with_l else 0.0, 2e-9
    z = r_s + 1j * w * ind + (1j * w) ** -n / q
    got = PURE.high_frequency(w, z.real.copy(), z.imag.copy(), with_l, initial.HF_EXPONENTS)
    np.testing.assert_allclose(got, (r_s, ind, q, n), rtol=1e-6, atol=1e-12)


def test_peaks_find_two_apices_and_the_trough():
    """-Z'' of two R‖C arcs (apices at 1/(2πRC)) and a capacitive spike: the apices, the
    higher one first, and the trough between the slower arc and the spike."""
    f = np.logspace(7, -1, 161)
    c = compile_circuit("p(R1,C1)-p(R2,C2)-C3")
    z = c.impedance([1e3, 1e-10, 3e3, 1e-7, 1e-5], f).ravel()
    i1, i2, has2, trough = PURE.peaks(-z.imag)
    assert has2
    apex = sorted([f[i1], f[i2]])
    np.testing.assert_allclose(apex, [1 / (2 * np.pi * 3e3 * 1e-7), 1 / (2 * np.pi * 1e3 * 1e-10)],
                               rtol=0.06)   # the grid: 20 points per decade
    slow = max(i1, i2)
    assert trough > slow and -z.imag[trough] == np.min(-z.imag[slow:])


def test_one_arc_start_from_the_arc_closed_form():
    """p(R1,CPE1)-CPE2 data: the first start has R near R1 (the trough's real part), the
    arc's apex at its τ, the electrode n from the spike's phase."""
    f = np.logspace(6, -2, 121)
    true = np.array([2e4, 1e-9, 0.9, 1e-6, 0.8])
    z = compile_circuit("p(R1,CPE1)-CPE2").impedance(true, f).ravel()
    s = _starts(f, z, "single-arc-electrode")[0, 0]
    assert s[0] == pytest.approx(true[0], rel=0.1)
    tau = (s[0] * s[1]) ** (1 / s[2])
    assert tau == pytest.approx((true[0] * true[1]) ** (1 / true[2]), rel=0.3)
    assert s[4] == pytest.approx(true[4], abs=0.05)


def _spectra(noise: float) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(11)
    out = []
    for gen, f, circuit in ((params_a, grid(7e6, 1.0), CIRCUIT_A),
                            (params_b, grid(1e6, 0.1), CIRCUIT_B)):
        z = add_noise(rng, compile_circuit(circuit).impedance(gen(rng, 6), f), noise)
        out += [(f, zi) for zi in z]
    return out


@pytest.mark.parametrize("preset", list(PRESETS))
def test_compiled_and_pure_give_the_same_starts(monkeypatch, preset):
    pytest.importorskip("numba")
    for f, z in _spectra(0.02):
        monkeypatch.setattr(compiled_lm, "ENABLED", True)
        fast = _starts(f, z, preset)
        monkeypatch.setattr(compiled_lm, "ENABLED", False)
        slow = _starts(f, z, preset)
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=0)
        # two arcs with roles: the τ-search start (numpy, either way) before the kernel's
        assert fast.shape[1] in (initial.N_STARTS, initial.N_STARTS + 1)
        assert np.isfinite(fast).all()


def test_padding_is_never_read():
    """A spectrum padded in a batch with a longer one gets the starts it gets alone."""
    (f1, z1), (f2, z2) = _spectra(0.01)[0], _spectra(0.01)[-1]
    f1, z1 = f1[:40], z1[:40]
    n = max(f1.size, f2.size)
    f = np.full((2, n), np.nan)
    z = np.full((2, n), np.nan + 0j)
    f[0, :f1.size], z[0, :f1.size] = f1, z1
    f[1, :f2.size], z[1, :f2.size] = f2, z2
    for preset in PRESETS:
        both = _starts(f, z, preset)
        np.testing.assert_array_equal(both[0], _starts(f1, z1, preset)[0])
        np.testing.assert_array_equal(both[1], _starts(f2, z2, preset)[0])


@pytest.mark.parametrize("case", ["ascending", "shuffled", "no-peak", "no-spike", "short",
                                  "inductive"])
def test_awkward_spectra_give_finite_positive_starts(case):
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
        s = _starts(f, z, preset)
        assert np.isfinite(s).all() and (s > 0).all(), preset
    if case in ("ascending", "shuffled"):   # the order of the points does not matter
        np.testing.assert_array_equal(_starts(f, z, "bulk-gb-electrode"),
                                      _starts(grid(1e6, 1.0), compile_circuit(CIRCUIT_A)
                                              .impedance(np.array([1e3, 2e-11, 0.9, 3e3, 1e-9,
                                                                   0.8, 1e-6, 0.85]),
                                                         grid(1e6, 1.0)), "bulk-gb-electrode"))


def test_a_fit_runs_the_compiled_kernel(monkeypatch):
    """Guard against a silent fallback: with numba, the starts come from machine code."""
    pytest.importorskip("numba")
    monkeypatch.setattr(compiled_lm, "ENABLED", True)
    assert initial._kernels() is compiled_lm.load_kernels("_start_kernels")
    assert initial._kernels() is not PURE
