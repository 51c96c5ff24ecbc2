"""fit_spectra: the fits dataset of docs/contracts.md."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import ConvergenceWarning, SpectrumError
from eis_pipeline.fitting.batch import fit_spectra

pytestmark = pytest.mark.usefixtures("both_solvers")

TRUE = np.array([[2.0e5, 5.0e-12, 0.95, 4.0e5, 2.0e-9, 0.85, 1.0e-6, 0.90],
                 [3.0e4, 2.0e-11, 1.00, 1.0e4, 5.0e-8, 0.75, 3.0e-7, 0.80],
                 [8.0e5, 3.0e-12, 0.90, 2.0e6, 6.0e-10, 0.92, 5.0e-6, 0.95]])


def make_set(lengths=(69, 50, 61)):
    c = compile_circuit("bulk-gb-electrode")
    out = []
    for i, n in enumerate(lengths):
        f = np.logspace(np.log10(7e6), 0, n)
        z = c.impedance(TRUE[i], f)
        out.append(make_spectrum(f, z, sweep=i, temperature=np.full(n, 300.0 + i),
                                 attrs={"source": f"cell{i}.mpt"}))
    return out


def test_schema_matches_contract():
    spectra = make_set()
    ds = fit_spectra(spectra)
    n, p = 3, 8
    assert ds.sizes == {"spectrum": n, "param": p, "param_j": p, "point": 69}
    expected = {
        "value": ("spectrum", "param"), "stderr": ("spectrum", "param"),
        "covariance": ("spectrum", "param", "param_j"),
        "correlation": ("spectrum", "param", "param_j"),
        "param_units": ("param",), "fixed": ("param",), "status": ("spectrum",),
        "converged": ("spectrum",), "message": ("spectrum",), "cost": ("spectrum",),
        "chi_square": ("spectrum",), "reduced_chi_square": ("spectrum",),
        "aic": ("spectrum",), "bic": ("spectrum",), "n_points": ("spectrum",),
        "n_iterations": ("spectrum",), "frequency": ("spectrum", "point"),
        "impedance": ("spectrum", "point"), "impedance_fit": ("spectrum", "point"),
        "impedance_residual": ("spectrum", "point"),
    }
    for name, dims in expected.items():
        assert ds[name].dims == dims, name
    for name in ("spectrum", "param", "param_j", "source", "sweep", "temperature"):
        assert name in ds.coords
    assert ds["impedance"].dtype == np.complex128
    assert ds["status"].dtype.kind == "i" and ds["converged"].dtype == bool
    assert ds["fixed"].dtype == bool and ds["n_points"].dtype.kind == "i"
    assert ds.source.values.tolist() == ["cell0.mpt", "cell1.mpt", "cell2.mpt"]
    assert ds.sweep.values.tolist() == [0, 1, 2]
    np.testing.assert_allclose(ds.temperature.values, [300.0, 301.0, 302.0])
    assert ds.param.values.tolist()[:3] == ["R1", "CPE1_0", "CPE1_1"]
    assert ds.param_units.values.tolist()[:3] == ["ohm", "F s^(n-1)", ""]
    assert ds.attrs["circuit"] == "p(R1,CPE1)-p(R2,CPE2)-CPE3"
    assert ds.attrs["preset"] == "bulk-gb-electrode"
    assert json.loads(ds.attrs["roles"])["bulk"] == {"resistance": "R1", "cpe": "CPE1"}
    assert ds.attrs["bulk_from_intercept"] == 0 and ds.attrs["weighting"] == "modulus"
    # values, padding, fit
    np.testing.assert_allclose(ds.value.values, TRUE, rtol=1e-6)
    assert ds.converged.all() and (ds.status == 0).all()
    assert ds.n_points.values.tolist() == [69, 50, 61]
    assert np.isnan(ds.frequency.values[1, 50:]).all()
    assert np.isnan(ds.impedance_fit.values[1, 50:]).all()
    np.testing.assert_allclose(ds.impedance_fit.values[0], ds.impedance.values[0], rtol=1e-6)
    np.testing.assert_allclose(np.abs(ds.impedance_residual.values[0]), 0, atol=1e-3)


def test_same_answer_as_one_by_one():
    spectra = make_set((69, 69, 69))
    together = fit_spectra(spectra)
    alone = [fit_spectra([s]) for s in spectra]
    for i, a in enumerate(alone):
        np.testing.assert_allclose(together.value.values[i], a.value.values[0], rtol=1e-8)


def test_many_different_grids_take_the_per_row_path():
    c = compile_circuit("R0-p(R1,C1)")
    spectra = []
    for i in range(7):   # more distinct grids than problem.MAX_GROUPS
        f = np.logspace(5 + 0.1 * i, -1, 30 + i)
        spectra.append(make_spectrum(f, c.impedance([10.0 + i, 1e3, 1e-6], f)))
    ds = fit_spectra(spectra, circuit="R0-p(R1,C1)")
    np.testing.assert_allclose(ds.value.sel(param="R0").values, 10.0 + np.arange(7),
                               rtol=1e-8)
    assert np.isnan(ds.impedance_fit.values[0, 30:]).all()


def test_fixed_constants_in_dataset():
    ds = fit_spectra(make_set(), constants={"CPE1_1": 0.95}, bounds={"R1": (1.0, None)})
    assert ds.fixed.sel(param="CPE1_1") and not ds.fixed.sel(param="R1")
    assert (ds.value.sel(param="CPE1_1") == 0.95).all()
    assert (ds.stderr.sel(param="CPE1_1") == 0).all()


def test_errors_ignore_records_failures():
    spectra = make_set()
    bad = make_spectrum([1e3, 1e2], [1 - 1j, 2 - 2j], attrs={"source": "short.mpt"})
    broken = spectra[0].copy()
    broken["impedance"] = broken["impedance"].copy(data=np.full(69, np.nan + 0j))
    with pytest.raises(SpectrumError):
        fit_spectra([*spectra, broken])
    ds = fit_spectra([spectra[0], bad, broken, spectra[1]], errors="ignore")
    assert ds.status.values.tolist() == [0, 4, 4, 0]
    assert "too few" in ds.message.values[1] and "short.mpt" in ds.message.values[1]
    assert "finite" in ds.message.values[2]
    assert np.isnan(ds.value.values[1]).all()
    np.testing.assert_allclose(ds.value.values[3], TRUE[1], rtol=1e-6)


def test_convergence_warning_summarises():
    with pytest.warns(ConvergenceWarning, match="3 of 3 fits"):
        ds = fit_spectra(make_set(), max_nfev=2)
    assert (ds.status == 1).all() and not ds.converged.any()


def test_hf_intercept_preset_attrs():
    c = compile_circuit("hf-intercept-gb-electrode")
    f = np.logspace(6, -1, 71)
    p = [5e-7, 20.0, 3e3, 2e-8, 0.8, 2e-6, 0.85]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = fit_spectra([make_spectrum(f, c.impedance(p, f))],
                         circuit="hf-intercept-gb-electrode")
    assert ds.attrs["bulk_from_intercept"] == 1
    np.testing.assert_allclose(ds.value.values[0], p, rtol=1e-6)


def test_staged_and_all_starts_agree():
    from eis_pipeline.fitting.engine import fit_arrays
    from eis_pipeline.fitting.model import resolve_circuit
    from eis_pipeline.fitting.transforms import ParameterSpace

    r = resolve_circuit("bulk-gb-electrode")
    c = r.compiled
    f = np.logspace(np.log10(7e6), 0, 69)
    rng = np.random.default_rng(3)
    z = c.impedance(TRUE, f)
    z = z + 0.01 * np.abs(z) * (rng.standard_normal(z.shape) + 1j * rng.standard_normal(z.shape))
    space = ParameterSpace.build(c.param_names, c.param_kinds)
    fs = np.broadcast_to(f, z.shape).copy()
    a = fit_arrays(c, fs, z, space=space, roles=r.roles, staged=True)
    b = fit_arrays(c, fs, z, space=space, roles=r.roles, staged=False)
    np.testing.assert_allclose(a.cost, b.cost, rtol=1e-9)
    # the same minimum: each parameter to a thousandth of its standard error (the third
    # spectrum's electrode spike lies below 1 Hz: its Q is undetermined, stderr > 1000 %,
    # and the solver stops anywhere along that flat direction once no step gains 1e-10
    # of the cost), and to 1e-5 where the parameter is determined to better than 10 %
    tol = np.nan_to_num(1e-3 * np.fmax(a.stderr, b.stderr), nan=np.inf)   # NaN: undetermined
    assert np.all(np.abs(a.params - b.params) <= tol + 1e-12 * np.abs(b.params))
    determined = a.stderr < 0.1 * np.abs(a.params)
    np.testing.assert_allclose(a.params[determined], b.params[determined], rtol=1e-5)
    # staging never costs more than solving every start, but for the one evaluation per
    # start that ranks them (where a doubtful first fit makes every start run): the
    # kernel's N_STARTS and, two arcs with roles, the τ search's
    from eis_pipeline.fitting.initial import N_STARTS

    assert np.all(a.nfev <= b.nfev + N_STARTS + 1)
    assert a.nfev[0] < b.nfev[0]   # a clean first fit settles it


def test_errors_ignore_survives_a_non_dataset():
    spectra = make_set()
    ds = fit_spectra([spectra[0], "not a spectrum"], errors="ignore")  # type: ignore[list-item]
    assert ds.status.values.tolist() == [0, 4]
    assert "xarray.Dataset" in ds.message.values[1]
    assert ds.n_points.values.tolist() == [69, 0]


def test_chunked_fit_equals_one_batch(monkeypatch):
    # fit_spectra fits at most FIT_CHUNK spectra at a time (memory). Each chunk has its own
    # longest spectrum (padding, grid grouping), so numbers may differ in the last bits, not
    # more; failures stay put.
    import eis_pipeline.fitting.batch as batch

    rng = np.random.default_rng(5)
    spectra = [ds.assign(impedance=ds["impedance"] * (1 + 0.002 * rng.standard_normal(
        ds.sizes["frequency"]))) for ds in make_set((69, 50, 61)) + make_set((40, 3, 69))]
    whole = fit_spectra(spectra, errors="ignore")
    monkeypatch.setattr(batch, "FIT_CHUNK", 2)
    chunked = fit_spectra(spectra, errors="ignore")
    np.testing.assert_array_equal(chunked["status"].values, whole["status"].values)
    np.testing.assert_array_equal(chunked["message"].values, whole["message"].values)
    assert int(chunked["status"].values[4]) == 4   # the 3-point spectrum: too few points
    for name in ("value", "stderr", "cost", "impedance_fit"):
        np.testing.assert_allclose(chunked[name].values, whole[name].values, rtol=1e-9,
                                   equal_nan=True, err_msg=name)


def test_a_repeated_start_is_neither_ranked_nor_solved(monkeypatch):
    """Starts that coincide exactly (the feature kernel gives one arc's circuits a start
    twice where two alternatives coincide) cost one ranking evaluation and one solve, not
    one each: every start the same gives the single-start fit plus the one evaluation that
    ranks it, and the same point."""
    from eis_pipeline.fitting import engine
    from eis_pipeline.fitting.engine import fit_arrays
    from eis_pipeline.fitting.initial import N_STARTS
    from eis_pipeline.fitting.model import resolve_circuit
    from eis_pipeline.fitting.transforms import ParameterSpace

    r = resolve_circuit("single-arc-electrode")
    c = r.compiled
    f = np.logspace(6, 0, 61)
    start = np.array([8e4, 1e-10, 0.8, 1e-6, 0.8])
    true = np.array([[1e5, 2e-10, 0.9, 2e-6, 0.85]])
    z = c.impedance(true, f)
    z = z * (1 + 0.01 * np.random.default_rng(0).standard_normal(z.shape))
    space = ParameterSpace.build(c.param_names, c.param_kinds)
    single = fit_arrays(c, f[None], z, space=space, roles=r.roles, initial_guess=start)
    monkeypatch.setattr(engine, "initial_guesses",
                        lambda *a, **k: np.broadcast_to(start, (1, N_STARTS, 5)).copy())
    staged = fit_arrays(c, f[None], z, space=space, roles=r.roles)
    assert staged.cost[0] == single.cost[0]
    assert staged.nfev[0] == single.nfev[0] + 1
