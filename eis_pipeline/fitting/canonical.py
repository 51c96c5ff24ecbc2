"""Fit any spelling of a circuit in its canonical spelling, and map the result back.

Two spellings of one circuit (renamed, reordered, CDC) reach the solver with the parameters
in one order under one set of names (:func:`eis_pipeline.circuits.canonical.canonical_form`),
so their fits are the same arithmetic and give identical numbers; only the labels of the
result are the user's. A user's own circuit object without a tree is fitted as given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from eis_pipeline.circuits import compile_circuit
from eis_pipeline.circuits.canonical import canonical_form
from eis_pipeline.fitting.engine import BatchFit, CompiledLike, fit_arrays
from eis_pipeline.fitting.structure import rename_roles
from eis_pipeline.fitting.transforms import ParameterSpace

__all__ = ["fit_canonical"]

Roles = Mapping[str, Mapping[str, str]]


def fit_canonical(compiled: CompiledLike, frequency: NDArray[np.float64],
                  impedance: NDArray[np.complex128], *, space: ParameterSpace,
                  initial_guess: NDArray[np.float64] | None = None,
                  roles: Roles | None = None, bulk_from_intercept: bool = False,
                  **options: Any) -> BatchFit:
    """:func:`~eis_pipeline.fitting.engine.fit_arrays` in the circuit's canonical spelling.

    ``space``, ``initial_guess`` and ``roles`` are in the user's names and order, and so is
    the result; ``options`` go to ``fit_arrays`` unchanged.
    """
    ast = getattr(compiled, "ast", None)
    if ast is None:
        return fit_arrays(compiled, frequency, impedance, space=space,
                          initial_guess=initial_guess, roles=roles,
                          bulk_from_intercept=bulk_from_intercept, **options)
    form = canonical_form(ast)
    canon = compile_circuit(form.circuit)
    order = np.asarray(form.param_order, dtype=np.intp)
    space_c = ParameterSpace(canon.param_names, tuple(space.kinds[i] for i in order),
                             space.fixed[order], space.fixed_values[order],
                             space.lower[order], space.upper[order])
    guess = None if initial_guess is None else np.asarray(initial_guess)[..., order]
    fit = fit_arrays(canon, frequency, impedance, space=space_c, initial_guess=guess,
                     roles=rename_roles(roles or {}, form.element_names),
                     bulk_from_intercept=bulk_from_intercept, **options)
    if form.is_identity:
        return fit
    back = np.argsort(order)
    return dataclasses.replace(
        fit, params=fit.params[:, back], stderr=fit.stderr[:, back],
        covariance=fit.covariance[:, back][:, :, back],
        correlation=fit.correlation[:, back][:, :, back], at_bound=fit.at_bound[:, back])
