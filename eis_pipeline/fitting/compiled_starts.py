"""Optional numba-compiled starting points of one spectrum for a preset with roles.

:func:`eis_pipeline.fitting.initial.initial_guesses` builds the starts of many spectra at once
in numpy; for one spectrum (every :class:`~eis_pipeline.fitting.model.CircuitModel` fit) that
is ~150 small numpy calls, a third of the fit's time. With numba installed the same
arithmetic runs here as one compiled loop (:func:`_start_kernels.role_starts`, checked
against the numpy version by tests/fitting/test_compiled_starts.py). A preset's roles become
column indices once per circuit (:func:`_plan`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from eis_pipeline.fitting import compiled_lm

__all__ = ["role_starts"]

Array = NDArray[np.float64]
RolesKey = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


@dataclass(frozen=True)
class _Plan:
    """Column indices the kernel writes (-1: absent)."""

    n_params: int
    inductance: int
    series_resistance: int
    electrode: NDArray[np.int64]   # (Q, n, capacitor)
    arcs: NDArray[np.int64]        # rows (R, Q, n, capacitor)
    n_arcs: int


@lru_cache(maxsize=64)
def _plan(names: tuple[str, ...], roles: RolesKey, bulk_from_intercept: bool) -> _Plan:
    """The roles of :func:`initial._from_roles` as column indices of ``names``."""
    index = {n: i for i, n in enumerate(names)}
    by_role = {role: dict(elements) for role, elements in roles}

    def col(name: str | None) -> int:
        return index.get(name, -1) if name is not None else -1

    bulk = by_role.get("bulk", {})
    elec = by_role.get("electrode", {})
    series = bulk_from_intercept and bulk.get("resistance") in index
    cpe = elec.get("cpe")
    electrode = ([col(f"{cpe}_0"), col(f"{cpe}_1"), -1] if cpe is not None
                 else [-1, -1, col(elec.get("capacitor"))])
    arcs = []
    for name in ("bulk", "grain_boundary"):
        role = by_role.get(name, {})
        if (role.get("resistance") in index
                and (role.get("cpe") or role.get("capacitor")) is not None
                and not (name == "bulk" and series)):
            q = role.get("cpe")
            has_q = q is not None and f"{q}_0" in index
            arcs.append([index[role["resistance"]], col(f"{q}_0") if has_q else -1,
                         col(f"{q}_1") if has_q else -1, col(role.get("capacitor"))])
    n_arcs = len(arcs)
    arcs += [[-1, -1, -1, -1]] * (2 - n_arcs)
    return _Plan(len(names), col(by_role.get("inductance", {}).get("inductor")),
                 index[bulk["resistance"]] if series else -1,
                 np.array(electrode, dtype=np.int64), np.array(arcs, dtype=np.int64), n_arcs)


def role_starts(frequency: Array, impedance: NDArray[np.complex128], names: Sequence[str],
                roles: Mapping[str, Mapping[str, str]],
                bulk_from_intercept: bool) -> Array | None:
    """:func:`~eis_pipeline.fitting.initial.initial_guesses` of one spectrum (N,), shape
    (N_STARTS, P); None when the compiled path is off, the data have non-finite values, or
    the roles leave a parameter for the generic guess (the numpy path then runs)."""
    if not compiled_lm.ENABLED:
        return None
    kernels = compiled_lm.load_kernels("_start_kernels")
    if kernels is None or not (np.isfinite(frequency).all() and np.isfinite(impedance).all()):
        return None
    from eis_pipeline.fitting.initial import HF_EXPONENTS

    plan = _plan(tuple(names), tuple((r, tuple(e.items())) for r, e in roles.items()),
                 bulk_from_intercept)
    if frequency.size > 1 and not (frequency[:-1] > frequency[1:]).all():
        order = np.argsort(-frequency, kind="stable")   # decreasing frequency, as initial.py
        frequency, impedance = frequency[order], impedance[order]
    out, written = kernels.role_starts(
        2 * np.pi * frequency, np.ascontiguousarray(impedance.real),
        np.ascontiguousarray(impedance.imag), plan.n_params, plan.inductance,
        plan.series_resistance, plan.electrode, plan.arcs, plan.n_arcs, HF_EXPONENTS)
    return out if written.all() else None
