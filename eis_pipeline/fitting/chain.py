"""Warm starts chained along a temperature series (``fit_spectra(..., chain="temperature")``).

Neighbouring temperatures of one pellet have nearly the same circuit: the arcs move in
frequency, the exponents and capacitances barely change. So after every spectrum has been
fitted from its own data, the spectra are refitted one after another in temperature order,
each from the fitted parameters of the one before it (its neighbour's result, itself already
the better of the two), and the better fit of the two (lower cost) is kept. Each spectrum
thereby reaches at least the optimum of its independent fit. The pass is sequential by
nature: one small fit per spectrum after the batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from eis_pipeline.fitting.engine import BatchFit

__all__ = ["CHAIN_NOTE", "chain_fits"]

#: Appended to the message of a spectrum whose kept fit started from its neighbour's.
CHAIN_NOTE = " (started from the fit at the neighbouring temperature)"

#: Fields of a BatchFit with one row per spectrum.
_ROW_FIELDS = ("params", "stderr", "covariance", "correlation", "status", "cost",
               "chi_square", "reduced_chi_square", "aic", "bic", "n_points", "n_iterations",
               "impedance_fit", "residuals", "swapped", "at_bound")


def chain_fits(fit: BatchFit, order: NDArray[np.intp],
               refit: Callable[[int, NDArray[np.float64]], BatchFit]) -> BatchFit:
    """``fit`` (S spectra fitted independently) improved along ``order`` (row indices in
    temperature order): row ``order[k]`` is refitted by ``refit(row, start)`` from the kept
    parameters of row ``order[k-1]``, and the refit kept where its cost is lower.

    Evaluations of both fits count in ``nfev``. Returns a new BatchFit.
    """
    out = dataclasses.replace(fit, **{name: np.array(getattr(fit, name), copy=True)
                                      for name in (*_ROW_FIELDS, "nfev")},
                              messages=list(fit.messages))
    for prev, row in zip(order[:-1].tolist(), order[1:].tolist(), strict=True):
        start = out.params[prev]
        if not np.isfinite(start).all():
            continue
        one = refit(row, start)
        out.nfev[row] += int(one.nfev[0])
        if np.isfinite(one.cost[0]) and one.cost[0] < out.cost[row]:
            for name in _ROW_FIELDS:
                getattr(out, name)[row] = getattr(one, name)[0]
            out.messages[row] = one.messages[0] + CHAIN_NOTE
    return out
