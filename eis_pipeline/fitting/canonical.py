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
from eis_pipeline.fitting.memo import by_identity
from eis_pipeline.fitting.structure import rename_roles
from eis_pipeline.fitting.transforms import ParameterSpace

__all__ = ["fit_canonical"]

Roles = Mapping[str, Mapping[str, str]]


def _canonical(ast: Any, space: ParameterSpace, roles: Roles | None
               ) -> tuple[CompiledLike, ParameterSpace, Roles, NDArray[np.intp], bool]:
    """The canonical circuit, ``space`` and ``roles`` in its order and names, the order
    (canonical position -> the user's) and whether it is the user's own."""
    form = canonical_form(ast)
    order = np.asarray(form.param_order, dtype=np.intp)
    space_c = ParameterSpace(compile_circuit(form.circuit).param_names,
                             tuple(space.kinds[i] for i in order), space.fixed[order],
                             space.fixed_values[order], space.lower[order], space.upper[order])
    return (compile_circuit(form.circuit), space_c,
            rename_roles(roles or {}, form.element_names), order, form.is_identity)


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
    canon, space_c, roles_c, order, identity = by_identity(
        "canonical", (compiled, space, roles), lambda: _canonical(ast, space, roles))
    guess = None if initial_guess is None else np.asarray(initial_guess)[..., order]
    fit = fit_arrays(canon, frequency, impedance, space=space_c, initial_guess=guess,
                     roles=roles_c, bulk_from_intercept=bulk_from_intercept, **options)
    if identity:
        return fit
    back = np.argsort(order)
    return dataclasses.replace(
        fit, params=fit.params[:, back], stderr=fit.stderr[:, back],
        covariance=fit.covariance[:, back][:, :, back],
        correlation=fit.correlation[:, back][:, :, back], at_bound=fit.at_bound[:, back])
