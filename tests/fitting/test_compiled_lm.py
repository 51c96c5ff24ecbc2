"""The numba-compiled fit against the pure-Python twin of the same kernels (skipped without
numba)."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.fitting import compiled_lm
from eis_pipeline.fitting.model import CircuitModel

pytest.importorskip("numba")

F = np.logspace(np.log10(7e6), 0, 69)


@pytest.fixture
def solve_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Rows solved by each call of the compiled solver (a spy around solve_rows)."""
    calls: list[int] = []
    original = compiled_lm.solve_rows

    def spy(*args: object, **kwargs: object) -> object:
        if args[0].compiled:   # type: ignore[attr-defined]
            calls.append(np.asarray(args[7]).size)   # spec: the rows solved in this call
        return original(*args, **kwargs)

    monkeypatch.setattr(compiled_lm, "solve_rows", spy)
    return calls


@pytest.mark.parametrize(("circuit", "params"), [
    ("p(R1,CPE1)-p(R2,CPE2)-CPE3", [1e3, 2e-11, 0.9, 3e3, 1e-9, 0.8, 1e-6, 0.85]),
    ("L0-R1-p(R2,C2)-W3", [1e-7, 20.0, 500.0, 1e-9, 30.0]),
    ("R0-p(K1,La2)-Zarc3", [5.0, 40.0, 1e-4, 1e-3, 0.9, 300.0, 1e-3, 0.8]),
    ("p(R1-p(R2,CPE2),C1)", [100.0, 1e3, 1e-7, 0.75, 1e-10]),
])
def test_kernel_matches_the_circuit_impedance_and_jacobian(circuit: str,
                                                           params: list[float]) -> None:
    c = compile_circuit(circuit)
    coded = compiled_lm.prepare(c)
    assert coded is not None and coded.compiled
    p = np.array(params)
    z, dz = (np.asarray(a) for a in c.impedance_and_jacobian(p, F))
    z, dz = z.reshape(F.size), dz.reshape(F.size, p.size)
    ones = np.ones(F.size)
    # data 0, unit weights, natural coordinates: r = (Re Z, Im Z), J = (Re dZ, Im dZ)
    r, jac = compiled_lm.residuals_and_jacobian(
        coded, 2 * np.pi * F, np.zeros(F.size, dtype=complex), ones, ones, p.size,
        np.arange(p.size), np.zeros(p.size, dtype=bool), np.array([], dtype=np.intp),
        np.array([]), p)
    np.testing.assert_allclose(r[:F.size] + 1j * r[F.size:], z, rtol=1e-12)
    scale = np.abs(dz).max(axis=0)
    np.testing.assert_allclose((jac[:F.size] + 1j * jac[F.size:]) / scale, dz / scale,
                               rtol=0, atol=1e-12)


def test_every_element_takes_the_compiled_solver() -> None:
    from eis_pipeline.circuits import ELEMENTS

    circuit = "-".join(f"{kind}{i}" for i, kind in enumerate(sorted(ELEMENTS)))
    coded = compiled_lm.prepare(compile_circuit(circuit))
    assert coded is not None and coded.compiled


def _spectra(circuit: str, truth: np.ndarray, noise: float, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    z = compile_circuit(circuit).impedance(truth, F).ravel()
    return [z + noise * np.abs(z) * (rng.standard_normal(F.size)
                                     + 1j * rng.standard_normal(F.size)) for _ in range(n)]


@pytest.mark.parametrize(("circuit", "truth", "kwargs"), [
    ("p(R1,CPE1)-p(R2,CPE2)-CPE3", [1e3, 2e-11, 0.9, 3e3, 1e-9, 0.8, 1e-6, 0.85], {}),
    ("L0-R1-p(R2,CPE2)-CPE3", [1e-7, 20.0, 500.0, 1e-9, 0.85, 1e-6, 0.8], {}),
    ("p(R1,CPE1)-p(R2,CPE2)-CPE3", [1e3, 2e-11, 0.9, 3e3, 1e-9, 0.8, 1e-6, 0.85],
     {"constants": {"CPE3_1": 0.85}, "weighting": "proportional"}),
    ("p(R1,CPE1)-p(R2,CPE2)-CPE3", [1e3, 2e-11, 0.9, 3e3, 1e-9, 0.8, 1e-6, 0.85],
     {"initial_guess": [2e3, 1e-11, 0.95, 1e3, 1e-8, 0.9, 1e-5, 0.9]}),
])
@pytest.mark.parametrize("noise", [0.005, 0.02])
def test_same_optimum_as_pure_python_path(monkeypatch: pytest.MonkeyPatch, circuit: str,
                                    truth: list[float], kwargs: dict, noise: float) -> None:
    spectra = _spectra(circuit, np.array(truth), noise, 8)
    results = {}
    for enabled in (False, True):
        monkeypatch.setattr(compiled_lm, "ENABLED", enabled)
        model = CircuitModel(circuit, **kwargs)
        fits = [model.fit(F, z).result_ for z in spectra]
        results[enabled] = fits
    for slow, fast in zip(results[False], results[True], strict=True):
        assert fast.status == slow.status
        np.testing.assert_allclose(fast.x, slow.x, rtol=1e-6)
        np.testing.assert_allclose(fast.cost, slow.cost, rtol=1e-9)
        np.testing.assert_allclose(fast.covariance, slow.covariance, rtol=1e-4, atol=0)


def test_engine_uses_compiled_path(monkeypatch: pytest.MonkeyPatch,
                                   solve_calls: list[int]) -> None:
    """Guard against a silent fallback: the compiled solver is what runs when enabled."""
    from eis_pipeline.fitting import engine

    calls = solve_calls
    z = _spectra("R0-p(R1,C1)", np.array([10.0, 100.0, 1e-6]), 0.0, 1)[0]
    CircuitModel("R0-p(R1,C1)").fit(F, z)
    assert calls
    calls.clear()
    monkeypatch.setattr(compiled_lm, "ENABLED", False)
    CircuitModel("R0-p(R1,C1)").fit(F, z)
    assert not calls   # the pure twin ran
    assert engine.compiled_lm is compiled_lm


def test_numba_failure_falls_back_to_pure_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """numba installed but unusable (e.g. no cache directory): the pure twins run the fit."""
    monkeypatch.setattr(compiled_lm, "_kernels", lambda: None)
    monkeypatch.setattr(compiled_lm, "_CODED", {})
    coded = compiled_lm.prepare(compile_circuit("R0-p(R1,C1)"))
    assert coded is not None and not coded.compiled
    z = _spectra("R0-p(R1,C1)", np.array([10.0, 100.0, 1e-6]), 0.0, 1)[0]
    model = CircuitModel("R0-p(R1,C1)").fit(F, z)
    np.testing.assert_allclose(list(model.params_.values()), [10.0, 100.0, 1e-6], rtol=1e-6)


@pytest.mark.parametrize(("preset", "circuit", "truth"), [
    ("bulk-gb-electrode", "p(R1,CPE1)-p(R2,CPE2)-CPE3",
     [1e4, 2e-11, 0.9, 3e4, 1e-9, 0.8, 1e-6, 0.85]),
    ("hf-intercept-gb-electrode", "L0-R1-p(R2,CPE2)-CPE3",
     [1e-7, 20.0, 500.0, 1e-9, 0.85, 1e-6, 0.8]),
])
def test_batches_take_the_compiled_path_to_the_same_fits(monkeypatch: pytest.MonkeyPatch,
                                                         solve_calls: list[int], preset: str,
                                                         circuit: str,
                                                         truth: list[float]) -> None:
    """fit_spectra on one grid solves its rows (stage 1 and the multi-start stage 2) in the
    compiled row loop and ends where the batched numpy solver does."""
    from eis_pipeline.conventions import make_spectrum
    from eis_pipeline.fitting.batch import fit_spectra

    rng = np.random.default_rng(3)
    base = np.array(truth)
    spectra = []
    for i in range(12):   # varied truths, 2 % noise: some spectra need the other starts
        p = base * np.exp(rng.normal(0, 0.3, base.size) * (base > 1.0))
        z = compile_circuit(circuit).impedance(p, F).ravel()
        z = z + 0.02 * np.abs(z) * (rng.standard_normal(F.size) + 1j * rng.standard_normal(F.size))
        spectra.append(make_spectrum(F, z, sweep=i))
    calls = solve_calls
    fast = fit_spectra(spectra, circuit=preset)
    assert calls and calls[0] == len(spectra)
    monkeypatch.setattr(compiled_lm, "ENABLED", False)
    slow = fit_spectra(spectra, circuit=preset)
    assert len(calls) <= 2   # nothing compiled once disabled
    np.testing.assert_array_equal(fast.status.values, slow.status.values)
    np.testing.assert_allclose(fast.cost.values, slow.cost.values, rtol=1e-9)
    # the same optimum: to 1e-6, or to round-off amplified along poorly determined directions
    # (a thousandth of the standard error; 1e-4 relative where the data fix no value)
    value, stderr = slow.value.values, slow.stderr.values
    diff = np.abs(fast.value.values - value)
    close = diff <= 1e-6 * np.abs(value)
    flat = (slow.undetermined | slow.at_bound).values
    assert np.all(close | (diff <= 1e-3 * np.where(np.isfinite(stderr), stderr, 0.0))
                  | (flat & (diff <= 1e-4 * np.abs(value))))
    assert close.mean() > 0.9


def test_needs_compiling_reads_numba_cache_index(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path) -> None:
    """True exactly when a kernel's cache index is missing (then commands say they compile)."""
    from eis_pipeline.fitting import _lm_kernels

    CircuitModel("R0-p(R1,C1)").fit(F, _spectra("R0-p(R1,C1)", np.array([10.0, 100.0, 1e-6]),
                                                0.0, 1)[0])   # compiled and cached now
    assert compiled_lm.needs_compiling() is False
    cache_file = _lm_kernels.solve_rows._cache._cache_file
    monkeypatch.setattr(cache_file, "_index_path", str(tmp_path / "missing.nbi"))
    assert compiled_lm.needs_compiling() is True
    monkeypatch.setattr(compiled_lm, "ENABLED", False)
    assert compiled_lm.needs_compiling() is False


def test_cli_says_it_compiles(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from click.testing import CliRunner

    from eis_pipeline.cli.main import cli

    z = _spectra("R0-p(R1,C1)", np.array([10.0, 100.0, 1e-6]), 0.0, 1)[0]
    path = tmp_path / "s.csv"
    path.write_text("frequency,z_real,z_imag\n" + "".join(
        f"{fi},{zi.real},{zi.imag}\n" for fi, zi in zip(F, z, strict=True)))
    monkeypatch.setattr(compiled_lm, "needs_compiling", lambda: True)
    result = CliRunner().invoke(cli, ["fit", str(path), "--circuit", "R0-p(R1,C1)"])
    assert result.exit_code == 0, result.output
    assert compiled_lm.COMPILING_NOTE in result.output


def test_mixed_grids_and_padding_take_the_compiled_path(monkeypatch: pytest.MonkeyPatch,
                                                        solve_calls: list[int]) -> None:
    """Spectra on different grids and of different lengths (padded rows): the compiled rows
    read each spectrum's own points and give the numpy solver's fits, padding included."""
    from eis_pipeline.conventions import make_spectrum
    from eis_pipeline.fitting.batch import fit_spectra

    circuit = "p(R1,CPE1)-p(R2,CPE2)-CPE3"
    truth = np.array([1e4, 2e-11, 0.9, 3e4, 1e-9, 0.8, 1e-6, 0.85])
    rng = np.random.default_rng(9)
    spectra = []
    for i, (f_hi, n) in enumerate([(7e6, 69), (5e6, 60), (7.1e6, 69), (1e6, 45), (3e6, 52),
                                   (6e6, 66)]):
        f = np.logspace(np.log10(f_hi), 0, n) * (1 + 1e-4 * rng.standard_normal(n))
        z = compile_circuit(circuit).impedance(truth, f).ravel()
        z = z + 0.005 * np.abs(z) * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
        spectra.append(make_spectrum(f, z, sweep=i))
    calls = solve_calls
    fast = fit_spectra(spectra, circuit="bulk-gb-electrode")
    assert calls
    monkeypatch.setattr(compiled_lm, "ENABLED", False)
    slow = fit_spectra(spectra, circuit="bulk-gb-electrode")
    np.testing.assert_array_equal(fast.status.values, slow.status.values)
    np.testing.assert_allclose(fast.cost.values, slow.cost.values, rtol=1e-9)
    np.testing.assert_allclose(fast.value.values, slow.value.values, rtol=1e-6)
    np.testing.assert_allclose(fast.stderr.values, slow.stderr.values, rtol=1e-4)
    same = np.isfinite(slow.impedance_residual.values)
    np.testing.assert_array_equal(np.isfinite(fast.impedance_residual.values), same)
    np.testing.assert_allclose(fast.impedance_fit.values[same], slow.impedance_fit.values[same],
                               rtol=1e-6)
