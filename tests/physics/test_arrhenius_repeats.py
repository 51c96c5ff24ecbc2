"""Arrhenius fits of series holding repeated temperatures: two pellets measured at the same
temperatures, whose thermocouple readings differ by millikelvin (issue 10: a sample of two
pellets ended in ``OverflowError: math range error``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eis_pipeline.physics.arrhenius import BOLTZMANN_EV_PER_K, arrhenius

T = np.array([253.15, 273.15, 298.15, 313.15, 333.15, 353.15])


def _sigma(t: np.ndarray, ea: float, scale: float) -> np.ndarray:
    return np.asarray(scale / t * np.exp(-ea / (BOLTZMANN_EV_PER_K * t)))


# The series the random search found: 4 temperatures, each measured twice 0.00005 K apart
# with conductivities orders of magnitude apart (it overflowed exp(ln σ0) in the report).
FOUND_T = np.array([243.24783248, 243.24788035, 293.54942425, 293.54943935, 484.59480053,
                    484.59483649, 485.1391108, 485.1391506])
FOUND_S = np.array([3.19967168e-02, 7.52633875e-11, 8.42796283e-09, 4.40130850e-07,
                    6.20402647e-06, 7.05299165e-10, 4.70312765e-09, 5.37428628e+01])


@pytest.mark.parametrize("breakpoints", ["auto", 1])
def test_found_overflow_series_gives_a_result_not_an_exception(breakpoints) -> None:
    res = arrhenius(FOUND_T, FOUND_S, breakpoints=breakpoints)
    assert np.all(np.isfinite(res["activation_energy"].values))
    # 484.59 and 485.14 K are 0.54 K apart: distinct, but a segment needs two temperatures
    # on each side, so at most one split, never between the repeats of one temperature.
    assert res.attrs["model"] in ("line", "jump", "continuous")


@pytest.mark.parametrize("jitter_K", [0.0, 1e-6, 0.03, 0.3])
@pytest.mark.parametrize("breakpoints", ["auto", 1])
def test_two_pellets_at_the_same_temperatures(jitter_K, breakpoints) -> None:
    rng = np.random.default_rng(4)
    t = np.concatenate([T, T + jitter_K * rng.choice([-1.0, 1.0], T.size)])
    s = np.concatenate([_sigma(T, 0.30, 1e5), _sigma(T, 0.50, 3e7)])
    res = arrhenius(t, s, breakpoints=breakpoints)
    assert np.all(np.isfinite(res["activation_energy"].values))
    assert np.all(np.isfinite(res["prefactor"].values))
    assert math.isfinite(float(res["sigma_25C"]))
    if res.attrs["model"] != "line":   # a split lies between two measured temperatures
        lo, hi = float(res["breakpoint_temperature_low"]), float(res["breakpoint_temperature_high"])
        assert hi - lo > 0.5 + 2 * jitter_K


def test_temperatures_within_half_a_kelvin_count_as_one() -> None:
    res = arrhenius([300.0, 300.2, 300.4], [1e-3, 2e-3, 3e-3])
    assert res.attrs["model"] == "none" and "all temperatures are equal" in res.attrs["reason"]


def test_a_segment_at_one_temperature_is_not_fitted() -> None:
    # 3 points per side, but the cold side is one temperature measured three times
    t = [250.0, 250.001, 250.002, 300.0, 320.0, 340.0]
    s = [1e-6, 3e-6, 1e-5, *_sigma(np.array([300.0, 320.0, 340.0]), 0.4, 1e5)]
    res = arrhenius(t, s, breakpoint_K=275.0, breakpoints=1)
    assert res.attrs["model"] == "line" and "one temperature" in res.attrs["reason"]


def test_a_prefactor_beyond_the_float_range_is_inf_not_an_error() -> None:
    # E_a = 30 eV and ln σ0 = 800, beyond exp's range (709); σ itself is in range
    res = arrhenius(T, np.exp(800.0 - 30.0 / (BOLTZMANN_EV_PER_K * T)) / T, breakpoints=0)
    assert float(res["activation_energy"][0]) == pytest.approx(30.0, rel=1e-9)
    assert math.isinf(float(res["prefactor"][0]))
