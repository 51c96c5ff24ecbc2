"""Batched equivalent-circuit fitting: solver, starting points, statistics, estimators.

>>> from eis_pipeline.fitting import CircuitModel, fit_spectra   # doctest: +SKIP

Modules: :mod:`~eis_pipeline.fitting.solver` (batched Levenberg–Marquardt),
:mod:`~eis_pipeline.fitting.transforms` (log/bounded coordinates, constants),
:mod:`~eis_pipeline.fitting.initial` (starting points from the data),
:mod:`~eis_pipeline.fitting.statistics` (covariance, χ², AIC, BIC),
:mod:`~eis_pipeline.fitting.engine` (weighting, multi-start, arc order),
:mod:`~eis_pipeline.fitting.model` (:class:`CircuitModel`),
:mod:`~eis_pipeline.fitting.batch` (:func:`fit_spectra`, :func:`fit_spectra_results`),
:mod:`~eis_pipeline.fitting.chosen` (:class:`ChosenFits`: the circuit chosen per spectrum) and
:mod:`~eis_pipeline.fitting.selection` (:func:`select_circuit`: candidate presets compared by
BIC/AIC per spectrum).
"""

from __future__ import annotations

from eis_pipeline.fitting.batch import SpectraFitResults, fit_spectra, fit_spectra_results
from eis_pipeline.fitting.engine import WEIGHTINGS
from eis_pipeline.fitting.model import CircuitModel, FitResult
from eis_pipeline.fitting.selection import (
    SelectionResult,
    chosen_fits,
    fits_by_circuit,
    select_circuit,
)
from eis_pipeline.fitting.solver import STATUS_MESSAGES, Status

__all__ = ["STATUS_MESSAGES", "WEIGHTINGS", "CircuitModel", "FitResult", "SelectionResult",
           "SpectraFitResults", "Status", "chosen_fits", "fit_spectra", "fit_spectra_results",
           "fits_by_circuit", "select_circuit"]
