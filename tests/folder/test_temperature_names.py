"""Temperatures written in file and folder names, as labs write them."""

from __future__ import annotations

import pytest

from eis_pipeline.folder import implausible_temperature, temperature_from_name

C = 273.15


@pytest.mark.parametrize(("name", "celsius"), [
    ("LLZO_25C", 25), ("LLZO_-20C", -20), ("pellet_25°C_run1", 25), ("x_25 °C", 25),
    ("s05751_25deg", 25), ("a_140deg", 140), ("b_-20degC", -20), ("c_25degc", 25),
    ("d_25oC", 25), ("e_25p5C", 25.5), ("f_25.5C", 25.5), ("g_25,5C", 25.5),
    ("T25", 25), ("run_T_60", 60), ("T=80", 80), ("T25C", 25), ("sample_RT", 25),
    ("RT_sample2", 25), ("25C", 25), ("-40C", -40), ("mill045min_80C", 80),
    ("LPS-20C", 20),  # a hyphen after a letter separates; it is not a minus sign
    ("LPS_-20C", -20),
])
def test_celsius_names(name, celsius):
    kelvin, reason = temperature_from_name(name)
    assert kelvin == pytest.approx(celsius + C)
    assert reason


@pytest.mark.parametrize(("name", "kelvin"), [("cell_298K", 298), ("cell_298.15K", 298.15),
                                              ("T300K", 300)])
def test_kelvin_names(name, kelvin):
    assert temperature_from_name(name)[0] == pytest.approx(kelvin)


@pytest.mark.parametrize("name", ["pellet_mill045min", "scan_10kHz_1MHz", "run01", "LPSCl",
                                  "5mV_amplitude", "sample12", "ART", "PORT_3", "batch2C3"])
def test_names_without_temperature(name):
    kelvin, reason = temperature_from_name(name)
    assert kelvin is None, reason


def test_two_different_temperatures_are_ambiguous():
    kelvin, reason = temperature_from_name("annealed_400C_measured_25C")
    assert kelvin is None and "ambiguous" in reason and "400C" in reason


def test_same_temperature_twice_is_fine():
    assert temperature_from_name("25C_298.15K")[0] == pytest.approx(298.15)


def test_linear_time_on_long_names():
    import time

    name = "1" * 20000 + "x" + "-" * 20000 + "T" * 20000
    start = time.perf_counter()
    temperature_from_name(name)
    assert time.perf_counter() - start < 1.0


def test_plausibility():
    assert implausible_temperature(25 + C) is None
    assert implausible_temperature(-196 + C) is not None  # liquid nitrogen: below the range
    warning = implausible_temperature(1395 + C)
    assert warning is not None and "1395" in warning
