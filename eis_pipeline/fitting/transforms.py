"""Map natural circuit parameters to the solver's internal coordinates and back.

The solver works on the *free* parameters only, in coordinates where a unit step means the
same thing for every parameter:

- ``positive`` parameters (R, Q, C, L, ...) are fitted as ``u = ln p``: a step is a relative
  change, so a 5 Ω bulk resistance and a 1e-11 F s^(n-1) CPE prefactor are equally scaled and
  can never go negative;
- ``exponent`` parameters (CPE n) are fitted as ``u = n`` with box constraints ``[1e-6, 1]``;
- ``real`` parameters are fitted as ``u = p``.

User bounds become box constraints on ``u`` (log bounds for positive parameters). Bounds are
enforced by the solver's projection rather than by a sigmoid-like transform, because a smooth
transform can only approach a bound asymptotically: a bulk CPE with true n = 1 (an ideal
capacitor, common in practice) would then be reached only with an infinite internal value and a
vanishing gradient, so the solver would crawl. With projection n = 1 is an ordinary point.

Fixed parameters (``constants``) are removed from the free vector and re-inserted with their
value on the way back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from eis_pipeline.exceptions import FitError
from eis_pipeline.fitting.memo import Recent

__all__ = ["EXPONENT_LOWER", "ParameterSpace"]

#: Smallest CPE exponent allowed: n = 0 would turn the CPE into a resistor and make Q and n
#: unidentifiable together.
EXPONENT_LOWER = 1e-6

Bounds = Mapping[str, tuple[float | None, float | None]]

#: Spaces built by :meth:`ParameterSpace.build`, by value (a process fits a few circuits).
_SPACES: Recent[ParameterSpace] = Recent(64)


@dataclass(frozen=True, eq=False)
class ParameterSpace:
    """Free/fixed split, bounds and coordinate maps for one circuit's parameters.

    Attributes
    ----------
    names, kinds : tuple of str
        Parameter names (impedance.py's) and kinds (``positive``, ``exponent``, ``real``).
    fixed : ndarray of bool, shape (P,)
        True for parameters held at ``fixed_values``.
    fixed_values : ndarray, shape (P,)
        Value of each fixed parameter (NaN for free ones).
    lower, upper : ndarray, shape (P,)
        Bounds in natural units (``-inf``/``inf`` when unbounded).
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    fixed: NDArray[np.bool_]
    fixed_values: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]

    @classmethod
    def build(cls, names: Sequence[str], kinds: Sequence[str],
              constants: Mapping[str, float] | None = None,
              bounds: Bounds | None = None) -> ParameterSpace:
        """Validate ``constants`` and ``bounds`` against the circuit and build the space.

        Raises
        ------
        FitError
            For an unknown parameter name, a non-finite constant, an empty or inverted
            interval, or a bound outside a parameter's domain (e.g. a negative resistance).

        Examples
        --------
        >>> s = ParameterSpace.build(["R1", "CPE1_0", "CPE1_1"],
        ...                          ["positive", "positive", "exponent"],
        ...                          constants={"CPE1_1": 1.0})
        >>> s.free_names
        ('R1', 'CPE1_0')
        """
        names = tuple(names)
        kinds = tuple(kinds)
        n = len(names)
        index = {name: i for i, name in enumerate(names)}
        known = ", ".join(names)
        lower = np.full(n, -np.inf)
        upper = np.full(n, np.inf)
        for i, kind in enumerate(kinds):
            if kind == "positive":
                lower[i] = 0.0
            elif kind == "exponent":
                lower[i], upper[i] = EXPONENT_LOWER, 1.0
            elif kind != "real":
                raise FitError(f"parameter {names[i]!r} has unknown kind {kind!r}; expected "
                               "'positive', 'exponent' or 'real'")
        for name, pair in (bounds or {}).items():
            if name not in index:
                raise FitError(f"bounds given for unknown parameter {name!r}; the circuit's "
                               f"parameters are {known}")
            try:
                lo, hi = pair
            except (TypeError, ValueError):
                raise FitError(f"bounds[{name!r}] must be a pair (lower, upper), "
                               f"got {pair!r}") from None
            i = index[name]
            if lo is not None:
                if kinds[i] in ("positive", "exponent") and lo < lower[i]:
                    raise FitError(f"lower bound {lo!r} for {name} is outside its domain "
                                   f"({kinds[i]} parameter, >= {lower[i]:g}); raise it")
                lower[i] = float(lo)
            if hi is not None:
                if kinds[i] == "exponent" and hi > 1.0:
                    raise FitError(f"upper bound {hi!r} for CPE exponent {name} exceeds 1; "
                                   "a CPE exponent lies in (0, 1]")
                upper[i] = float(hi)
            if not lower[i] < upper[i]:
                raise FitError(f"bounds for {name} are empty or inverted: "
                               f"({lower[i]!r}, {upper[i]!r}); need lower < upper")
        fixed = np.zeros(n, dtype=bool)
        fixed_values = np.full(n, np.nan)
        for name, value in (constants or {}).items():
            if name not in index:
                raise FitError(f"constant given for unknown parameter {name!r}; the circuit's "
                               f"parameters are {known}")
            v = float(value)
            i = index[name]
            if not np.isfinite(v) or (kinds[i] == "positive" and v <= 0):
                raise FitError(f"constant {name} = {value!r} is not a valid "
                               f"{kinds[i]} value")
            fixed[i] = True
            fixed_values[i] = v
        if fixed.all():
            raise FitError("every parameter is held constant: nothing left to fit")
        # One object per distinct space: what fitting derives from a space (its canonical
        # spelling, arc table, swap plan: memo.by_identity) is then found again by the next
        # fit_spectra call of the same circuit and settings, not rebuilt per batch. The
        # arrays are shared, so they are made read-only.
        def make() -> ParameterSpace:
            for a in (fixed, fixed_values, lower, upper):
                a.flags.writeable = False
            return cls(names, kinds, fixed, fixed_values, lower, upper)

        return _SPACES.get((cls, names, kinds, fixed.tobytes(), fixed_values.tobytes(),
                            lower.tobytes(), upper.tobytes()), make)

    # -- shape information -------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        """Number of circuit parameters P."""
        return len(self.names)

    @cached_property
    def free(self) -> NDArray[np.intp]:
        """Indices of the free parameters."""
        return np.flatnonzero(~self.fixed)

    @property
    def free_names(self) -> tuple[str, ...]:
        """Names of the free parameters, in circuit order."""
        return tuple(self.names[i] for i in self.free)

    @cached_property
    def fixed_split(self) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Indices of the fixed parameters and their values."""
        index = np.flatnonzero(self.fixed)
        return index, self.fixed_values[index]

    @cached_property
    def _log(self) -> NDArray[np.bool_]:
        return np.array([self.kinds[i] == "positive" for i in self.free], dtype=bool)

    @property
    def log_free(self) -> NDArray[np.bool_]:
        """True for each free parameter fitted in log space (kind ``positive``)."""
        return self._log

    @cached_property
    def _internal_bounds(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        lo = self.lower[self.free].copy()
        hi = self.upper[self.free].copy()
        log = self._log
        with np.errstate(divide="ignore"):
            lo[log] = np.log(lo[log])   # log(0) = -inf: unbounded below, as intended
            hi[log] = np.log(hi[log])
        lo.flags.writeable = False
        hi.flags.writeable = False
        return lo, hi

    # -- maps --------------------------------------------------------------------------------
    def internal_bounds(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Box constraints on the internal coordinates of the free parameters (copies)."""
        lo, hi = self._internal_bounds
        return lo.copy(), hi.copy()

    def to_internal(self, params: Any) -> NDArray[np.float64]:
        """Natural parameters (..., P) -> internal free coordinates (..., Pf), clipped to bounds.

        Starting values on or beyond a bound are moved just inside it so the solver starts
        from a feasible point.
        """
        p = np.asarray(params, dtype=np.float64)
        if self.free.size < self.n_params:
            p = p[..., self.free]
        log = self._log
        positive_start, finite_start = self._replacement_starts
        # keep positive starts strictly positive before taking logs
        p = np.where(log & ~(p > 0), positive_start, p)
        p = np.where(np.isfinite(p), p, finite_start)
        u = np.where(log, np.log(np.where(log, p, 1.0)), p)
        lo, hi = self._internal_bounds
        return np.minimum(np.maximum(u, lo), hi)   # np.clip, without its call overhead

    @cached_property
    def _replacement_starts(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Values replacing a non-positive start of a log parameter, and a non-finite start."""
        lo_nat = self.lower[self.free]
        hi_nat = self.upper[self.free]
        positive = np.maximum(lo_nat, 1e-300) * 10.0
        finite = np.where(self._log, 1.0, 0.5 * (np.clip(lo_nat, -1, 1) + np.clip(hi_nat, -1, 1)))
        return positive, finite

    def to_natural(self, u: Any) -> NDArray[np.float64]:
        """Internal free coordinates (B, Pf) -> natural parameters (B, P), fixed ones filled."""
        u = np.asarray(u, dtype=np.float64)
        log = self._log
        free = np.where(log, np.exp(np.where(log, u, 0.0)), u)
        if self.free.size == self.n_params:   # nothing fixed: a fresh array already
            return np.asarray(free)
        out = np.empty((*u.shape[:-1], self.n_params))
        out[..., self.fixed] = self.fixed_values[self.fixed]
        out[..., self.free] = free
        return out

    def natural_derivative(self, u: Any) -> NDArray[np.float64]:
        """d p_free / d u for each free parameter, shape like ``u`` (p for log, 1 otherwise)."""
        u = np.asarray(u, dtype=np.float64)
        log = self._log
        return np.where(log, np.exp(np.where(log, u, 0.0)), 1.0)
