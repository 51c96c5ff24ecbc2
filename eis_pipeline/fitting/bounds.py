"""Per-spectrum box constraints of a fit, and which parameters end on them.

On top of the user's bounds, log parameters get safeguards (:func:`row_bounds`); a
parameter the solver leaves on any bound it used is reported (:func:`at_bound`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from eis_pipeline.fitting.transforms import ParameterSpace

__all__ = ["AT_BOUND_TOL", "INDUCTANCE_FLOOR", "RESISTANCE_FLOOR", "SAFETY_FACTOR", "at_bound",
           "expand_bounds", "on_bounds", "row_bounds"]

Array = NDArray[np.float64]
CArray = NDArray[np.complex128]


Pair = tuple[float | None, float | None]


def _kind_key(name: str) -> str:
    """The element-type key of a parameter name: ``"R1" -> "R"``, ``"CPE1_1" -> "CPE_1"``."""
    base, sep, suffix = name.partition("_")
    return base.rstrip("0123456789") + sep + suffix


def expand_bounds(names: Sequence[str], bounds: Mapping[str, Pair] | None) -> dict[str, Pair]:
    """Per-parameter bounds from bounds given per parameter and/or per element type.

    A key that is not a parameter name but an element type applies to every parameter of
    that type: ``"R"`` to every resistance, ``"CPE_1"`` to every CPE exponent (the parameter
    suffix as in the names, ``CPE1_1``). A per-parameter entry overrides its type's. Keys
    matching neither stay as given (ParameterSpace.build names them in its error).

    >>> expand_bounds(["R1", "CPE1_0", "CPE1_1", "R2"], {"R": (1e-3, 1e10), "R2": (1, 2),
    ...                                                  "CPE_1": (0.5, 1)})
    {'R1': (0.001, 10000000000.0), 'CPE1_1': (0.5, 1), 'R2': (1, 2)}
    """
    if not bounds:
        return {}
    names = list(names)
    by_kind: dict[str, list[str]] = {}
    for n in names:
        by_kind.setdefault(_kind_key(n), []).append(n)
    out: dict[str, Pair] = {}
    for key, pair in bounds.items():
        if key not in names and key in by_kind:
            for n in by_kind[key]:
                out[n] = pair
    for key, pair in bounds.items():
        if key in names or key not in by_kind:
            out[key] = pair
    return {n: out[n] for n in names if n in out} | {k: v for k, v in out.items()
                                                    if k not in names}


#: Log parameters stay within this factor of their data-driven value (see row_bounds).
SAFETY_FACTOR = 1e10
#: An inductance whose reactance at the top frequency is below this fraction of |Z| there
#: is not measurable.
INDUCTANCE_FLOOR = 1e-6
#: A resistance below this fraction of the smallest |Z| is not measurable.
RESISTANCE_FLOOR = 1e-6


def row_bounds(space: ParameterSpace, frequency: Array, impedance: CArray, starts: Array,
               u_start: Array | None = None) -> tuple[Array, Array]:
    """Per-spectrum box constraints (S, Pf) in internal coordinates.

    On top of the user's bounds, two safeguards for log parameters, which would otherwise
    drift without limit where the data stop constraining them:

    - an inductance gets the floor ``1e-6 |Z(f_max)| / ω_max`` and a resistance the floor
      ``1e-6 min|Z|``, below which they change the model by less than a part per million
      (or, in parallel, short everything); with a finite floor the projected solver can
      leave it again when the gradient turns, whereas in pure log space a collapsed L has a
      vanishing gradient and is trapped;
    - every log parameter stays within a factor 1e10 of an anchor start, so a degenerate
      direction (an R shorted by its CPE) ends at a finite value instead of overflowing. A
      meaningful fit never comes near either limit. The anchor is the data-driven start,
      not the τ search's: that one can give an element the data barely show a negligible
      amplitude, and a box around it excludes the value the data have (docs/fitting.md).

    ``u_start`` (S, Pf), when given, is the anchor start in internal coordinates (the
    engine passes the data-driven one); by default the first of ``starts``.
    """
    ulo, uhi = space.internal_bounds()
    log = space.log_free
    if u_start is None:
        u_start = space.to_internal(starts[:, 0, :])
    span = np.log(SAFETY_FACTOR)
    lo = np.where(log, np.maximum(ulo, u_start - span), ulo)
    hi = np.where(log, np.minimum(uhi, u_start + span), uhi)
    s = frequency.shape[0]
    if np.isfinite(frequency).all():   # no padding: the plain reductions are much cheaper
        f_top = frequency.max(axis=1)
        i_top = frequency.argmax(axis=1)
        z_min = np.abs(impedance).min(axis=1)
    else:
        f_top = np.nanmax(frequency, axis=1)
        i_top = np.nanargmax(frequency, axis=1)
        z_min = np.nanmin(np.abs(impedance), axis=1)
    floors: dict[str, Array] = {}
    for j, kind in _floored(space):
        if kind not in floors:
            floors[kind] = (np.log(INDUCTANCE_FLOOR * np.abs(impedance[np.arange(s), i_top])
                                   / (2 * np.pi * f_top)) if kind == "L"
                            else np.log(RESISTANCE_FLOOR * z_min))
        lo[:, j] = np.maximum(lo[:, j], np.minimum(floors[kind], hi[:, j] - 1.0))
    # an explicit user bound replaces the safeguard on its side
    lo = np.where(np.isfinite(ulo), ulo, lo)
    hi = np.where(np.isfinite(uhi), uhi, hi)
    hi = np.maximum(hi, lo + 1e-12)
    return lo, hi


@lru_cache(maxsize=64)
def _floored(space: ParameterSpace) -> tuple[tuple[int, str], ...]:
    """(free index, "L" or "R") of the log-space inductances and resistances."""
    return tuple((j, kind) for j, i in enumerate(space.free)
                 if space.log_free[j]
                 and (kind := space.names[i].rstrip("0123456789")) in ("L", "R"))


#: A parameter within this distance (internal units, relative beyond 1) of a bound is on it.
#: The solver's projection puts a pinned parameter exactly on the bound; the tolerance only
#: absorbs round-off.
AT_BOUND_TOL = 1e-9


def on_bounds(u: Array, lo: Array, hi: Array) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Which internal values ``u`` lie on their lower and their upper bound (within
    :data:`AT_BOUND_TOL`); an open side (±inf) is never reached."""
    with np.errstate(invalid="ignore"):   # ±inf + inf: NaN, which compares False
        return (u <= lo + AT_BOUND_TOL * np.maximum(1.0, np.abs(lo)),
                u >= hi - AT_BOUND_TOL * np.maximum(1.0, np.abs(hi)))


def at_bound(space: ParameterSpace, u: Array, lo: Array, hi: Array) -> NDArray[np.bool_]:
    """(S, P): free parameters whose internal value ``u`` (S, Pf) lies on a bound the solver
    used, ``lo``/``hi`` (S, Pf) from :func:`row_bounds` (user bound or safeguard).

    A CPE exponent at its physical limit n = 1 is an ideal capacitor, an ordinary result,
    so that side counts only when the user set an upper bound below 1. Fixed parameters are
    never at a bound.
    """
    on_lo, on_hi = on_bounds(u, lo, hi)
    on = on_lo | (on_hi & ~(_exponents(space) & (hi >= 1.0)))
    out = np.zeros((u.shape[0], space.n_params), dtype=bool)
    out[:, space.free] = on
    return out


@lru_cache(maxsize=64)
def _exponents(space: ParameterSpace) -> NDArray[np.bool_]:
    """True for each free parameter that is a CPE exponent."""
    return np.array([space.kinds[i] == "exponent" for i in space.free], dtype=bool)
