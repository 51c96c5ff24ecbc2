"""Model selection: candidate presets fitted and compared by BIC/AIC per spectrum."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from eis_pipeline.conventions import make_spectrum
from eis_pipeline.exceptions import FitError
from eis_pipeline.fitting import CircuitModel, fit_spectra
from eis_pipeline.fitting.selection import (
    DEFAULT_CANDIDATES,
    SIGNIFICANT_DELTA,
    choose,
    chosen_fits,
    fits_by_circuit,
    select_circuit,
)
from eis_pipeline.testing.simulate import add_proportional_noise, log_frequencies, pellet_impedance

F = log_frequencies(7e6, 1.0, 10)   # 69 points, a BioLogic-like window


def _params(*, r_b: float, c_b: float, r_gb: float, c_gb: float, inductance_h: float,
            n_b: float = 0.95, n_gb: float = 0.85) -> dict[str, float]:
    """Simulator parameters from R and effective C per arc (Q = C^n R^(n-1), PHYSICS.md 3)."""
    return {"L0": inductance_h,
            "R1": r_b, "CPE1_0": c_b**n_b * r_b ** (n_b - 1), "CPE1_1": n_b,
            "R2": r_gb, "CPE2_0": c_gb**n_gb * r_gb ** (n_gb - 1), "CPE2_1": n_gb,
            "CPE3_0": 2e-6, "CPE3_1": 0.88}


def _apex_hz(r: float, c: float) -> float:
    return 1.0 / (2 * np.pi * r * c)


#: name -> (parameters, presets acceptable as the choice)
CASES = {
    # bulk apex 2 MHz and gb apex 1.6 kHz inside the window, no stray inductance
    "two_arcs": (_params(r_b=4000, c_b=2e-11, r_gb=5000, c_gb=2e-8, inductance_h=0.0),
                 {"bulk-gb-electrode"}),
    # the same with 2 µH of cable inductance: ωL = 88 ohm at 7 MHz, ~10 % of |Z| there
    "two_arcs_inductance": (_params(r_b=2000, c_b=2e-11, r_gb=3000, c_gb=2e-8,
                                    inductance_h=2e-6),
                            {"bulk-gb-electrode-inductance"}),
    # bulk apex 8 GHz (> 1000x f_max): R_bulk is a series resistance; gb apex 8 kHz. (With
    # the apex only 60x above f_max, the bulk arc's tail is still ~2 % of Z'' at 7 MHz here,
    # which BIC rightly detects at 0.5 % noise.)
    "bulk_above_window": (_params(r_b=100, c_b=2e-13, r_gb=1000, c_gb=2e-8, inductance_h=0.0),
                          {"hf-intercept-gb-electrode-no-inductance"}),
    "bulk_above_window_inductance": (_params(r_b=50, c_b=8e-12, r_gb=300, c_gb=5e-8,
                                             inductance_h=1e-6),
                                     {"hf-intercept-gb-electrode"}),
}


@pytest.fixture(scope="module")
def spectra() -> list[xr.Dataset]:
    rng = np.random.default_rng(20261122)
    out = []
    for name, (params, _) in CASES.items():
        z = add_proportional_noise(pellet_impedance(F, params), 0.005, rng)
        out.append(make_spectrum(F, z, attrs={"source": name}))
    return out


@pytest.fixture(scope="module")
def selection(spectra):
    return select_circuit(spectra)


def test_cases_are_what_they_claim():
    # the windows the cases are built for (independent of the fitter)
    p = CASES["two_arcs"][0]
    assert 1 < _apex_hz(p["R1"], 2e-11) < 7e6 / 2 and 1 < _apex_hz(p["R2"], 2e-8) < 7e6 / 2
    p = CASES["bulk_above_window"][0]
    assert _apex_hz(p["R1"], 2e-13) > 1000 * 7e6
    p = CASES["bulk_above_window_inductance"][0]
    assert _apex_hz(p["R1"], 8e-12) > 50 * 7e6


@pytest.mark.parametrize("index", range(len(CASES)))
def test_chooses_the_generating_structure(selection, index):
    name, (_, expected) = list(CASES.items())[index]
    assert selection.chosen[index] in expected, (name, selection.table(index))
    assert selection.selection_converged[index]


def test_evidence_dataset(selection, spectra):
    ev = selection.evidence
    assert ev.sizes == {"spectrum": len(spectra), "candidate": len(DEFAULT_CANDIDATES)}
    assert list(ev.candidate.values) == list(DEFAULT_CANDIDATES)
    assert list(ev.source.values) == list(CASES)
    # k per candidate: 8, 9, 7, 6, 5, 6 free parameters
    assert ev.n_params.values.tolist() == [8, 9, 7, 6, 5, 6]
    assert ev.arcs.values.tolist() == [2, 2, 1, 1, 1, 1]
    for i, chosen in enumerate(selection.chosen):
        row = ev.isel(spectrum=i)
        j = DEFAULT_CANDIDATES.index(chosen)
        assert str(row.chosen.values) == chosen
        # Δ is relative to the lowest eligible BIC; the chosen one is within 2 of it
        assert np.nanmin(row.delta.values) == 0.0
        assert row.delta.values[j] < SIGNIFICANT_DELTA
        ok = row.converged.values
        np.testing.assert_allclose(row.delta.values[ok],
                                   row.bic.values[ok] - row.bic.values[ok].min())
        assert np.isnan(row.delta.values[~ok]).all()
        assert np.nansum(row.weight.values) == pytest.approx(1.0)
    # the criterion agrees with the candidate's own fits dataset
    for j, c in enumerate(DEFAULT_CANDIDATES):
        np.testing.assert_array_equal(ev.bic.values[:, j], selection.fits[c].bic.values)
    # DRT, independent of the fits, sees two arcs where both are in the window
    assert ev.drt_arcs.values[0] == 2
    assert ev.drt_arcs.values[2] == 1


def test_table_marks_the_choice(selection):
    text = selection.table(2)
    assert "ΔBIC" in text
    marked = [line for line in text.splitlines() if line.startswith("*")]
    assert len(marked) == 1 and selection.chosen[2] in marked[0]


def test_fits_by_circuit_keeps_positions(selection, spectra):
    groups = fits_by_circuit(selection)
    assert set(groups) == set(selection.chosen)
    positions = np.sort(np.concatenate([g.spectrum.values for g in groups.values()]))
    np.testing.assert_array_equal(positions, np.arange(len(spectra)))
    for preset, fits in groups.items():
        assert fits.attrs["preset"] == preset
        for k in fits.spectrum.values:
            assert selection.chosen[int(k)] == preset
            assert str(fits.source.sel(spectrum=k).values) == spectra[int(k)].attrs["source"]
    # per-group values put back in input order by the spectrum coordinate
    r1 = xr.concat([g.value.sel(param="R1") for g in groups.values()], dim="spectrum")
    r1 = r1.sortby("spectrum")
    for i, chosen in enumerate(selection.chosen):
        assert float(r1.values[i]) == float(
            selection.fits[chosen].value.sel(param="R1").values[i])


def test_aic_criterion_and_candidate_subset(spectra):
    result = select_circuit(spectra[:1], candidates=["single-arc-electrode",
                                                     "bulk-gb-electrode"],
                            criterion="aic", drt=False)
    assert result.chosen == ("bulk-gb-electrode",)
    assert result.criterion == "aic" and "drt_arcs" not in result.evidence
    assert result.evidence.attrs["criterion"] == "aic"


def test_choose_rule_on_arrays():
    k = np.array([5, 6, 8])
    conv = np.ones((5, 3), dtype=bool)
    values = np.array([
        [-100.0, -101.5, -101.9],  # all within 2 of the best: fewest parameters wins
        [-100.0, -103.0, -101.5],  # 6-parameter model significantly better than 5; 8 ties 6
        [-100.0, -101.0, -110.0],  # the richest model is significantly better
        [-100.0, -120.0, -130.0],  # best not converged (set below): next best converged one
        [np.nan, np.nan, np.nan],  # every fit failed
    ])
    conv[3, 2] = False
    chosen, eligible, ok = choose(values, conv, k)
    assert chosen.tolist() == [0, 1, 2, 1, -1]
    assert ok.tolist() == [True, True, True, True, False]
    assert not eligible[3, 2] and not eligible[4].any()
    # with nothing converged, fall back to the best finite fit and say so
    chosen, eligible, ok = choose(values[2:3], np.zeros((1, 3), dtype=bool), k)
    assert chosen.tolist() == [2] and ok.tolist() == [False] and eligible.all()


def test_failed_spectrum_does_not_stop_the_others(spectra):
    tiny = make_spectrum(F[:2], pellet_impedance(F[:2], CASES["two_arcs"][0]),
                         attrs={"source": "tiny"})
    result = select_circuit([tiny, spectra[0]], drt=True)
    assert result.chosen[0] == "" and not result.selection_converged[0]
    assert result.chosen[1] == "bulk-gb-electrode"
    assert int(result.evidence.drt_arcs.values[0]) == -1
    assert 0 not in np.concatenate([g.spectrum.values for g in fits_by_circuit(result).values()])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"criterion": "r2"}, "criterion"),
    ({"candidates": []}, "at least one"),
    ({"candidates": ["bulk-gb-electrode", "bulk-gb-electrode"]}, "duplicate"),
])
def test_bad_arguments(spectra, kwargs, match):
    with pytest.raises(FitError, match=match):
        select_circuit(spectra[:1], **kwargs)


def test_auto_is_not_a_circuit(spectra):
    with pytest.raises(FitError, match="select_circuit"):
        CircuitModel("auto").fit(spectra[0].frequency.values, spectra[0].impedance.values)
    with pytest.raises(FitError, match="select_circuit"):
        fit_spectra(spectra[:1], circuit="auto")


def test_sample_data_choices_follow_the_ground_truth():
    # the demo campaign records where each arc's apex lies relative to f_max
    from eis_pipeline import read_spectra

    root = Path(__file__).resolve().parents[2] / "sample_data"
    truth_file = root / "ground_truth.json"
    if not truth_file.exists():
        pytest.skip("sample_data/ not present")
    truth = json.loads(truth_file.read_text())
    rows = [s for sample in truth["samples"].values() for s in sample["spectra"]]
    far = [s for s in rows if s["bulk_apex_over_f_max"] > 50 and s["gb_apex_over_f_max"] < 0.7]
    inside = [s for s in rows if s["bulk_apex_over_f_max"] < 0.5]
    assert far and inside
    picked = far[:2] + inside[:2]
    spectra = [read_spectra(root / s["file"])[0] for s in picked]
    result = select_circuit(spectra, drt=False)
    assert all(c.startswith("hf-intercept") for c in result.chosen[:2]), result.chosen
    assert all(c.startswith("bulk-gb") for c in result.chosen[2:]), result.chosen


def test_chosen_fits_follow_the_choice(selection, spectra):
    chosen = chosen_fits(selection)
    assert "param" not in chosen.dims and chosen.sizes["spectrum"] == len(spectra)
    assert list(chosen.preset.values) == list(selection.chosen)
    for i, preset in enumerate(selection.chosen):
        own = selection.fits[preset].isel(spectrum=i)
        assert float(chosen.bic[i]) == float(own.bic)
        np.testing.assert_array_equal(chosen.impedance_fit.values[i], own.impedance_fit.values)
        assert str(chosen.message.values[i]) == str(own.message.values)
    assert list(chosen.source.values) == list(CASES)
    # the candidates' own datasets are not modified by the grouping helpers
    fits_by_circuit(selection)
    assert all("selection_criterion" not in f.attrs for f in selection.fits.values())


def test_precomputed_drts_are_used_as_given(selection, spectra, monkeypatch):
    # the campaign pipeline computes each DRT once and hands it over: selection must then
    # give the same result without solving a DRT again
    import eis_pipeline.validation.drt as drt_module
    import eis_pipeline.validation.tables as tables
    from eis_pipeline.validation.tables import compute_drts

    drts = compute_drts(spectra)

    def no_drt(*args, **kwargs):
        raise AssertionError("select_circuit recomputed a DRT it was given")

    # every DRT goes through drt_batch (drt is a batch of one; compute_drts calls it)
    monkeypatch.setattr(drt_module, "drt_batch", no_drt)
    monkeypatch.setattr(tables, "drt_batch", no_drt)
    given = select_circuit(spectra, drts=drts)
    assert given.chosen == selection.chosen
    xr.testing.assert_identical(given.evidence, selection.evidence)
    for name, fits in selection.fits.items():
        xr.testing.assert_identical(given.fits[name], fits)


def test_precomputed_drts_need_one_per_spectrum(spectra):
    with pytest.raises(FitError, match="one per spectrum"):
        select_circuit(spectra[:2], drts=[None])
