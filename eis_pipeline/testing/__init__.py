"""Tools for testing and demonstrating eis_pipeline (as :mod:`xarray.testing`): a pellet
simulator with known ground truth (:mod:`.simulate`) and writers of two real vendor formats
(:mod:`.writers`) to build synthetic campaigns. Not used by the analysis itself."""

from eis_pipeline.testing.simulate import (
    ArrheniusLaw,
    PelletModel,
    add_proportional_noise,
    cpe_impedance,
    log_frequencies,
    measurement_times,
    pellet_impedance,
    rq_impedance,
    simulate_spectrum,
)
from eis_pipeline.testing.writers import write_gamry_dta, write_mpt

__all__ = [
    "ArrheniusLaw",
    "PelletModel",
    "add_proportional_noise",
    "cpe_impedance",
    "log_frequencies",
    "measurement_times",
    "pellet_impedance",
    "rq_impedance",
    "simulate_spectrum",
    "write_gamry_dta",
    "write_mpt",
]
