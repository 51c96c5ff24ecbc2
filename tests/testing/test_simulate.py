"""The pellet simulator against closed forms, limits and impedance.py; demo data determinism."""

from __future__ import annotations

import filecmp
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from eis_pipeline.conventions import validate_spectrum
from eis_pipeline.testing.simulate import (
    BOLTZMANN_EV_K,
    VACUUM_PERMITTIVITY_F_CM,
    ArrheniusLaw,
    PelletModel,
    add_proportional_noise,
    cpe_impedance,
    log_frequencies,
    pellet_impedance,
    rq_impedance,
    simulate_spectrum,
)

ROOT = Path(__file__).resolve().parents[2]


def model(**kw: float) -> PelletModel:
    return PelletModel(
        thickness_cm=kw.pop("thickness_cm", 0.08), diameter_cm=kw.pop("diameter_cm", 1.0),
        bulk=ArrheniusLaw.from_sigma_at(kw.pop("sigma_b", 1e-4), 0.35),
        grain_boundary=ArrheniusLaw.from_sigma_at(kw.pop("sigma_gb", 2e-4), 0.42),
        **kw,  # type: ignore[arg-type]
    )


def test_low_frequency_limit_is_bulk_plus_gb() -> None:
    m = model()
    p = m.parameters(298.15)
    f = np.array([1e-7])
    z_sample = pellet_impedance(f, p) - cpe_impedance(f, p["CPE3_0"], p["CPE3_1"])
    assert z_sample.real[0] == pytest.approx(p["R1"] + p["R2"], rel=1e-4)
    # and the resistances are the geometry's: R = L / (σ A)  (PHYSICS.md 5)
    assert p["R1"] == pytest.approx(0.08 / (1e-4 * np.pi / 4))


def test_high_frequency_limit_is_the_inductor() -> None:
    p = model(bulk_cpe_exponent=1.0, gb_cpe_exponent=1.0).parameters(298.15)
    f = np.array([1e13])
    z = pellet_impedance(f, p)
    assert z.imag[0] == pytest.approx(2 * np.pi * 1e13 * p["L0"], rel=1e-6)
    assert abs(z.real[0]) < 1e-3 * p["R1"]


@pytest.mark.parametrize("n", [1.0, 0.9, 0.75])
def test_arc_apex_frequency(n: float) -> None:
    r, q = 1e4, 3e-9
    apex = 1 / (2 * np.pi * (r * q) ** (1 / n))
    f = apex * np.logspace(-0.5, 0.5, 20001)
    z = rq_impedance(f, r, q, n)
    assert f[np.argmin(z.imag)] == pytest.approx(apex, rel=1e-3)
    # and at the apex the real part is R/2 (the arc is symmetric in log frequency)
    assert rq_impedance(apex, r, q, n).real == pytest.approx(r / 2)


def test_model_apex_and_effective_capacitance() -> None:
    m = model(bulk_permittivity=25.0, gb_capacitance_ratio=200.0)
    p = m.parameters(260.0)
    for arc, (r, q, n) in {"bulk": ("R1", "CPE1_0", "CPE1_1"),
                           "gb": ("R2", "CPE2_0", "CPE2_1")}.items():
        apex = 1 / (2 * np.pi * (p[r] * p[q]) ** (1 / p[n]))
        assert p[f"{arc}_apex_frequency_Hz"] == pytest.approx(apex)
        # Hsu-Mansfeld C_eff = Q^(1/n) R^((1-n)/n)  (PHYSICS.md 3)
        c_eff = p[q] ** (1 / p[n]) * p[r] ** ((1 - p[n]) / p[n])
        key = "bulk_capacitance_F" if arc == "bulk" else "gb_capacitance_F"
        assert p[key] == pytest.approx(c_eff)
    # ε_r = C_b L / (ε₀ A)  (PHYSICS.md 4)
    eps = p["bulk_capacitance_F"] * m.thickness_cm / (VACUUM_PERMITTIVITY_F_CM * m.area_cm2)
    assert eps == pytest.approx(25.0)
    assert p["gb_capacitance_F"] == pytest.approx(200 * p["bulk_capacitance_F"])


@pytest.mark.filterwarnings("ignore:Simulating circuit:UserWarning")
def test_matches_impedance_py() -> None:
    from impedance.models.circuits import CustomCircuit

    p = model().parameters(310.0)
    names = ["L0", "R1", "CPE1_0", "CPE1_1", "R2", "CPE2_0", "CPE2_1", "CPE3_0", "CPE3_1"]
    circuit = CustomCircuit("L0-p(R1,CPE1)-p(R2,CPE2)-CPE3",
                            initial_guess=[p[k] for k in names])
    f = log_frequencies(7e6, 0.1, 10)
    np.testing.assert_allclose(pellet_impedance(f, p), circuit.predict(f), rtol=1e-12)


def test_arrhenius_sigma_t_form() -> None:
    law = ArrheniusLaw(prefactor_S_K_cm=5e3, activation_energy_eV=0.3)
    t = np.array([250.0, 300.0, 350.0])
    y = np.log(law.conductivity(t) * t)
    slope = np.polyfit(1 / t, y, 1)[0]
    assert -slope * BOLTZMANN_EV_K == pytest.approx(0.3)
    assert ArrheniusLaw.from_sigma_at(4e-3, 0.3).conductivity(298.15) == pytest.approx(4e-3)


def test_noise_is_proportional_and_seeded() -> None:
    z = np.full(20000, 100 - 50j)
    a = add_proportional_noise(z, 0.005, np.random.default_rng(1))
    b = add_proportional_noise(z, 0.005, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    rel = (a - z) / np.abs(z)
    assert np.std(rel.real) == pytest.approx(0.005, rel=0.03)
    assert np.std(rel.imag) == pytest.approx(0.005, rel=0.03)


def test_simulate_spectrum_is_canonical(rng: np.random.Generator) -> None:
    f = log_frequencies(1e6, 1, 10)
    ds = simulate_spectrum(model(), 300.0, f, rng=rng, temperature_jitter_K=0.01)
    validate_spectrum(ds)
    assert ds.sizes["frequency"] == 61 and ds.frequency.values[0] == pytest.approx(1e6)
    assert ds.temperature.values.mean() == pytest.approx(300.0, abs=0.01)
    assert ds.attrs["true_R1"] == pytest.approx(model().parameters(300.0)["R1"])
    with pytest.raises(ValueError, match="rng"):
        simulate_spectrum(model(), 300.0, f)


# --------------------------------------------------------------------------- demo data

def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_sample_data",
                                                  ROOT / "scripts" / "make_sample_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_sample_data", module)
    spec.loader.exec_module(module)
    return module


def all_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_make_sample_data_is_deterministic_and_committed(tmp_path: Path) -> None:
    script = load_script()
    script.make_sample_data(tmp_path / "a")
    script.make_sample_data(tmp_path / "b")
    files = all_files(tmp_path / "a")
    assert files == all_files(tmp_path / "b")
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files, shallow=False)
    assert not mismatch and not errors
    # the committed sample_data/ is what the script makes today
    committed = ROOT / "sample_data"
    if committed.is_dir():
        assert all_files(committed) == files
        _, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", committed, files, shallow=False)
        assert not mismatch and not errors, "run scripts/make_sample_data.py and commit"
    size = sum((tmp_path / "a" / f).stat().st_size for f in files)
    assert size < 1_000_000


def test_ground_truth_is_consistent(tmp_path: Path) -> None:
    truth = load_script().make_sample_data(tmp_path)
    assert json.loads((tmp_path / "ground_truth.json").read_text()) == truth
    sigma = {name: s["sigma_25C_S_cm"]["total"] for name, s in truth["samples"].items()}
    # rises then falls with milling time; 45 min ≈ 4 mS/cm (PHYSICS.md 7)
    assert sigma["mill045"] == pytest.approx(4e-3, rel=0.05)
    assert sigma["mill015"] < sigma["mill045"] > sigma["mill120"] > sigma["mill360"]
    assert 1e-6 < sigma["mill360"] < 1e-5
    for s in truth["samples"].values():
        assert len(s["spectra"]) == 6
        for comp in ("bulk", "grain_boundary"):
            c = s["components"][comp]
            law = ArrheniusLaw(c["prefactor_S_K_cm"], c["activation_energy_eV"])
            assert law.conductivity(298.15) == pytest.approx(s["sigma_25C_S_cm"][comp])
        for spec in s["spectra"]:
            k = s["geometry"]["thickness_mm"] / 10 / s["geometry"]["area_cm2"]
            assert spec["R1"] == pytest.approx(k / spec["bulk_conductivity_S_cm"])
    # the bulk arc leaves the window as T rises; for the 4 mS/cm pellet it is never inside
    resolved = {name: [sp["bulk_arc_resolved"] for sp in s["spectra"]]
                for name, s in truth["samples"].items()}
    assert not any(resolved["mill045"])
    assert resolved["mill120"][0] and not any(resolved["mill120"][2:])
    assert resolved["mill360"][:2] == [True, True] and not resolved["mill360"][-1]
