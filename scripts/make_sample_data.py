"""Generate the demo campaign in ``sample_data/``: a NaCB11H12 milling series.

Four pellets of one closo-hydroborate electrolyte, ball-milled for 15, 45, 120 and 360 min,
each measured at six temperatures from -20 to 80 °C. The conductivity rises and then falls
with milling time as the material amorphises (PHYSICS.md section 7: ≈ 4 mS/cm at 45 min).
The literature value after 6 h is ≈ 1e-8 S/cm; this demo keeps the 360-min pellet at
≈ 4 µS/cm (25 °C) so that its spectra stay inside a real instrument's range at every
temperature instead of being dominated by the cell's parasitic capacitance.

Spectra come from the physical model of :mod:`eis_pipeline.testing.simulate` (stray L + bulk R‖CPE +
grain-boundary R‖CPE + blocking-electrode CPE, 0.5 % proportional noise). Two pellets are
written as BioLogic EC-Lab ``.mpt`` (7 MHz-1 Hz, temperature in the file name), two as Gamry
``.DTA`` (1 MHz-1 Hz, temperature in the ``Temp`` column), 10 points per decade.

Because the bulk arc's apex sits at ``σ_b / (2π ε_r ε₀)`` whatever the geometry, the bulk arc
of a mS/cm conductor lies above any analyser's range (for mill045 at every temperature);
ground_truth.json records, per spectrum, every true circuit parameter and whether each arc's
apex lies inside the measured window, so a pipeline can be checked where it must fall back to
the high-frequency intercept.

Deterministic: every spectrum draws its noise from its own seeded generator, files carry fixed
dates, so re-running reproduces byte-identical files.

Usage::

    python scripts/make_sample_data.py [--out sample_data]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eis_pipeline.conventions import ZERO_CELSIUS_K
from eis_pipeline.testing.simulate import (
    BOLTZMANN_EV_K,
    ROOM_TEMPERATURE_K,
    ArrheniusLaw,
    PelletModel,
    add_proportional_noise,
    log_frequencies,
    measurement_times,
    pellet_impedance,
)
from eis_pipeline.testing.writers import write_gamry_dta, write_mpt

SEED = 20261121
TEMPERATURES_C = (-20.0, 0.0, 25.0, 40.0, 60.0, 80.0)
POINTS_PER_DECADE = 10
NOISE = 0.005               # 0.5 % of |Z| on Z' and Z''
THEORETICAL_DENSITY_G_CM3 = 1.17   # assumed for NaCB11H12 (demo value, not a reference)
ARC_WINDOW_FACTOR = 2.0     # an arc counts as resolved when its apex is below f_max / 2


@dataclass(frozen=True)
class Pellet:
    """One sample of the series: synthesis, geometry and its material parameters."""

    name: str
    milling_time_min: float
    vendor: str                     # "biologic" (.mpt) or "gamry" (.DTA)
    sigma_bulk_25C_S_cm: float
    ea_bulk_eV: float
    gb_to_bulk_resistance_25C: float
    ea_gb_eV: float
    bulk_permittivity: float
    gb_capacitance_ratio: float
    thickness_mm: float
    diameter_mm: float
    relative_density: float
    electrode_q: float
    electrode_n: float


PELLETS = (
    Pellet("mill015", 15, "gamry", 3.0e-4, 0.34, 0.60, 0.40, 32, 400, 0.82, 10.00, 0.86,
           2.2e-6, 0.86),
    Pellet("mill045", 45, "biologic", 5.2e-3, 0.24, 0.30, 0.30, 35, 400, 0.64, 10.02, 0.91,
           2.8e-6, 0.88),
    Pellet("mill120", 120, "biologic", 5.0e-4, 0.33, 0.50, 0.38, 40, 400, 0.71, 9.98, 0.89,
           2.5e-6, 0.85),
    Pellet("mill360", 360, "gamry", 8.0e-6, 0.46, 1.20, 0.52, 25, 300, 0.93, 10.01, 0.84,
           1.6e-6, 0.83),
)

INSTRUMENT = {
    "biologic": {"f_max_hz": 7e6, "inductance_H": 4.5e-7, "suffix": ".mpt"},
    "gamry": {"f_max_hz": 1e6, "inductance_H": 2.5e-7, "suffix": ".DTA"},
}
F_MIN_HZ = 1.0
SYNTHESIS = {"milling_speed_rpm": 500.0, "ball_to_powder_ratio": 30.0, "jar_material": "ZrO2",
             "ball_material": "ZrO2", "ball_diameter_mm": 5.0, "atmosphere": "Ar"}


def pellet_model(p: Pellet) -> PelletModel:
    """The physical model of pellet ``p`` (PHYSICS.md sections 2-6)."""
    bulk = ArrheniusLaw.from_sigma_at(p.sigma_bulk_25C_S_cm, p.ea_bulk_eV)
    # R_gb = ratio · R_b at 25 °C  <=>  macroscopic σ_gb = σ_b / ratio
    gb = ArrheniusLaw.from_sigma_at(p.sigma_bulk_25C_S_cm / p.gb_to_bulk_resistance_25C,
                                    p.ea_gb_eV)
    return PelletModel(
        thickness_cm=p.thickness_mm / 10, diameter_cm=p.diameter_mm / 10, bulk=bulk,
        grain_boundary=gb, bulk_permittivity=p.bulk_permittivity,
        gb_capacitance_ratio=p.gb_capacitance_ratio, electrode_q=p.electrode_q,
        electrode_cpe_exponent=p.electrode_n,
        inductance_H=INSTRUMENT[p.vendor]["inductance_H"],
    )


def file_name(p: Pellet, index: int, celsius: float) -> str:
    """``mill045min/mill045_-20C.mpt`` (temperature in the name) or
    ``mill015min/mill015_run03.DTA`` (temperature only in the file's Temp column)."""
    folder = f"{p.name}min"
    if p.vendor == "biologic":
        return f"{folder}/{p.name}_{celsius:.0f}C.mpt"
    return f"{folder}/{p.name}_run{index + 1:02d}.DTA"


def _seed(sample_index: int, temperature_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([SEED, sample_index, temperature_index]))


def _spectrum_truth(params: dict[str, float], f_max: float) -> dict[str, Any]:
    truth: dict[str, Any] = {k: float(v) for k, v in params.items()}
    truth["temperature_celsius"] = round(params["temperature_K"] - ZERO_CELSIUS_K, 10)
    for arc in ("bulk", "gb"):
        apex = params[f"{arc}_apex_frequency_Hz"]
        truth[f"{arc}_arc_resolved"] = bool(F_MIN_HZ < apex < f_max / ARC_WINDOW_FACTOR)
        # > 1: the apex lies above the range, yet up to ~10 the arc's foot still bends the data
        truth[f"{arc}_apex_over_f_max"] = apex / f_max
    return truth


def write_pellet(out: Path, p: Pellet, sample_index: int) -> dict[str, Any]:
    """Write every spectrum of one pellet; return its ground truth."""
    model = pellet_model(p)
    inst = INSTRUMENT[p.vendor]
    f = log_frequencies(inst["f_max_hz"], F_MIN_HZ, POINTS_PER_DECADE)
    area_cm2 = model.area_cm2
    spectra = []
    for ti, celsius in enumerate(TEMPERATURES_C):
        t_k = celsius + ZERO_CELSIUS_K
        params = model.parameters(t_k)
        rng = _seed(sample_index, ti)
        z = add_proportional_noise(pellet_impedance(f, params), NOISE, rng)
        times = measurement_times(f)
        name = file_name(p, ti, celsius)
        if p.vendor == "biologic":
            write_mpt(out / name, f, z, time_s=times, points_per_decade=POINTS_PER_DECADE,
                      area_cm2=area_cm2, acquisition_start=f"21/11/2026 {8 + 2 * ti:02d}:00:00",
                      comments=f"NaCB11H12 milled {p.milling_time_min:.0f} min, pellet "
                               f"{p.thickness_mm:.2f} mm, Au blocking electrodes")
        else:
            # The chamber holds the set point within a few hundredths of a kelvin.
            temp_c = celsius + 0.02 * rng.standard_normal(f.shape)
            write_gamry_dta(out / name, f, z, temp_c, time_s=times,
                            points_per_decade=POINTS_PER_DECADE, area_cm2=area_cm2,
                            time_of_day=f"{8 + 2 * ti:02d}:00:00",
                            notes=[f"NaCB11H12 milled {p.milling_time_min:.0f} min",
                                   "Au blocking electrodes, climate chamber"])
        spectra.append({"file": name, **_spectrum_truth(params, inst["f_max_hz"])})

    def component(law: ArrheniusLaw) -> dict[str, float]:
        return {"activation_energy_eV": law.activation_energy_eV,
                "prefactor_S_K_cm": law.prefactor_S_K_cm,
                "sigma_25C_S_cm": float(law.conductivity(ROOM_TEMPERATURE_K))}

    at25 = model.parameters(ROOM_TEMPERATURE_K)
    mass_mg = p.relative_density * THEORETICAL_DENSITY_G_CM3 * area_cm2 * model.thickness_cm * 1e3
    return {
        "format": "biologic-mpt" if p.vendor == "biologic" else "gamry-dta",
        "temperature_source": "filename" if p.vendor == "biologic" else "column",
        "frequency_range_hz": [F_MIN_HZ, inst["f_max_hz"]],
        "geometry": {"thickness_mm": p.thickness_mm, "diameter_mm": p.diameter_mm,
                     "area_cm2": area_cm2, "mass_mg": round(mass_mg, 2),
                     "theoretical_density_g_cm3": THEORETICAL_DENSITY_G_CM3,
                     "relative_density": p.relative_density},
        "synthesis": {"milling_time_min": p.milling_time_min, **SYNTHESIS},
        "model": {"bulk_permittivity": p.bulk_permittivity,
                  "gb_capacitance_ratio": p.gb_capacitance_ratio,
                  "inductance_H": model.inductance_H},
        "arrhenius_form": "sigma_T",
        "components": {"bulk": component(model.bulk),
                       "grain_boundary": component(model.grain_boundary)},
        "sigma_25C_S_cm": {"bulk": at25["bulk_conductivity_S_cm"],
                           "grain_boundary": at25["gb_conductivity_S_cm"],
                           "total": at25["total_conductivity_S_cm"]},
        "spectra": spectra,
    }


def make_sample_data(out: str | Path) -> dict[str, Any]:
    """Write the whole demo campaign into ``out``; return the ground truth (also written to
    ``out/ground_truth.json``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    truth: dict[str, Any] = {
        "description": "NaCB11H12 milling series (synthetic); see scripts/make_sample_data.py",
        "generator": "scripts/make_sample_data.py",
        "seed": SEED,
        "noise_relative": NOISE,
        "boltzmann_eV_K": BOLTZMANN_EV_K,
        "circuit": "L0-p(R1,CPE1)-p(R2,CPE2)-CPE3",
        "roles": {"inductance": {"inductor": "L0"},
                  "bulk": {"resistance": "R1", "cpe": "CPE1"},
                  "grain_boundary": {"resistance": "R2", "cpe": "CPE2"},
                  "electrode": {"cpe": "CPE3"}},
        "arc_resolved_rule": f"{F_MIN_HZ} Hz < apex frequency < f_max / {ARC_WINDOW_FACTOR}",
        "samples": {p.name: write_pellet(out, p, i) for i, p in enumerate(PELLETS)},
    }
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    (out / "README.md").write_text(readme(truth), encoding="utf-8")
    return truth


def readme(truth: dict[str, Any]) -> str:
    """A short description of the generated campaign, with its true values."""
    lines = [
        "# Demo campaign: NaCB11H12 milling series (synthetic)",
        "",
        "Generated by `python scripts/make_sample_data.py` (deterministic; do not edit by hand).",
        "Spectra of the physical pellet model in `eis_pipeline.testing.simulate` "
        f"(`{truth['circuit']}`, {truth['noise_relative']:.1%} proportional noise), written as",
        "real BioLogic EC-Lab `.mpt` (temperature in the file name) and Gamry `.DTA`",
        "(temperature in the `Temp` column) files. `ground_truth.json` holds every true value:",
        "per sample E_a and σ₀ (σT form) of bulk and grain boundary, σ(25 °C), and per spectrum",
        "all circuit parameters, effective capacitances and arc apex frequencies.",
        "The config for this folder is `configs/example.toml`.",
        "",
        "The literature σ of NaCB11H12 after 6 h of milling is ≈ 1e-8 S/cm; the 360-min pellet",
        "here is kept at a few µS/cm so that it stays measurable over the whole range.",
        "",
        "| sample | milling (min) | format | σ25 bulk (S/cm) | σ25 gb (S/cm) | σ25 total (S/cm) "
        "| E_a bulk (eV) | E_a gb (eV) | bulk arc resolved at |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in truth["samples"].items():
        sig, comp = s["sigma_25C_S_cm"], s["components"]
        resolved = [f"{sp['temperature_celsius']:.0f}" for sp in s["spectra"]
                    if sp["bulk_arc_resolved"]]
        lines.append(
            f"| {name} | {s['synthesis']['milling_time_min']:.0f} | {s['format']} "
            f"| {sig['bulk']:.3g} | {sig['grain_boundary']:.3g} | {sig['total']:.3g} "
            f"| {comp['bulk']['activation_energy_eV']:.2f} "
            f"| {comp['grain_boundary']['activation_energy_eV']:.2f} "
            f"| {', '.join(resolved) + ' °C' if resolved else 'never (use the intercept)'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "sample_data"),
                        help="output folder (default: sample_data/ of the project)")
    args = parser.parse_args(argv)
    truth = make_sample_data(args.out)
    for name, sample in truth["samples"].items():
        s = sample["sigma_25C_S_cm"]
        print(f"{name}: {len(sample['spectra'])} spectra ({sample['format']}), σ25 bulk "
              f"{s['bulk']:.3g}, gb {s['grain_boundary']:.3g}, total {s['total']:.3g} S/cm")


if __name__ == "__main__":
    main()
