"""Detection and extent of the blocking-electrode spike."""

from __future__ import annotations

import numpy as np
import pytest

from eis_pipeline.validation.spike import has_capacitive_tail, spike_exponent, spike_mask
from tests.validation import synthetic as syn


@pytest.fixture
def frequency() -> np.ndarray:
    return syn.sweep(1e7, 0.1)


def test_tail_detected_only_with_electrode(frequency):
    assert has_capacitive_tail(frequency, syn.two_arcs_and_spike(frequency))
    assert not has_capacitive_tail(frequency, syn.two_arcs_and_spike(frequency, electrode=False))
    # An arc cut off at its apex stays above -45° once the series resistance is added.
    assert not has_capacitive_tail(frequency, 10 + syn.r_cpe(frequency, 1000, 1.0, 1.0))


def test_spike_mask_drops_from_the_minimum_of_minus_z_imag_down(frequency):
    z = syn.two_arcs_and_spike(frequency)
    keep = spike_mask(frequency, z)
    dropped, kept = frequency[~keep], frequency[keep]
    assert dropped.size > 0 and dropped.max() < kept.min()
    # The lowest kept point is the valley between the grain-boundary arc and the spike.
    valley = kept.min()
    neighbours = -z.imag[np.argsort(np.abs(np.log(frequency / valley)))[:3]]
    assert -z.imag[frequency == valley][0] == neighbours.min()
    assert spike_mask(frequency, syn.two_arcs_and_spike(frequency, electrode=False)).all()


def test_spike_exponent_without_capacitive_points_is_one(frequency):
    z = syn.two_arcs_and_spike(frequency, electrode=False).real + 0j  # no imaginary part
    assert spike_exponent(frequency, z) == 1.0
