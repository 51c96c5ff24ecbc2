import warnings

import numpy as np
import pytest

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.conventions import make_spectrum
from eis_pipeline.fitting.batch import fit_spectra, undetermined

pytestmark = pytest.mark.usefixtures("both_solvers")


def test_undetermined_flags_nan_or_oversized_errors_only():
    value = np.array([[1.0, 2.0, 3.0, 4.0]])
    stderr = np.array([[0.1, np.nan, 5.0, 0.0]])
    fixed = np.array([False, False, False, True])
    np.testing.assert_array_equal(undetermined(value, stderr, fixed),
                                  [[False, True, True, False]])


def test_degenerate_parameters_are_flagged(rng):
    f = np.logspace(3, 0, 31)
    # Two resistors in series: only their sum is known, never the split.
    z = compile_circuit("R0-CPE1").impedance(np.array([150.0, 1e-5, 0.9]), f)
    z = z * (1 + 0.002 * (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = fit_spectra([make_spectrum(f, z)], circuit="R0-R1-CPE2")
    flags = dict(zip(fits.param.values, fits.undetermined.values[0], strict=True))
    assert flags["R0"] and flags["R1"]
    assert not flags["CPE2_0"] and not flags["CPE2_1"]
