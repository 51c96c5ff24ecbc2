"""Starting values for a preset from a spectrum's distribution of relaxation times.

The DRT (:mod:`eis_pipeline.validation.drt`) gives, without any circuit, the series resistance
R_∞, the stray inductance, the blocking-electrode element 1/(Q (jω)^n) and one ``(R, τ)`` per
arc (:func:`~eis_pipeline.validation.drt.suggest_arcs`). A preset's roles (docs/contracts.md)
say which element each of these belongs to; an R‖CPE arc with a guessed exponent n gets
``Q = τ^n / R`` (its apex is at ω = (R Q)^(-1/n) = 1/τ, PHYSICS.md section 3).

Used by :func:`eis_pipeline.fitting.selection.select_circuit` as a second start where the
fitter's own data-driven starts did not converge.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from eis_pipeline.circuits import compile_circuit, get_preset

__all__ = ["DEFAULT_ARC_EXPONENT", "drt_initial_guess"]

#: Exponent n guessed for every arc's CPE (typical of bulk and grain-boundary arcs).
DEFAULT_ARC_EXPONENT = 0.9
#: Inductance given when the DRT found none (H): small against any stray inductance.
MIN_INDUCTANCE_H = 1e-9


class DrtLike(Protocol):
    """What the seed needs from a :class:`~eis_pipeline.validation.drt.DrtResult`."""

    @property
    def series_resistance_ohm(self) -> float: ...

    @property
    def inductance_h(self) -> float | None: ...

    @property
    def electrode_q(self) -> float | None: ...

    @property
    def electrode_n(self) -> float | None: ...

    @property
    def frequency(self) -> Any: ...

    @property
    def impedance_fit(self) -> Any: ...


def drt_initial_guess(preset: str, result: DrtLike, arcs: list[tuple[float, float]],
                      n_guess: float = DEFAULT_ARC_EXPONENT) -> dict[str, float] | None:
    """Natural starting values for every parameter of ``preset``, or None when the DRT
    cannot supply them (no arc, or one arc and no series resistance for a two-arc preset; an
    element without a role). A two-arc preset seen with one DRT arc gets a bulk arc
    R = R_∞ just above the window; without a DRT electrode element the electrode CPE is
    made ten times the largest |Z| at the lowest frequency.

    Parameters
    ----------
    preset : str
        Preset name (:data:`eis_pipeline.circuits.PRESETS`).
    result : DrtResult
        The spectrum's DRT.
    arcs : list of (R_ohm, tau_s)
        ``suggest_arcs(result)``, sorted by τ.
    n_guess : float
        CPE exponent given to each arc.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> d = SimpleNamespace(series_resistance_ohm=10.0, inductance_h=None,
    ...                     electrode_q=2e-6, electrode_n=0.9, frequency=[1e6, 1.0],
    ...                     impedance_fit=[10.0, 1000.0])
    >>> g = drt_initial_guess("single-arc-electrode", d, [(1000.0, 1e-4)], n_guess=1.0)
    >>> g["R1"], round(g["CPE1_0"], 12), g["CPE2_0"]
    (1010.0, 9.901e-08, 2e-06)
    """

    p = get_preset(preset)
    names = compile_circuit(p.circuit).param_names
    roles = p.roles
    r_inf = max(float(result.series_resistance_ohm), 0.0)
    if not arcs:
        return None
    omega = 2 * np.pi * np.asarray(result.frequency, dtype=np.float64)
    guess: dict[str, float] = {}
    arc_roles = [r for r in ("bulk", "grain_boundary") if "cpe" in roles.get(r, {})]
    if len(arcs) < len(arc_roles):
        if len(arcs) != 1 or r_inf <= 0:
            return None
        # one visible arc for a two-arc circuit: the other is the bulk arc above the window,
        # R_bulk = R_∞ with its apex a decade above ω_max
        arcs = [(r_inf, 0.1 / float(omega.max())), *arcs]
    # the largest arcs, kept in τ order: bulk (small τ) first, grain boundary second
    largest = sorted(sorted(arcs, key=lambda a: -a[0])[:len(arc_roles)], key=lambda a: a[1])
    has_series_r = bool(p.bulk_from_intercept)
    for role, (r, tau) in zip(arc_roles, largest, strict=True):
        if len(arc_roles) == 1 and not has_series_r:
            # one arc and no series resistance: the arc carries R_∞ and every relaxation
            r = r_inf + sum(a[0] for a in arcs)
        guess[roles[role]["resistance"]] = r
        cpe = roles[role]["cpe"]
        guess[f"{cpe}_0"] = tau**n_guess / r
        guess[f"{cpe}_1"] = n_guess
    if has_series_r:
        guess[roles["bulk"]["resistance"]] = max(r_inf, 1e-3 * sum(a[0] for a in arcs))
    electrode = roles.get("electrode", {}).get("cpe")
    if electrode:
        if result.electrode_q is not None and result.electrode_n is not None:
            q, n = float(result.electrode_q), float(np.clip(result.electrode_n, 0.3, 1.0))
        else:
            # no spike in the window: an electrode CPE whose impedance at ω_min is ten times
            # the largest |Z|, so that it barely shows
            n = n_guess
            z_max = float(np.max(np.abs(np.asarray(result.impedance_fit))))
            q = 1.0 / (10.0 * z_max * float(omega.min()) ** n)
        guess[f"{electrode}_0"] = q
        guess[f"{electrode}_1"] = n
    inductor = roles.get("inductance", {}).get("inductor")
    if inductor:
        guess[inductor] = max(float(result.inductance_h or 0.0), MIN_INDUCTANCE_H)
    if set(guess) != set(names):
        return None
    return {n: guess[n] for n in names}
